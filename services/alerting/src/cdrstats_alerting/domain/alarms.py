"""The alarm model and its validation: every field checked once here, naming the field, so the
evaluator and the stores can trust a stored alarm. No I/O, no protobuf (docs/alerting.md).
"""

from __future__ import annotations

import dataclasses
import math
import re
import secrets
import time
import urllib.parse

from cdrstats_alerting.domain.errors import AlertingError, InvalidArgument, NotFound, PermissionDenied

METRICS = ("asr", "acd", "aloc", "ner", "cic", "attempts", "minutes", "pdd_ms", "concurrent_peak", "cause_share")
ROLLING_WINDOWS = {"last_15m": 15 * 60_000_000, "last_hour": 3_600_000_000, "last_day": 86_400_000_000}
CALENDAR_WINDOWS = ("day", "week", "month")
WINDOWS = (*ROLLING_WINDOWS, *CALENDAR_WINDOWS)
ABSOLUTE_CONDITIONS = ("lt", "gt")
RELATIVE_CONDITIONS = ("falls_by", "rises_by", "falls_by_pct", "rises_by_pct")
CONDITIONS = (*ABSOLUTE_CONDITIONS, *RELATIVE_CONDITIONS)
BASELINES = ("previous_window", "same_window_last_week")
SCOPE_KINDS = ("all", "switch", "accountcode", "country", "prefix")
#: metrics in percent (0..100)
PERCENT_METRICS = frozenset({"asr", "ner", "cause_share"})
OK, FIRING = "OK", "FIRING"
VERDICTS = ("ok", "breach", "insufficient", "error")

MAX_NAME = 200
MAX_VALUE = 128
MAX_EMAILS = 50
MAX_WEBHOOKS = 20
MAX_URL = 2048
MAX_COOLDOWN_S = 31 * 86_400
MAX_MIN_ATTEMPTS = 1_000_000_000
_EMAIL = re.compile(
    r"[^@\s,;<>\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+"
)
_COUNTRY = re.compile(r"[A-Z]{2}")
_PREFIX = re.compile(r"[0-9]{1,15}")


class AlarmError(AlertingError):
    """Base of the errors alarms raise on purpose; ``api_errors`` maps them to gRPC statuses."""


class InvalidAlarm(InvalidArgument, AlarmError):
    """Malformed input; the message is ``field: what was expected, got X``."""

    def __init__(self, field: str, expected: str) -> None:
        super().__init__(f"{field}: {expected}")
        self.field = field


class AlarmNotFound(NotFound, AlarmError):
    """No such alarm, or one of another tenant (never confirmed)."""


class AlarmPermissionDenied(PermissionDenied, AlarmError):
    """The caller's scope does not allow it."""


class MetricUnavailable(AlarmError):
    """Reporting could not answer (down, refused the query): the verdict is ``error``."""


@dataclasses.dataclass(frozen=True, slots=True)
class AlarmScope:
    kind: str = "all"
    value: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Alarm:
    """A definition (what the user sets) plus its read-only state (what evaluations set)."""

    name: str
    metric: str
    window: str
    condition: str
    threshold: float
    scope: AlarmScope = AlarmScope()
    baseline: str = ""
    hangup_cause: int = 0
    min_attempts: int = 0
    cooldown_s: int = 0
    enabled: bool = True
    emails: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()
    id: str = ""
    owner: str = ""
    # read-only
    state: str = OK
    last_evaluated_us: int = 0
    last_triggered_us: int = 0
    last_value: float = 0.0
    created_us: int = 0
    updated_us: int = 0
    last_verdict: str = ""  # of the last stored evaluation ("" = never evaluated): is ``last_value`` current?
    last_message: str = ""  # its one-line message: why there is no value (too few calls, an error)

    @property
    def relative(self) -> bool:
        return self.condition in RELATIVE_CONDITIONS

    def with_definition_of(self, other: Alarm) -> Alarm:
        """``other``'s definition with this alarm's identity and state (an update keeps state and history)."""
        return dataclasses.replace(
            other,
            id=self.id,
            owner=self.owner,
            state=self.state,
            last_evaluated_us=self.last_evaluated_us,
            last_triggered_us=self.last_triggered_us,
            last_value=self.last_value,
            created_us=self.created_us,
            updated_us=self.updated_us,
            last_verdict=self.last_verdict,
            last_message=self.last_message,
        )


def new_alarm_id() -> str:
    """Sortable by creation (time prefix) and unguessable (random suffix)."""
    return f"al_{time.time_ns() // 1000:016x}{secrets.token_hex(6)}"


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    cleaned = value.strip().lower()
    if cleaned not in allowed:
        raise InvalidAlarm(field, f"expected one of {', '.join(allowed)}, got {value!r}")
    return cleaned


def validate_scope(scope: AlarmScope, field: str = "alarm.scope") -> AlarmScope:
    kind = _choice(f"{field}.kind", scope.kind or "all", SCOPE_KINDS)
    value = scope.value.strip()
    if kind == "all":
        if value:
            raise InvalidAlarm(f"{field}.value", f"expected empty for kind 'all', got {value!r}")
    elif kind == "country":
        value = value.upper()
        if not _COUNTRY.fullmatch(value):
            raise InvalidAlarm(f"{field}.value", f"expected an ISO 3166 alpha-2 code such as DE, got {scope.value!r}")
    elif kind == "prefix":
        value = value.removeprefix("+")
        if not _PREFIX.fullmatch(value):
            raise InvalidAlarm(f"{field}.value", f"expected 1 to 15 E.164 digits such as 4420, got {scope.value!r}")
    elif not value or len(value) > MAX_VALUE:
        raise InvalidAlarm(f"{field}.value", f"expected a {kind} of 1 to {MAX_VALUE} characters, got {scope.value!r}")
    return AlarmScope(kind, value)


def _emails(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(values) > MAX_EMAILS:
        raise InvalidAlarm("alarm.emails", f"expected at most {MAX_EMAILS} addresses, got {len(values)}")
    found: list[str] = []
    for index, raw in enumerate(values):
        email = raw.strip()
        if len(email) > 254 or not _EMAIL.fullmatch(email):
            raise InvalidAlarm(
                f"alarm.emails[{index}]", f"expected an e-mail address such as noc@example.com, got {raw!r}"
            )
        if email.lower() not in (f.lower() for f in found):
            found.append(email)
    return tuple(found)


def _webhooks(values: tuple[str, ...]) -> tuple[str, ...]:
    if len(values) > MAX_WEBHOOKS:
        raise InvalidAlarm("alarm.webhooks", f"expected at most {MAX_WEBHOOKS} URLs, got {len(values)}")
    found: list[str] = []
    for index, raw in enumerate(values):
        url = raw.strip()
        try:
            parts = urllib.parse.urlsplit(url)
            _ = parts.port  # raises on a bad port
            valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # a bad port or IPv6 literal
            valid = False
        if not valid or len(url) > MAX_URL or any(c.isspace() for c in url):
            raise InvalidAlarm(f"alarm.webhooks[{index}]", f"expected an http(s) URL with a host, got {raw!r}")
        if url not in found:
            found.append(url)
    return tuple(found)


def _threshold(alarm: Alarm, metric: str, condition: str) -> float:
    value = float(alarm.threshold)
    if not math.isfinite(value) or value < 0:
        raise InvalidAlarm("alarm.threshold", f"expected a finite number >= 0, got {alarm.threshold!r}")
    if condition in ABSOLUTE_CONDITIONS and metric in PERCENT_METRICS and value > 100:
        raise InvalidAlarm("alarm.threshold", f"expected a percentage from 0 to 100 for {metric}, got {value:g}")
    if condition == "falls_by_pct" and value >= 100:
        raise InvalidAlarm("alarm.threshold", f"expected less than 100 (a value falls by at most 100 %), got {value:g}")
    return value


def validate(alarm: Alarm) -> Alarm:
    """The alarm with every definition field checked and normalised; raises InvalidAlarm naming the field."""
    name = alarm.name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidAlarm("alarm.name", f"expected 1 to {MAX_NAME} characters, got {len(name)}")
    metric = _choice("alarm.metric", alarm.metric, METRICS)
    condition = _choice("alarm.condition", alarm.condition, CONDITIONS)
    window = alarm.window.strip().lower()
    if window or metric != "cic":  # CIC is a run of attempts, not a window: the window may stay empty
        window = _choice("alarm.window", alarm.window, WINDOWS)
    baseline = alarm.baseline.strip().lower()
    if metric == "cic" and condition not in ABSOLUTE_CONDITIONS:
        raise InvalidAlarm("alarm.condition", f"expected lt or gt for cic, got {alarm.condition!r}")
    if condition in RELATIVE_CONDITIONS:
        if not baseline:
            raise InvalidAlarm("alarm.baseline", f"expected one of {', '.join(BASELINES)} for {condition}, got ''")
        baseline = _choice("alarm.baseline", baseline, BASELINES)
    elif baseline:
        raise InvalidAlarm(
            "alarm.baseline", f"expected empty for {condition} (only relative conditions), got {baseline!r}"
        )
    cause = int(alarm.hangup_cause)
    if metric == "cause_share" and not 1 <= cause <= 127:
        raise InvalidAlarm("alarm.hangup_cause", f"expected a Q.850 cause from 1 to 127 for cause_share, got {cause}")
    if metric != "cause_share" and cause:
        raise InvalidAlarm("alarm.hangup_cause", f"expected 0 (only cause_share uses it), got {cause}")
    if not 0 <= alarm.min_attempts <= MAX_MIN_ATTEMPTS:
        raise InvalidAlarm("alarm.min_attempts", f"expected 0 to {MAX_MIN_ATTEMPTS}, got {alarm.min_attempts}")
    if not 0 <= alarm.cooldown_s <= MAX_COOLDOWN_S:
        raise InvalidAlarm("alarm.cooldown_s", f"expected 0 to {MAX_COOLDOWN_S} seconds, got {alarm.cooldown_s}")
    return dataclasses.replace(
        alarm,
        name=name,
        metric=metric,
        condition=condition,
        window=window,
        baseline=baseline,
        threshold=_threshold(alarm, metric, condition),
        hangup_cause=cause,
        scope=validate_scope(alarm.scope),
        emails=_emails(tuple(alarm.emails)),
        webhooks=_webhooks(tuple(alarm.webhooks)),
    )
