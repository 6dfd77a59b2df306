"""Alarms as the gateway shows and reads them: the model, human labels, and form/JSON input.

Alerting owns the rules (which metric takes which condition, valid e-mails, ...) and answers
INVALID_ARGUMENT naming the field; the gateway only turns text into typed values and says,
per field, what it could not read. Labels live here so pages and e-mails read the same.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

from cdrstats_gateway.domain.errors import InvalidInput

MAX_NAME = 200
MAX_RECIPIENTS = 50
MAX_CAUSE = 127  # Q.850 codes are 7 bits (and a larger number would not fit the proto's int32)

#: metric -> (label, unit of its value and of lt/gt/falls_by/rises_by thresholds)
METRICS: dict[str, tuple[str, str]] = {
    "asr": ("ASR (answer-seizure ratio)", "%"),
    "acd": ("ACD (average call duration)", "s"),
    "aloc": ("ALOC (average length of call)", "s"),
    "ner": ("NER (network efficiency ratio)", "%"),
    "cic": ("CIC (consecutive unanswered calls)", "calls"),
    "attempts": ("Attempts", "calls"),
    "minutes": ("Minutes of answered calls", "min"),
    "pdd_ms": ("PDD (post-dial delay)", "ms"),
    "concurrent_peak": ("Peak concurrent calls", "calls"),
    "cause_share": ("Share of a hangup cause", "%"),
}
SHORT_METRIC = {
    "asr": "ASR",
    "acd": "ACD",
    "aloc": "ALOC",
    "ner": "NER",
    "cic": "CIC",
    "attempts": "Attempts",
    "minutes": "Minutes",
    "pdd_ms": "PDD",
    "concurrent_peak": "Peak concurrent calls",
    "cause_share": "Cause share",
}
WINDOWS = {
    "last_15m": "the last 15 minutes",
    "last_hour": "the last hour",
    "last_day": "the last 24 hours",
    "day": "today so far",
    "week": "this week so far (from Monday)",
    "month": "this month so far",
}
CONDITIONS = {
    "lt": "is less than",
    "gt": "is greater than",
    "falls_by": "falls by more than",
    "rises_by": "rises by more than",
    "falls_by_pct": "falls by more than … %",
    "rises_by_pct": "rises by more than … %",
}
#: conditions compared with a baseline (the others compare the value with the threshold)
RELATIVE = frozenset({"falls_by", "rises_by", "falls_by_pct", "rises_by_pct"})
BASELINES = {"previous_window": "the window just before", "same_window_last_week": "the same window last week"}
SCOPE_KINDS = {
    "all": "All traffic",
    "switch": "One switch",
    "accountcode": "One account code",
    "country": "Calls to one country",
    "prefix": "Calls to a number prefix",
}
VERDICTS = {"ok": "OK", "breach": "Breach", "insufficient": "Too few calls", "error": "Error"}


@dataclasses.dataclass(frozen=True)
class Alarm:
    """One alarm definition and its read-only state (``*_us``: epoch microseconds, 0 = never)."""

    id: str = ""
    name: str = ""
    owner: str = ""
    metric: str = "asr"
    hangup_cause: int = 0
    scope_kind: str = "all"
    scope_value: str = ""
    window: str = "last_hour"
    condition: str = "lt"
    threshold: float = 0.0
    baseline: str = ""
    min_attempts: int = 10
    cooldown_s: int = 3600
    enabled: bool = True
    emails: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()
    state: str = "OK"
    last_evaluated_us: int = 0
    last_triggered_us: int = 0
    last_value: float = 0.0
    created_us: int = 0
    updated_us: int = 0
    last_verdict: str = ""  # of the last evaluation (ok, breach, insufficient, error); "" = never, or unknown
    last_message: str = ""


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """One evaluation, stored (history) or not (a test)."""

    id: str
    alarm_id: str
    time_us: int
    window_start_us: int
    window_end_us: int
    value: float
    baseline: float | None
    baseline_start_us: int
    baseline_end_us: int
    threshold: float
    attempts: int
    verdict: str
    state_before: str
    state_after: str
    published: bool
    message: str
    error: str
    link: str


def amount(value: float) -> str:
    """A threshold or value as people write it: ``40``, ``25.5``, ``58.82`` (at most two decimals)."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def unit(metric: str, condition: str = "lt") -> str:
    """The threshold's unit: a percent of the baseline for the ``*_pct`` conditions, else the metric's."""
    if condition.endswith("_pct"):
        return "% of the baseline"
    return METRICS.get(metric, ("", ""))[1]


def describe(alarm: Alarm) -> str:
    """One line a human reads: ``ASR is less than 40 % over the last hour``."""
    metric = SHORT_METRIC.get(alarm.metric, alarm.metric)
    if alarm.metric == "cause_share":
        metric = f"Share of cause {alarm.hangup_cause}"
    condition = CONDITIONS.get(alarm.condition, alarm.condition).replace(" … %", "")
    limit = f"{amount(alarm.threshold)} {unit(alarm.metric, alarm.condition).replace(' of the baseline', '')}".strip()
    if alarm.metric == "cic":  # a run of unanswered attempts, whatever the window
        return f"CIC (unanswered calls in a row) {condition} {limit}"
    text = f"{metric} {condition} {limit} over {WINDOWS.get(alarm.window, alarm.window)}"
    if alarm.condition in RELATIVE:
        text += f", compared with {BASELINES.get(alarm.baseline, alarm.baseline or 'no baseline')}"
    return text


def scope_text(alarm: Alarm) -> str:
    if alarm.scope_kind == "all":
        return "all traffic"
    names = {"switch": "switch", "accountcode": "account code", "country": "country", "prefix": "prefix"}
    return f"{names.get(alarm.scope_kind, alarm.scope_kind)} {alarm.scope_value}"


def tenant_of(customer_id: int | None) -> str:
    """The tenant id alerting and notify know a customer by."""
    return "" if customer_id is None else f"customer:{customer_id}"


# --- input ----------------------------------------------------------------------------------------

_SPLIT = re.compile(r"[\s,;]+")


def _text(value: Any, field: str, limit: int = 256) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(field, f"expected text, got {type(value).__name__}")
    text = value.strip()
    if len(text) > limit:
        raise InvalidInput(field, f"expected at most {limit} characters, got {len(text)}")
    return text


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or value is None or value == "":
        raise InvalidInput(field, f"expected a number, got {value!r}")
    try:
        number = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(field, f"expected a number, got {value!r}") from exc
    if not math.isfinite(number):
        raise InvalidInput(field, f"expected a finite number, got {value!r}")
    return number


def _whole(value: Any, field: str, *, default: int = 0, scale: int = 1, maximum: int = 10**12) -> int:
    """A whole number >= 0 (``scale``: the form asks minutes, the API seconds) that its proto field can carry."""
    if value is None or value == "":
        return default
    number = _number(value, field)
    if number < 0 or number != int(number) or number > maximum:
        raise InvalidInput(field, f"expected a whole number from 0 to {maximum}, got {value!r}")
    return int(number) * scale


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidInput(field, f"expected true or false, got {value!r}")


def _list(value: Any, field: str) -> tuple[str, ...]:
    """A JSON list of strings, or text with one entry per line (commas and spaces also separate)."""
    if value is None:
        return ()
    if isinstance(value, str):
        items = list(split_list(value))
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = [item.strip() for item in value if item.strip()]
    else:
        raise InvalidInput(field, "expected a list of strings")
    if len(items) > MAX_RECIPIENTS:
        raise InvalidInput(field, f"expected at most {MAX_RECIPIENTS} entries, got {len(items)}")
    return tuple(dict.fromkeys(items))


def split_list(text: str) -> tuple[str, ...]:
    """Recipients typed one per line (commas, semicolons and spaces also separate), de-duplicated."""
    return tuple(dict.fromkeys(item for item in _SPLIT.split(text) if item))


def from_json(body: Mapping[str, Any], base: Alarm | None = None) -> Alarm:
    """An API body (fields not given keep ``base``'s value) -> Alarm; read-only fields are ignored."""
    current = base or Alarm()
    scope = body.get("scope", {"kind": current.scope_kind, "value": current.scope_value})
    if not isinstance(scope, Mapping):
        raise InvalidInput("scope", 'expected an object {"kind": ..., "value": ...}')
    metric = _text(body.get("metric", current.metric), "metric")
    condition = _text(body.get("condition", current.condition), "condition")
    # a metric or condition changed by an update takes the fields that only applied to the old one along
    cause = body.get("hangup_cause", current.hangup_cause if metric == "cause_share" else 0)
    baseline = body.get("baseline", current.baseline if condition in RELATIVE else "")
    return dataclasses.replace(
        current,
        name=_text(body.get("name", current.name), "name", MAX_NAME),
        metric=metric,
        hangup_cause=0 if cause is None else _whole(cause, "hangup_cause", maximum=MAX_CAUSE),
        scope_kind=_text(scope.get("kind", "all"), "scope.kind") or "all",
        scope_value=_text(scope.get("value", ""), "scope.value"),
        window=_text(body.get("window", "" if metric == "cic" and not base else current.window), "window"),
        condition=condition,
        threshold=_number(body.get("threshold", current.threshold), "threshold"),
        baseline=_text(baseline, "baseline"),
        min_attempts=_whole(body.get("min_attempts", current.min_attempts), "min_attempts"),
        cooldown_s=_whole(body.get("cooldown_s", current.cooldown_s), "cooldown_s"),
        enabled=_bool(body.get("enabled", current.enabled), "enabled"),
        emails=_list(body.get("emails", list(current.emails)), "emails"),
        webhooks=_list(body.get("webhooks", list(current.webhooks)), "webhooks"),
    )


def from_form(form: Mapping[str, Any], base: Alarm | None = None) -> Alarm:
    """The alarm form -> Alarm. The scope value comes from the picker of the chosen kind."""
    current = base or Alarm()
    kind = _text(form.get("scope_kind", "all"), "scope.kind") or "all"
    metric = _text(form.get("metric", ""), "metric")
    condition = _text(form.get("condition", ""), "condition")
    return dataclasses.replace(
        current,
        name=_text(form.get("name", ""), "name", MAX_NAME),
        metric=metric,
        hangup_cause=_whole(form.get("hangup_cause"), "hangup_cause", maximum=MAX_CAUSE)
        if metric == "cause_share"
        else 0,
        scope_kind=kind,
        scope_value="" if kind == "all" else _text(form.get(f"scope_value_{kind}", ""), "scope.value"),
        window="" if metric == "cic" else _text(form.get("window", ""), "window"),
        condition=condition,
        threshold=_number(form.get("threshold", ""), "threshold"),
        baseline=_text(form.get("baseline", ""), "baseline") if condition in RELATIVE else "",
        min_attempts=_whole(form.get("min_attempts"), "min_attempts"),
        cooldown_s=_whole(form.get("cooldown_min"), "cooldown", scale=60),
        enabled=form.get("enabled") == "on",
        emails=_list(str(form.get("emails", "")), "emails"),
        webhooks=_list(str(form.get("webhooks", "")), "webhooks"),
    )


#: service field paths -> the form field an error is shown next to
_FORM_FIELDS = {"scope.kind": "scope", "scope.value": "scope", "scope": "scope", "cooldown_s": "cooldown"}
FORM_FIELDS = frozenset(
    {"name", "metric", "hangup_cause", "scope", "window", "condition", "threshold", "baseline"}
    | {"min_attempts", "cooldown", "enabled", "emails", "webhooks"}
)


def error_field(message: str) -> tuple[str, str]:
    """``alerting: alarm.emails[1]: expected an e-mail`` -> (``emails``, ``emails[1]: expected an e-mail``).

    The field is "" when the message names none the form has (the page shows it above the form).
    """
    text = message.split(": ", 1)[1] if message.startswith(("alerting: ", "notify: ")) else message
    path = text.split(":", 1)[0].strip()
    if path.startswith("alarm."):
        path, text = path[len("alarm.") :], text[len("alarm.") :]
    base = re.sub(r"\[\d+\]$", "", path)
    field = _FORM_FIELDS.get(base, base)
    return (field if field in FORM_FIELDS else ""), text


def api_field(message: str) -> str:
    """The field an INVALID_ARGUMENT message names, as the API's JSON spells it ("" if none)."""
    text = message.split(": ", 1)[1] if message.startswith("alerting: ") else message
    path = text.split(":", 1)[0].strip().removeprefix("alarm.")
    return path if re.fullmatch(r"[a-z_]+(\.[a-z_]+)?(\[\d+\])?", path) else ""
