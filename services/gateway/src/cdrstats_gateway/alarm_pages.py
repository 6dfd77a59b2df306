"""What the alarm pages show besides the alarm: pickers, owner names, labels, chart data, errors."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import pycountry
from aiohttp import web

from cdrstats_common import q850
from cdrstats_gateway import keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import alarms
from cdrstats_gateway.domain.alarms import Alarm, Evaluation
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.views_cdrs import local_time

MAX_CUSTOMERS = 1000
MESSAGES = {
    "created": "Alarm created.",
    "saved": "Alarm saved.",
    "deleted": "Alarm deleted.",
    "enabled": "Alarm enabled.",
    "disabled": "Alarm disabled.",
}


@functools.cache
def countries() -> tuple[tuple[str, str], ...]:
    found = ((c.alpha_2, str(getattr(c, "common_name", c.name))) for c in pycountry.countries)
    return tuple(sorted(found, key=lambda pair: pair[1]))


def labels() -> dict[str, Any]:
    """Names every alarm template uses (one place, so the list, form and detail read alike)."""
    return {
        "metrics": alarms.METRICS,
        "windows": alarms.WINDOWS,
        "conditions": alarms.CONDITIONS,
        "relative": alarms.RELATIVE,
        "baselines": alarms.BASELINES,
        "scope_kinds": alarms.SCOPE_KINDS,
        "verdicts": alarms.VERDICTS,
        "describe": alarms.describe,
        "scope_text": alarms.scope_text,
        "unit": alarms.unit,
        "when": lambda time_us, zone: local_time(time_us, zone) if time_us else "never",
        "when_short": lambda time_us, zone: local_time(time_us, zone)[:16] if time_us else "never",
        "amount": alarms.amount,
        "cause_name": q850.cause_name,
        "last_result": last_result,
    }


#: alerting's reason for an "insufficient" verdict when the window had too few attempts
_TOO_FEW = re.compile(r"(\d+) attempts, fewer than the minimum (\d+)")


@dataclasses.dataclass(frozen=True)
class LastResult:
    """What the alarm list shows as its last value: ``kind`` is value, never, insufficient or error."""

    text: str
    kind: str


def last_result(alarm: Alarm) -> LastResult:
    """A value only when the last evaluation measured one: "—" before the first, "too few calls (16 of 20)"
    when the window had too few attempts, the error when reporting failed (never a false "0 %")."""
    if not alarm.last_evaluated_us:
        return LastResult("—", "never")
    verdict = alarm.last_verdict
    if verdict in ("ok", "breach", ""):  # "": evaluated by an alerting that did not keep the verdict yet
        return LastResult(f"{alarms.amount(alarm.last_value)} {alarms.unit(alarm.metric)}".strip(), "value")
    reason = alarm.last_message.partition(f": {verdict}: ")[2] or alarm.last_message
    if verdict == "insufficient":
        too_few = _TOO_FEW.search(reason)
        if too_few:
            return LastResult(f"too few calls ({too_few[1]} of {too_few[2]})", verdict)
        return LastResult(f"no value: {reason}" if reason else "no value", verdict)
    return LastResult(reason or "the evaluation failed", "error")


async def owner_names(request: web.Request) -> dict[str, str]:
    """Tenant id -> customer name, so admins read "Acme" rather than "customer:3"."""
    store = request.app[keys.STORE]
    customers = await asyncio.to_thread(lambda: store.list_customers(limit=MAX_CUSTOMERS))
    return {alarms.tenant_of(c.id): c.name for c in customers}


async def pickers(request: web.Request, user: User, alarm: Alarm) -> dict[str, Any]:
    """Choices for the scope value: switches, account codes (a customer's own; admins: any), countries."""
    try:
        switches = [(s.id, s.name) for s in await request.app[keys.SERVICES].switches()]
        switches_error = ""
    except ServiceError as exc:
        switches, switches_error = [], exc.message
    if alarm.scope_kind == "switch" and alarm.scope_value and alarm.scope_value not in {s for s, _ in switches}:
        switches.append((alarm.scope_value, alarm.scope_value))
    if user.is_admin:
        store = request.app[keys.STORE]
        customers = await asyncio.to_thread(lambda: store.list_customers(limit=MAX_CUSTOMERS))
        codes = sorted({code for c in customers for code in c.accountcodes})
    else:
        codes = sorted(user.accountcodes)
    causes = sorted(q850.Q850.items())
    if alarm.hangup_cause and alarm.hangup_cause not in q850.Q850:
        causes.append((alarm.hangup_cause, q850.cause_name(alarm.hangup_cause)))
    return {
        "switch_choices": switches,
        "switches_error": switches_error,
        "accountcode_choices": codes,
        "free_accountcode": user.is_admin,
        "country_choices": countries(),
        "cause_choices": causes,
    }


def draft_from_form(form: Mapping[str, Any], base: Alarm) -> Alarm:
    """What the user typed, field by field, for showing the form again after an error."""
    values: dict[str, Any] = {}
    for name in ("name", "metric", "window", "condition", "baseline", "scope_kind"):
        values[name] = str(form.get(name, getattr(base, name)))[:200]
    kind = values["scope_kind"]
    values["scope_value"] = str(form.get(f"scope_value_{kind}", ""))[:200]
    for name, convert in (("threshold", float), ("min_attempts", int), ("hangup_cause", int)):
        with contextlib.suppress(ValueError):
            values[name] = convert(str(form.get(name, "")).strip())
    with contextlib.suppress(ValueError):
        values["cooldown_s"] = int(str(form.get("cooldown_min", "")).strip()) * 60
    values["enabled"] = form.get("enabled") == "on"
    for name in ("emails", "webhooks"):
        values[name] = alarms.split_list(str(form.get(name, "")))[: alarms.MAX_RECIPIENTS]
    return dataclasses.replace(base, **values)


def errors_for(field: str, text: str) -> dict[str, Any]:
    """A message next to the field it names, and a summary above the form."""
    if not field:
        return {"error": text}
    return {"error": "The alarm was not saved: correct the marked field.", "field_errors": {field: text}}


def trigger_level(alarm: Alarm, baseline: float | None, threshold: float) -> float | None:
    """The value at which the condition starts to hold (for the chart's threshold line)."""
    if alarm.condition in ("lt", "gt"):
        return threshold
    if baseline is None:
        return None
    return {
        "falls_by": baseline - threshold,
        "rises_by": baseline + threshold,
        "falls_by_pct": baseline * (1 - threshold / 100),
        "rises_by_pct": baseline * (1 + threshold / 100),
    }.get(alarm.condition)


def chart_data(alarm: Alarm, history: list[Evaluation], zone: str) -> dict[str, Any]:
    """Oldest first: value, trigger level, baseline per evaluation, and the FIRING periods as [start, end]."""
    points = []
    firing: list[list[int]] = []
    for e in reversed(history):
        t = e.time_us // 1000
        points.append(
            {
                "t": t,
                "value": None if e.verdict == "error" else round(e.value, 4),
                "level": trigger_level(alarm, e.baseline, e.threshold),
                "baseline": e.baseline,
                "verdict": e.verdict,
                "state": e.state_after,
            }
        )
        is_open = bool(firing) and firing[-1][1] == -1
        if e.state_after == "FIRING" and not is_open:
            firing.append([t, -1])
        elif e.state_after != "FIRING" and is_open:
            firing[-1][1] = t
    if firing and firing[-1][1] == -1:
        firing[-1][1] = history[0].time_us // 1000  # still firing at the newest evaluation
    return {
        "points": points,
        "firing": firing,
        "zone": zone,
        "unit": alarms.METRICS.get(alarm.metric, ("", ""))[1],
        "metric": alarms.SHORT_METRIC.get(alarm.metric, alarm.metric),
        "relative": alarm.condition in alarms.RELATIVE,
    }


def cdr_link(request: web.Request, alarm: Alarm, history: list[Evaluation]) -> str:
    """The CDR search of the newest evaluation's window, else of the alarm's scope."""
    for e in history:
        if e.link:
            return e.link
    params = {"switch": "switch", "accountcode": "accountcode", "country": "country", "prefix": "prefix"}
    query = {params[alarm.scope_kind]: alarm.scope_value} if alarm.scope_kind in params else {}
    base = str(request.app.router["cdrs"].url_for())
    return f"{base}?{urlencode(query)}" if query else base
