"""What people and other systems read about an evaluation: its one-line message, the link to the
matching CDR search in the gateway, and the ``alarm_triggered`` / ``alarm_cleared`` event data.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from typing import Any

from cdrstats_alerting.domain.alarms import Alarm
from cdrstats_alerting.domain.evaluate import Evaluation, Verdict, change
from cdrstats_alerting.domain.windows import Span

LABELS = {
    "asr": "ASR",
    "acd": "ACD",
    "aloc": "ALOC",
    "ner": "NER",
    "cic": "CIC",
    "attempts": "attempts",
    "minutes": "minutes",
    "pdd_ms": "PDD",
    "concurrent_peak": "peak concurrent calls",
}
UNITS = {"asr": " %", "ner": " %", "cause_share": " %", "acd": " s", "aloc": " s", "pdd_ms": " ms", "minutes": " min"}
WINDOW_TEXT = {
    "last_15m": "over the last 15 minutes",
    "last_hour": "over the last hour",
    "last_day": "over the last 24 hours",
    "day": "today so far",
    "week": "this week so far",
    "month": "this month so far",
}
BASELINE_TEXT = {"previous_window": "the previous window", "same_window_last_week": "the same window last week"}
OPERATORS = {"lt": "<", "gt": ">"}
CHANGE_TEXT = {"falls_by": "fell by", "rises_by": "rose by", "falls_by_pct": "fell by", "rises_by_pct": "rose by"}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def number(value: float) -> str:
    """31.25 -> '31.25', 40.0 -> '40', 1234.56 -> '1234.6'."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.1f}" if abs(value) >= 100 else f"{value:.2f}"
    return text.rstrip("0").rstrip(".")


def rfc3339(us: int) -> str:
    moment = _EPOCH + dt.timedelta(microseconds=us)
    return moment.isoformat(timespec="seconds" if us % 1_000_000 == 0 else "microseconds").replace("+00:00", "Z")


def label(alarm: Alarm) -> str:
    if alarm.metric == "cause_share":
        return f"share of cause {alarm.hangup_cause}"
    return LABELS[alarm.metric]


def scope_text(alarm: Alarm) -> str:
    kind, value = alarm.scope.kind, alarm.scope.value
    if kind == "all":
        return ""
    shown = "+" + value if kind == "prefix" else value
    return f" for {'account code' if kind == 'accountcode' else kind} {shown}"


def _where(alarm: Alarm) -> str:
    when = "unanswered in a row" if alarm.metric == "cic" else WINDOW_TEXT.get(alarm.window, "")
    return f" {when}{scope_text(alarm)}"


def message(alarm: Alarm, value: float, baseline: float | None, verdict: Verdict, held_until_us: int = 0) -> str:
    """One line a human reads, e.g. ``ASR 31.2 % < 40 % over the last hour for switch sw1``."""
    unit = UNITS.get(alarm.metric, "")
    name = label(alarm)
    if verdict.verdict in ("insufficient", "error"):
        return f"{name}{_where(alarm)}: {verdict.verdict}: {verdict.reason}"
    if not alarm.relative:
        op = OPERATORS[alarm.condition]
        shown = f"{name} {number(value)}{unit} {op} {number(alarm.threshold)}{unit}"
        if verdict.verdict == "ok":
            shown = f"{name} {number(value)}{unit}, not {op} {number(alarm.threshold)}{unit}"
    else:
        assert baseline is not None  # judge() gives ok/breach only with a baseline
        pct = alarm.condition.endswith("_pct")
        moved = change(alarm.condition, value, baseline)
        amount = "without bound" if moved is None else f"{number(moved)}{' %' if pct else unit}"
        limit = f"{number(alarm.threshold)}{' %' if pct else unit}"
        relation = "more than" if verdict.verdict == "breach" else "not more than"
        shown = (
            f"{name} {CHANGE_TEXT[alarm.condition]} {amount} ({relation} {limit}): {number(value)}{unit} "
            f"against {number(baseline)}{unit} in {BASELINE_TEXT[alarm.baseline]}"
        )
    if held_until_us:
        shown += f" (cooldown: no new alarm before {rfc3339(held_until_us)})"
    return shown + _where(alarm)


def link(public_url: str, alarm: Alarm, window: Span) -> str:
    """The gateway's CDR search for this alarm's scope and window (absolute when the public URL is known)."""
    params = [("from", rfc3339(window.start_us)), ("to", rfc3339(window.end_us))]
    kind, value = alarm.scope.kind, alarm.scope.value
    name = {"switch": "switch", "accountcode": "accountcode", "country": "country", "prefix": "prefix"}.get(kind)
    if name:
        params.append((name, value))
    if alarm.metric == "cause_share":
        params.append(("hangup_cause", str(alarm.hangup_cause)))
    if alarm.metric == "cic":
        params.append(("answered", "no"))
    return f"{public_url}/cdrs?{urllib.parse.urlencode(params)}"


def event_data(alarm: Alarm, evaluation: Evaluation) -> dict[str, Any]:
    """The ``data`` of alarm_triggered / alarm_cleared (schemas in docs/events.md)."""
    return {
        "alarm": {
            "id": alarm.id,
            "name": alarm.name,
            "owner": alarm.owner,
            "metric": alarm.metric,
            "hangup_cause": alarm.hangup_cause,
            "condition": alarm.condition,
            "threshold": alarm.threshold,
            "baseline": alarm.baseline,
            "window": alarm.window,
        },
        "scope": {"kind": alarm.scope.kind, "value": alarm.scope.value},
        "window": {"start": rfc3339(evaluation.window.start_us), "end": rfc3339(evaluation.window.end_us)},
        "value": evaluation.value,
        "baseline": evaluation.baseline,
        "threshold": evaluation.threshold,
        "attempts": evaluation.attempts,
        "evaluation_id": evaluation.id,
        "state": evaluation.state_after,
        "message": evaluation.message,
        "link": evaluation.link,
        "recipients": {"emails": list(alarm.emails), "webhooks": list(alarm.webhooks)},
    }
