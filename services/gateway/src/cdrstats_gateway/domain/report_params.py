"""Report parameters as they travel in a URL (pages and /api/v1/reports alike), validated once.

Dates are local ``YYYY-MM-DD`` in the reporting time zone; an omitted range is the
last 7 days up to today (hourly granularities: the last 2 days). Bad input raises
``FilterError`` naming the parameter.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import zoneinfo

from cdrstats_gateway.domain.cdr_filters import FilterError, MultiMapping
from cdrstats_gateway.domain.digits import plain_digits

METRICS = ("attempts", "answered", "minutes", "asr", "acd", "ner", "pdd_ms")
GRANULARITIES = ("hour", "day", "month")
MAX_RANGE_DAYS = 366
MAX_ID = 128
#: CDR times are epoch microseconds before 2100 (ingest refuses later ones): dates outside say nothing,
#: and a range computed from year 1 or 9999 would leave what datetime can hold
FIRST_DATE, LAST_DATE = datetime.date(1970, 1, 1), datetime.date(2099, 12, 31)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")


@dataclasses.dataclass(frozen=True)
class ReportParams:
    switch_id: str = ""
    accountcode: str = ""
    start_date: str = ""
    end_date: str = ""
    date: str = ""
    month: str = ""
    months: int = 6
    previous: int = 1
    mode: str = "days"
    metric: str = "attempts"
    granularity: str = "day"
    top: int = 10
    by: str = "number"
    limit: int = 10


def today(time_zone: str, now: datetime.datetime | None = None) -> datetime.date:
    moment = now or datetime.datetime.now(tz=datetime.UTC)
    return moment.astimezone(zoneinfo.ZoneInfo(time_zone)).date()


def _text(query: MultiMapping, name: str, limit: int = MAX_ID) -> str:
    value = query.get(name, "").strip()
    if len(value) > limit:
        raise FilterError(name, f"at most {limit} characters")
    return value


def _date(query: MultiMapping, name: str) -> datetime.date | None:
    value = _text(query, name)
    if not value:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        day = datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise FilterError(name, f"a date YYYY-MM-DD (got {value!r})") from exc
    if not FIRST_DATE <= day <= LAST_DATE:
        raise FilterError(name, f"a date from {FIRST_DATE} to {LAST_DATE} (got {value!r})")
    return day


def _month(query: MultiMapping, name: str) -> str:
    value = _text(query, name)
    if value and (
        not _MONTH.fullmatch(value)
        or not 1 <= int(value[5:]) <= 12
        or not FIRST_DATE.year <= int(value[:4]) <= LAST_DATE.year
    ):
        raise FilterError(name, f"a month YYYY-MM from {FIRST_DATE:%Y-%m} to {LAST_DATE:%Y-%m} (got {value!r})")
    return value


def _int(query: MultiMapping, name: str, low: int, high: int, default: int) -> int:
    value = _text(query, name)
    if not value:
        return default
    if not plain_digits(value) or not low <= int(value) <= high:
        raise FilterError(name, f"a whole number from {low} to {high} (got {value!r})")
    return int(value)


def _choice(query: MultiMapping, name: str, choices: tuple[str, ...], default: str) -> str:
    value = _text(query, name) or default
    if value not in choices:
        raise FilterError(name, f"one of {', '.join(choices)} (got {value!r})")
    return value


def _range(query: MultiMapping, granularity: str, current: datetime.date) -> tuple[str, str]:
    start, end = _date(query, "start"), _date(query, "end")
    if end is None:
        end = max(start, min(start + datetime.timedelta(days=6), current)) if start else current
    start = start or end - datetime.timedelta(days=1 if granularity == "hour" else 6)
    if end < start:
        raise FilterError("end", "a date on or after start")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise FilterError("end", f"at most {MAX_RANGE_DAYS} days after start")
    if granularity == "hour" and (end - start).days + 1 > 3:
        raise FilterError("granularity", "day or month for ranges longer than 3 days")
    return start.isoformat(), end.isoformat()


def parse_report_params(query: MultiMapping, time_zone: str, *, now: datetime.datetime | None = None) -> ReportParams:
    """Every report parameter at once (each report reads the ones it needs)."""
    current = today(time_zone, now)
    granularity = _choice(query, "granularity", GRANULARITIES, "day")
    start, end = _range(query, granularity, current)
    day = _date(query, "date")
    return ReportParams(
        switch_id=_text(query, "switch"),
        accountcode=_text(query, "accountcode"),
        start_date=start,
        end_date=end,
        date=(day or current).isoformat(),
        month=_month(query, "month") or current.strftime("%Y-%m"),
        months=_int(query, "months", 1, 36, 6),
        previous=_int(query, "previous", 1, 31, 1),
        mode=_choice(query, "mode", ("days", "weekday"), "days"),
        metric=_choice(query, "metric", METRICS, "attempts"),
        granularity=granularity,
        top=_int(query, "top", 1, 50, 10),
        by=_choice(query, "by", ("number", "prefix"), "number"),
        limit=_int(query, "limit", 1, 100, 10),
    )
