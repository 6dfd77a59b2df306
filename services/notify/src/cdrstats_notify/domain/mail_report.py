"""Mail-report schedules and periods: which local day or ISO week a report covers, and when it is due.

A period is exactly ``[start, end)`` between two local midnights of the reporting zone, so a DST
change day is 23 or 25 hours long and a week holding one is 167 or 169 hours. A period is sent once
the configured local hour of the day after it (daily) or of the configured weekday of the week after
it (weekly) has come. After downtime only the latest missed period is sent: a report for a day
nobody read in time is noise, and the period labels increase so "sent" is a single watermark.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo

from cdrstats_notify.domain.deliveries import is_email

KINDS = ("daily", "weekly")
OWNER_ADMIN = ""
TENANT_PREFIX = "customer:"
DEFAULT_HOUR = 7
MAX_RECIPIENTS = 50

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAY_LABEL = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK_LABEL = re.compile(r"^(\d{4})-W(\d{2})$")
_YEARS = range(1970, 2100)  # as CDR times (ingest refuses times from 2100 on)
_YEARS_TEXT = "years 1970 to 2099"


class InvalidMailReport(ValueError):
    """Bad input; the message names the field and what was expected."""


def to_us(moment: dt.datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def local_instant(day: dt.date, hour: int, zone: zoneinfo.ZoneInfo) -> int:
    """UTC epoch µs of local ``day`` at ``hour``:00 (as reporting's TimeGrid: the first one if it repeats;
    a wall time skipped by DST maps to the instant after the gap)."""
    return to_us(dt.datetime(day.year, day.month, day.day, hour, tzinfo=zone).astimezone(dt.UTC))


def local_date(time_us: int, zone: zoneinfo.ZoneInfo) -> dt.date:
    return (_EPOCH + dt.timedelta(microseconds=time_us)).astimezone(zone).date()


@dataclasses.dataclass(frozen=True)
class Period:
    """One report period: local days ``first``..``last`` (inclusive) = ``[start_us, end_us)``."""

    kind: str
    label: str  # "2026-11-26" or "2026-W47"
    first: dt.date
    last: dt.date
    start_us: int
    end_us: int

    @property
    def hours(self) -> float:
        return (self.end_us - self.start_us) / 3_600_000_000

    def previous(self, zone: zoneinfo.ZoneInfo) -> Period:
        return period_of(self.kind, self.first - dt.timedelta(days=1), zone)

    def following(self, zone: zoneinfo.ZoneInfo) -> Period:
        return period_of(self.kind, self.last + dt.timedelta(days=1), zone)


def period_of(kind: str, day: dt.date, zone: zoneinfo.ZoneInfo) -> Period:
    """The daily or weekly period holding local ``day``."""
    if kind == "daily":
        first = last = day
        label = day.isoformat()
    elif kind == "weekly":
        first = day - dt.timedelta(days=day.isoweekday() - 1)
        last = first + dt.timedelta(days=6)
        year, week, _ = day.isocalendar()
        label = f"{year:04d}-W{week:02d}"
    else:
        raise InvalidMailReport(f"kind: expected daily or weekly, got {kind!r}")
    end = last + dt.timedelta(days=1)
    return Period(kind, label, first, last, local_instant(first, 0, zone), local_instant(end, 0, zone))


def parse_period(kind: str, label: str, zone: zoneinfo.ZoneInfo) -> Period:
    """``YYYY-MM-DD`` for daily, ISO ``YYYY-Www`` for weekly, in the years CDRs can have (a report of
    year 9999 would also need a following period that ``datetime`` cannot hold)."""
    if kind == "daily":
        try:
            if not _DAY_LABEL.match(label) or int(label[:4]) not in _YEARS:
                raise ValueError(label)
            return period_of(kind, dt.date.fromisoformat(label), zone)
        except ValueError:
            raise InvalidMailReport(f"period: expected a day YYYY-MM-DD ({_YEARS_TEXT}), got {label!r}") from None
    if kind == "weekly":
        match = _WEEK_LABEL.match(label)
        try:
            if not match or int(match[1]) not in _YEARS:
                raise ValueError(label)
            return period_of(kind, dt.date.fromisocalendar(int(match[1]), int(match[2]), 1), zone)
        except ValueError:
            raise InvalidMailReport(
                f"period: expected an ISO week YYYY-Www (e.g. 2026-W47, {_YEARS_TEXT}), got {label!r}"
            ) from None
    raise InvalidMailReport(f"kind: expected daily or weekly, got {kind!r}")


def last_complete(kind: str, now_us: int, zone: zoneinfo.ZoneInfo) -> Period:
    """The newest period that has ended at ``now_us``."""
    return period_of(kind, local_date(now_us, zone), zone).previous(zone)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """An owner's mail-report settings ("" = the installation's all-switch report) and what was sent."""

    owner: str
    daily: bool = False
    weekly: bool = False
    hour: int = DEFAULT_HOUR
    weekday: int = 1  # ISO: 1 = Monday .. 7 = Sunday
    recipients: tuple[str, ...] = ()
    switch_id: str = ""
    last_daily_period: str = ""
    last_weekly_period: str = ""
    #: when each kind was last switched on: periods whose send time came before it are not sent
    daily_since_us: int = 0
    weekly_since_us: int = 0

    def enabled(self, kind: str) -> bool:
        return self.daily if kind == "daily" else self.weekly

    def last_period(self, kind: str) -> str:
        return self.last_daily_period if kind == "daily" else self.last_weekly_period

    def since_us(self, kind: str) -> int:
        return self.daily_since_us if kind == "daily" else self.weekly_since_us


def send_time_us(schedule: Schedule, period: Period, zone: zoneinfo.ZoneInfo) -> int:
    """When ``period``'s report goes out: the hour of the next day (daily), or of ``weekday`` in the next week."""
    day = period.last + dt.timedelta(days=1)
    if period.kind == "weekly":
        day += dt.timedelta(days=schedule.weekday - 1)
    return local_instant(day, schedule.hour, zone)


def due_period(schedule: Schedule, kind: str, now_us: int, zone: zoneinfo.ZoneInfo) -> Period | None:
    """The latest period of ``kind`` whose send time has come and that was not sent yet, else None."""
    if not schedule.enabled(kind):
        return None
    period = last_complete(kind, now_us, zone)
    if send_time_us(schedule, period, zone) > now_us:
        period = period.previous(zone)
    if period.label <= schedule.last_period(kind):  # labels sort in time order within a kind
        return None
    if send_time_us(schedule, period, zone) < schedule.since_us(kind):
        return None  # it was due before the report was switched on
    return period


def valid_owner(owner: str) -> bool:
    return owner == OWNER_ADMIN or (owner.startswith(TENANT_PREFIX) and len(owner) > len(TENANT_PREFIX))


def validated(schedule: Schedule) -> Schedule:
    """The schedule with recipients trimmed and de-duplicated; InvalidMailReport naming the first bad field."""
    if not valid_owner(schedule.owner):
        raise InvalidMailReport(f"owner: expected '' or a tenant id 'customer:<id>', got {schedule.owner!r}")
    if not 0 <= schedule.hour <= 23:
        raise InvalidMailReport(f"hour: expected a local hour 0..23, got {schedule.hour}")
    if not 1 <= schedule.weekday <= 7:
        raise InvalidMailReport(f"weekday: expected 1 (Monday) .. 7 (Sunday), got {schedule.weekday}")
    recipients: list[str] = []
    for index, raw in enumerate(schedule.recipients):
        address = raw.strip()
        if not is_email(address):
            raise InvalidMailReport(f"recipients[{index}]: expected an e-mail address, got {raw!r}")
        if address.lower() not in {r.lower() for r in recipients}:
            recipients.append(address)
    if len(recipients) > MAX_RECIPIENTS:
        raise InvalidMailReport(f"recipients: at most {MAX_RECIPIENTS} addresses, got {len(recipients)}")
    if len(schedule.switch_id) > 200:
        raise InvalidMailReport("switch_id: at most 200 characters")
    return dataclasses.replace(schedule, recipients=tuple(recipients))
