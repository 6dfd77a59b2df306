"""What an alert e-mail shows, built from an event's ``data``: numbers formatted with their unit, times in
the reporting zone, links made absolute. Tolerant of missing optional fields (older or newer producers);
the fields an e-mail cannot do without raise ``ValueError`` naming them, so the event is parked, not lost.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from collections.abc import Mapping
from typing import Any

METRIC_LABELS = {
    "asr": "ASR",
    "acd": "ACD",
    "aloc": "ALOC",
    "ner": "NER",
    "cic": "CIC",
    "attempts": "Attempts",
    "minutes": "Minutes",
    "pdd_ms": "PDD",
    "concurrent_peak": "Concurrent calls (peak)",
    "cause_share": "Hang-up cause share",
}
UNITS = {"asr": " %", "ner": " %", "cause_share": " %", "acd": " s", "aloc": " s", "pdd_ms": " ms", "minutes": " min"}
CONDITIONS = {
    "lt": "below",
    "gt": "above",
    "falls_by": "falls by more than",
    "rises_by": "rises by more than",
    "falls_by_pct": "falls by more than (percent of the baseline)",
    "rises_by_pct": "rises by more than (percent of the baseline)",
}
MAX_LISTED_HITS = 20  # calls listed in one destination-alert e-mail; the count covers all of them


def number(value: Any, unit: str = "") -> str:
    """``42.5 %``; ``—`` for a missing value."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "—"
    text = f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"
    return f"{text}{unit}"


def moment(value: Any, zone: str) -> str:
    """An RFC 3339 string or epoch microseconds, as ``2026-11-26 10:00:00`` in ``zone``; "" when absent."""
    when: dt.datetime | None = None
    if isinstance(value, str) and value:
        try:
            when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
    elif isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        when = dt.datetime.fromtimestamp(value / 1_000_000, dt.UTC)
    if when is None:
        return ""
    return when.astimezone(zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def absolute_link(link: Any, public_url: str) -> str:
    text = str(link or "")
    if text.startswith("/") and public_url:
        return public_url.rstrip("/") + text
    return text


def _mapping(data: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    value = data.get(field)
    return value if isinstance(value, Mapping) else {}


def alarm_view(event_type: str, data: Mapping[str, Any], *, zone: str, public_url: str) -> dict[str, Any]:
    """The template context of an ``alarm_triggered`` / ``alarm_cleared`` e-mail."""
    alarm = data.get("alarm")
    if not isinstance(alarm, Mapping) or not alarm.get("id"):
        raise ValueError("data.alarm: expected an object with an id")
    metric = str(alarm.get("metric") or "")
    unit = UNITS.get(metric, "")
    label = METRIC_LABELS.get(metric, metric.upper() or "Metric")
    if metric == "cause_share" and alarm.get("hangup_cause"):
        label = f"{label} (cause {alarm['hangup_cause']})"
    scope, window = _mapping(data, "scope"), _mapping(data, "window")
    condition = str(alarm.get("condition") or "")
    relative = condition.endswith("_pct")
    return {
        "triggered": event_type == "alarm_triggered",
        "name": str(alarm.get("name") or alarm["id"]),
        "alarm_id": str(alarm["id"]),
        "metric": label,
        "value": number(data.get("value"), unit),
        "baseline": number(data.get("baseline"), unit),
        "baseline_kind": str(alarm.get("baseline") or ""),
        "threshold": number(data.get("threshold", alarm.get("threshold")), " %" if relative else unit),
        "condition": CONDITIONS.get(condition, condition),
        "window_name": str(alarm.get("window") or ""),
        "window_start": moment(window.get("start"), zone),
        "window_end": moment(window.get("end"), zone),
        "zone": zone,
        "scope": _scope_text(scope),
        "attempts": number(data.get("attempts")),
        "state": str(data.get("state") or ("FIRING" if event_type == "alarm_triggered" else "OK")),
        "message": str(data.get("message") or ""),
        "link": absolute_link(data.get("link"), public_url),
    }


def alarm_subject(view: Mapping[str, Any]) -> str:
    head = "ALARM" if view["triggered"] else "Cleared"
    return f"[CDR-Stats] {head}: {view['name']} — {view['metric']} {view['value']}"


def _scope_text(scope: Mapping[str, Any]) -> str:
    kind, value = str(scope.get("kind") or "all"), str(scope.get("value") or "")
    if kind == "all" or not value:
        return "all calls"
    if kind == "prefix":
        return f"prefix +{value}"
    return f"{kind} {value}"


def hit_view(data: Mapping[str, Any], *, zone: str, public_url: str) -> dict[str, Any]:
    """One destination-alert hit as a row of the e-mail (kept in the delivery's context for coalescing)."""
    hit, cdr = data.get("hit"), data.get("cdr")
    if not isinstance(hit, Mapping) or not isinstance(cdr, Mapping):
        raise ValueError("data.hit, data.cdr: expected objects")
    return {
        "hit_id": str(hit.get("id") or ""),
        "verdict": str(hit.get("verdict") or ""),
        "rule_id": str(hit.get("rule_id") or ""),
        "rule": str(hit.get("rule") or hit.get("rule_id") or ""),
        "owner": str(hit.get("owner") or ""),
        "time": moment(cdr.get("start_time_us"), zone),
        "switch_id": str(cdr.get("switch_id") or ""),
        "caller": str(cdr.get("caller_id_number") or ""),
        "destination": str(cdr.get("destination_e164") or cdr.get("destination_number") or ""),
        "country": str(cdr.get("country") or ""),
        "accountcode": str(cdr.get("accountcode") or ""),
        "answered": bool(cdr.get("answered")),
        "link": absolute_link(data.get("link"), public_url),
    }


def destination_view(hits: list[dict[str, Any]], count: int, zone: str) -> dict[str, Any]:
    """The template context of a (possibly coalesced) destination-alert e-mail."""
    first = hits[0]
    return {
        "rule": first["rule"],
        "verdict": first["verdict"],
        "count": count,
        "hits": hits[:MAX_LISTED_HITS],
        "more": max(0, count - MAX_LISTED_HITS),
        "zone": zone,
    }


def destination_subject(view: Mapping[str, Any]) -> str:
    calls = "1 call" if view["count"] == 1 else f"{view['count']} calls"
    kind = "Geo alert" if view["verdict"] == "geo" else "Black-list alert"
    return f"[CDR-Stats] {kind}: {calls} matching {view['rule']}"


def worker_failure_view(data: Mapping[str, Any], time: Any, zone: str) -> dict[str, Any]:
    service, entrypoint = str(data.get("service") or ""), str(data.get("entrypoint") or "")
    if not service or not entrypoint:
        raise ValueError("data.service, data.entrypoint: expected the failing worker task")
    return {
        "service": service,
        "entrypoint": entrypoint,
        "failures": number(data.get("failures")),
        "error": str(data.get("error") or ""),
        "host": str(data.get("host") or ""),
        "time": moment(time, zone),
        "zone": zone,
    }


def worker_failure_subject(view: Mapping[str, Any]) -> str:
    return f"[CDR-Stats] Worker task failing: {view['service']}.{view['entrypoint']} ({view['failures']} in a row)"
