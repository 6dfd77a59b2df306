"""Alert events to deliveries: who gets what for ``alarm_triggered`` / ``alarm_cleared`` (the alarm's own
recipients), ``destination_alert`` (the contacts of the matched rule's owner; the installation's also go
to CDRSTATS_ADMIN_EMAILS) and ``worker_task_failed`` (the admins' e-mails).

Coalescing (docs/notify.md): a fraud run can match thousands of calls in minutes. Destination alerts are
grouped by (owner, rule, recipient): at most one message per group every ``COALESCE_WINDOW_US``; hits that
arrive while a message is still unsent are merged into it (counted, the first ``MAX_LISTED_HITS`` listed),
and hits after one was sent go into a follow-up due when the window ends.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cdrstats_notify import rendering
from cdrstats_notify.domain import alert_views
from cdrstats_notify.domain.backoff import US
from cdrstats_notify.domain.deliveries import EMAIL, WEBHOOK, Delivery, is_email, is_webhook_url
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store.deliveries_interface import DeliveryStore

log = logging.getLogger(__name__)

COALESCE_WINDOW_US = 5 * 60 * US
ALARM_EVENTS = ("alarm_triggered", "alarm_cleared")
EVENT_TYPES = (*ALARM_EVENTS, "destination_alert", "worker_task_failed")


class AlertsService:
    def __init__(
        self, store: DeliveryStore, settings: NotifySettings, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.zone = settings.time_zone

    def on_event(self, event_type: str, envelope: Mapping[str, Any]) -> bool:
        """Once per event id: queue the deliveries it asks for. False when seen before.

        A malformed event raises ValueError naming the field (the worker parks it in the dead-letter queue).
        """
        event_id, data = envelope.get("id"), envelope.get("data")
        if not isinstance(event_id, str) or not event_id:
            raise ValueError("id: expected the event id")
        if not isinstance(data, Mapping):
            raise ValueError("data: expected an object")
        now = int(self.clock() * US)
        if event_type in ALARM_EVENTS:
            deliveries = self._alarm(event_type, envelope, data)
        elif event_type == "destination_alert":
            deliveries = self._destination(envelope, data)
            return self._enqueue(deliveries, event_id, now, merge=self.merge_destination)
        elif event_type == "worker_task_failed":
            deliveries = self._worker_failure(envelope, data)
        else:
            raise ValueError(f"event type: expected one of {', '.join(EVENT_TYPES)}, got {event_type!r}")
        return self._enqueue(deliveries, event_id, now)

    def _enqueue(self, deliveries: list[Delivery], event_id: str, now: int, **coalesce: Any) -> bool:
        if not deliveries:
            log.info("event has no recipients", extra={"fields": {"event_id": event_id}})
        window = COALESCE_WINDOW_US if coalesce else 0
        return self.store.enqueue(deliveries, event_id=event_id, now_us=now, window_us=window, **coalesce) is not None

    # -- alarms -----------------------------------------------------------------------------------

    def _alarm(self, event_type: str, envelope: Mapping[str, Any], data: Mapping[str, Any]) -> list[Delivery]:
        mail = rendering.alarm(event_type, data, zone=self.zone, public_url=self.settings.public_url)
        alarm = data["alarm"]
        raw = data.get("recipients")
        recipients: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        common: dict[str, Any] = {
            "owner": str(alarm.get("owner") or ""),
            "kind": event_type,
            "reference": str(envelope["id"]),
        }
        emails, hooks = _valid(recipients.get("emails"), is_email), _valid(recipients.get("webhooks"), is_webhook_url)
        body = rendering.webhook_body(event_type, [rendering.webhook_envelope(envelope)])
        return [
            *(
                Delivery(channel=EMAIL, recipient=to, subject=mail.subject, text=mail.text, html=mail.html, **common)
                for to in emails
            ),
            *(Delivery(channel=WEBHOOK, recipient=url, subject=mail.subject, payload=body, **common) for url in hooks),
        ]

    # -- destination alerts -----------------------------------------------------------------------

    def _destination(self, envelope: Mapping[str, Any], data: Mapping[str, Any]) -> list[Delivery]:
        hit = alert_views.hit_view(data, zone=self.zone, public_url=self.settings.public_url)
        owner = hit["owner"]
        contacts = self.store.get_contacts(owner)
        emails = [*contacts.emails, *(self.settings.admin_emails if not owner else ())]
        context = {"hits": [hit], "count": 1, "events": [rendering.webhook_envelope(envelope)]}
        group = f"destination:{owner}:{hit['rule_id']}"
        common: dict[str, Any] = {
            "owner": owner,
            "kind": "destination_alert",
            "reference": str(envelope["id"]),
            "group": group,
        }
        return [
            *(self._destination_delivery(EMAIL, to, context, common) for to in dict.fromkeys(emails)),
            *(self._destination_delivery(WEBHOOK, url, context, common) for url in contacts.webhooks),
        ]

    def _destination_delivery(self, channel: str, recipient: str, context: dict[str, Any], common: Any) -> Delivery:
        mail = rendering.destination(context["hits"], context["count"], self.zone)
        if channel == EMAIL:
            return Delivery(
                channel=channel,
                recipient=recipient,
                subject=mail.subject,
                text=mail.text,
                html=mail.html,
                context={"hits": context["hits"], "count": context["count"]},
                **common,
            )
        payload = rendering.webhook_body("destination_alert", context["events"], context["count"])
        return Delivery(
            channel=channel, recipient=recipient, subject=mail.subject, payload=payload, context=context, **common
        )

    def merge_destination(self, unsent: Delivery, new: Delivery) -> Delivery:
        """``unsent`` with the hits of ``new`` folded in, rendered again (the store's coalescing hook)."""
        count = int(unsent.context.get("count", unsent.events)) + int(new.context.get("count", new.events))
        hits = [*unsent.context.get("hits", []), *new.context.get("hits", [])][: alert_views.MAX_LISTED_HITS]
        context: dict[str, Any] = {"hits": hits, "count": count}
        if unsent.channel == WEBHOOK:
            events = [*unsent.context.get("events", []), *new.context.get("events", [])]
            context["events"] = events[: rendering.MAX_WEBHOOK_EVENTS]
        merged = self._destination_delivery(
            unsent.channel,
            unsent.recipient,
            context,
            {"owner": unsent.owner, "kind": unsent.kind, "reference": unsent.reference, "group": unsent.group},
        )
        return dataclasses.replace(merged, id=unsent.id, events=count, trace=unsent.trace)

    # -- worker failures --------------------------------------------------------------------------

    def _worker_failure(self, envelope: Mapping[str, Any], data: Mapping[str, Any]) -> list[Delivery]:
        mail = rendering.worker_failure(data, envelope.get("time"), self.zone)
        emails = dict.fromkeys([*self.settings.admin_emails, *self.store.get_contacts("").emails])
        return [
            Delivery(
                owner="",
                channel=EMAIL,
                recipient=to,
                kind="worker_failure",
                reference=str(envelope["id"]),
                subject=mail.subject,
                text=mail.text,
                html=mail.html,
            )
            for to in emails
        ]


def _valid(values: Any, check: Callable[[str], bool]) -> list[str]:
    """The well-formed recipients, de-duplicated; a bad one is logged and skipped (the others still get it)."""
    listed: Iterable[Any] = values if isinstance(values, list | tuple) else ()
    kept = []
    for value in listed:
        if isinstance(value, str) and check(value.strip()):
            kept.append(value.strip())
        else:
            log.warning("recipient skipped", extra={"fields": {"recipient": repr(value)}})
    return list(dict.fromkeys(kept))
