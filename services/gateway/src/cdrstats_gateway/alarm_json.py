"""Alarms in the REST API's JSON: the OpenAPI schemas and the conversions (RFC 3339 UTC times)."""

from __future__ import annotations

import datetime
from typing import Any

from cdrstats_gateway.domain import alarms
from cdrstats_gateway.domain.alarms import Alarm, Evaluation
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.rest import BOOL, INT, NUM, STR, TIME, TIME_OR_NULL, Param, arr, obj, ref

REQUIRED_ON_CREATE = ("name", "metric", "window", "condition", "threshold")

NUM_OR_NULL: dict[str, Any] = {"type": ["number", "null"]}
ID_PARAM = (Param("id", "path", STR, required=True, description="the alarm id"),)
SCOPE_SCHEMA = obj({"kind": {"enum": list(alarms.SCOPE_KINDS)}, "value": STR})
DEFINITION = {
    "name": STR,
    "metric": {"enum": list(alarms.METRICS)},
    "hangup_cause": {"type": ["integer", "null"], "description": "Q.850 cause; cause_share only"},
    "scope": SCOPE_SCHEMA,
    "window": {"enum": [*alarms.WINDOWS, ""], "description": "required, except for cic (a run, not a window)"},
    "condition": {"enum": list(alarms.CONDITIONS)},
    "threshold": NUM,
    "baseline": {"enum": [*alarms.BASELINES, None], "description": "relative conditions only"},
    "min_attempts": INT,
    "cooldown_s": INT,
    "enabled": BOOL,
    "emails": arr(STR),
    "webhooks": arr(STR),
}
ALARM_SCHEMA = obj(
    {
        "id": STR,
        **DEFINITION,
        "owner": {"type": "string", "description": '"" = the installation (admin), else "customer:<id>"'},
        "description": STR,
        "state": {"enum": ["OK", "FIRING"]},
        "last_value": {
            "type": ["number", "null"],
            "description": "the last measured value; null before the first evaluation and when the last one "
            "measured nothing (last_verdict insufficient or error)",
        },
        "last_verdict": {
            "enum": [*alarms.VERDICTS, None],
            "description": "of the last evaluation; null before the first",
        },
        "last_message": {
            "type": ["string", "null"],
            "description": "the last evaluation's one-line message: why it had too few calls, what failed, ...",
        },
        "last_evaluated": TIME_OR_NULL,
        "last_triggered": TIME_OR_NULL,
        "created": TIME_OR_NULL,
        "updated": TIME_OR_NULL,
    }
)
#: a working body for the OpenAPI document (and schemathesis' examples phase)
ALARM_EXAMPLE: dict[str, Any] = {"name": "Low ASR", "metric": "asr", "scope": {"kind": "all", "value": ""}}
ALARM_EXAMPLE.update({"window": "last_hour", "condition": "lt", "threshold": 40, "min_attempts": 20})
ALARM_BODY = {
    **obj(DEFINITION, required=tuple(n for n in REQUIRED_ON_CREATE if n != "window")),
    "examples": [ALARM_EXAMPLE],
}
ALARM_PATCH = obj(DEFINITION, required=())
ALARM_TEST_BODY = {
    **obj(DEFINITION, required=("metric", "condition", "threshold")),  # a test needs no name
    "examples": [ALARM_EXAMPLE],
}
WINDOW = obj({"start": TIME_OR_NULL, "end": TIME_OR_NULL})
EVALUATION_SCHEMA = obj(
    {
        "id": STR,
        "alarm_id": STR,
        "time": TIME,
        "window": WINDOW,
        "value": NUM,
        "baseline": NUM_OR_NULL,
        "baseline_window": {"oneOf": [WINDOW, {"type": "null"}]},
        "threshold": NUM,
        "attempts": INT,
        "verdict": {"enum": list(alarms.VERDICTS)},
        "state_before": STR,
        "state_after": STR,
        "published": BOOL,
        "message": STR,
        "error": STR,
        "link": STR,
    }
)
ALARM_PAGE = obj({"items": arr(ref("Alarm")), "next_cursor": {"type": ["string", "null"]}})
EVALUATION_PAGE = obj(
    {
        "items": arr(ref("AlarmEvaluation")),
        "next_cursor": {"type": ["string", "null"], "format": "date-time", "description": "pass as before"},
    }
)


def time_us(value: int) -> str | None:
    """RFC 3339 UTC; microseconds only when there are any (evaluation times are exact)."""
    if not value:
        return None
    moment = datetime.datetime.fromtimestamp(value / 1_000_000, tz=datetime.UTC)
    return moment.isoformat(timespec="microseconds" if value % 1_000_000 else "seconds").replace("+00:00", "Z")


def parse_time(field: str, value: str) -> int:
    try:
        moment = datetime.datetime.fromisoformat(value.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        expected = f"expected an RFC 3339 time such as 2026-01-02T03:04:05Z, got {value[:40]!r}"
        raise ApiError(400, "invalid_argument", f"{field}: {expected}", {"field": field})
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def alarm_json(alarm: Alarm) -> dict[str, Any]:
    evaluated = alarm.last_evaluated_us != 0
    # "": evaluated by an alerting that did not keep the verdict yet (its value is the last measured one)
    measured = evaluated and alarm.last_verdict in ("ok", "breach", "")
    return {
        "id": alarm.id,
        "name": alarm.name,
        "owner": alarm.owner,
        "metric": alarm.metric,
        "hangup_cause": alarm.hangup_cause if alarm.metric == "cause_share" else None,
        "scope": {"kind": alarm.scope_kind, "value": alarm.scope_value},
        "window": alarm.window,
        "condition": alarm.condition,
        "threshold": alarm.threshold,
        "baseline": alarm.baseline or None,
        "min_attempts": alarm.min_attempts,
        "cooldown_s": alarm.cooldown_s,
        "enabled": alarm.enabled,
        "emails": list(alarm.emails),
        "webhooks": list(alarm.webhooks),
        "description": alarms.describe(alarm),
        "state": alarm.state,
        "last_value": alarm.last_value if measured else None,
        "last_verdict": alarm.last_verdict or None,
        "last_message": alarm.last_message or None,
        "last_evaluated": time_us(alarm.last_evaluated_us),
        "last_triggered": time_us(alarm.last_triggered_us),
        "created": time_us(alarm.created_us),
        "updated": time_us(alarm.updated_us),
    }


def evaluation_json(e: Evaluation) -> dict[str, Any]:
    has_baseline_window = e.baseline is not None and e.baseline_start_us != 0
    return {
        "id": e.id,
        "alarm_id": e.alarm_id,
        "time": time_us(e.time_us),
        "window": {"start": time_us(e.window_start_us), "end": time_us(e.window_end_us)},
        "value": e.value,
        "baseline": e.baseline,
        "baseline_window": (
            {"start": time_us(e.baseline_start_us), "end": time_us(e.baseline_end_us)} if has_baseline_window else None
        ),
        "threshold": e.threshold,
        "attempts": e.attempts,
        "verdict": e.verdict,
        "state_before": e.state_before,
        "state_after": e.state_after,
        "published": e.published,
        "message": e.message,
        "error": e.error,
        "link": e.link,
    }
