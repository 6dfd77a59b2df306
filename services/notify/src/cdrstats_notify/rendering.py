"""Alert e-mails and webhook bodies from events: jinja2 templates (HTML autoescaped) over the views of
``domain.alert_views``, and the JSON body every webhook POST carries.

Webhook body (all kinds): ``{"kind": ..., "count": n, "events": [<event envelope>, ...]}`` — the events it
reports (at most ``MAX_WEBHOOK_EVENTS``; ``count`` covers all of them when destination alerts were
coalesced). Alarm envelopes are sent without ``data.recipients`` (a receiver need not learn the others).
"""

from __future__ import annotations

import dataclasses
import functools
import html
from collections.abc import Mapping
from typing import Any

import jinja2

from cdrstats_notify.domain import alert_views

MAX_WEBHOOK_EVENTS = 50


@dataclasses.dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@functools.cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("cdrstats_notify", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True, default=False),
        undefined=jinja2.StrictUndefined,  # a template naming a missing field is a bug: fail, don't print ""
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(template: str, subject: str, view: Mapping[str, Any]) -> Rendered:
    env = environment()
    text = env.get_template(f"{template}.txt.j2").render(view)
    body = env.get_template(f"{template}.html.j2").render(view)
    return Rendered(subject, text, body)


def alarm(event_type: str, data: Mapping[str, Any], *, zone: str, public_url: str) -> Rendered:
    view = alert_views.alarm_view(event_type, data, zone=zone, public_url=public_url)
    return render("alarm", alert_views.alarm_subject(view), view)


def destination(hits: list[dict[str, Any]], count: int, zone: str) -> Rendered:
    view = alert_views.destination_view(hits, count, zone)
    return render("destination_alert", alert_views.destination_subject(view), view)


def worker_failure(data: Mapping[str, Any], time: Any, zone: str) -> Rendered:
    view = alert_views.worker_failure_view(data, time, zone)
    return render("worker_failure", alert_views.worker_failure_subject(view), view)


def test_message(owner: str) -> Rendered:
    who = owner or "the installation"
    text = f"This is a test message from CDR-Stats for {who}.\n\nIf you can read it, notifications reach you.\n"
    body = f"<p>This is a test message from CDR-Stats for {html.escape(who)}.</p><p>If you can read it, notifications reach you.</p>"
    return Rendered("[CDR-Stats] Test notification", text, body)


def webhook_envelope(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The event as a webhook receiver gets it: without the other recipients."""
    data = {key: value for key, value in dict(envelope.get("data") or {}).items() if key != "recipients"}
    return {**envelope, "data": data}


def webhook_body(kind: str, events: list[dict[str, Any]], count: int | None = None) -> dict[str, Any]:
    return {"kind": kind, "count": len(events) if count is None else count, "events": events[:MAX_WEBHOOK_EVENTS]}
