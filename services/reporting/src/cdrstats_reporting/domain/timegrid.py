"""Local hours, days and months of the reporting time zone, as UTC instants.

Every roll-up bucket is keyed by the UTC instant (epoch microseconds) at which its
*local* hour, day or month starts in ``CDRSTATS_TIME_ZONE``. For UTC and every zone
whose offset is a whole number of hours a local hour is a UTC hour; for zones with a
half-hour or 45-minute offset (Asia/Kolkata, Asia/Kathmandu) the local hour starts at
hh:30 / hh:15 UTC, and the key says so. A local day is the half-open span between two
local midnights, so a DST change day has 23 or 25 hour buckets and nothing is lost or
counted twice. Changing the zone changes every key: the roll-ups must be rebuilt
(``cdrstats reporting rebuild``); the store refuses to open with another zone.

Assumption: UTC offsets change only on quarter-hour UTC instants (true for every zone
of the tz database since 1970); offsets are cached per UTC quarter hour.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000
DAY_US = 24 * HOUR_US
_SLOT_US = 15 * MINUTE_US
_MAX_CACHED = 200_000  # quarter hours (about 5 years)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _to_us(moment: dt.datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class TimeGrid:
    """Bucket arithmetic in one zone; cheap per call (offsets are cached), safe to share between threads."""

    def __init__(self, zone: str = "UTC") -> None:
        self.zone_name = zone
        self.zone = zoneinfo.ZoneInfo(zone)
        self._offsets: dict[int, int] = {}
        self._days: dict[int, int] = {}
        self._slots: dict[int, tuple[int, int]] = {}

    def offset_us(self, time_us: int) -> int:
        slot = time_us // _SLOT_US
        offset = self._offsets.get(slot)
        if offset is None:
            moment = _EPOCH + dt.timedelta(microseconds=slot * _SLOT_US)
            utcoffset = moment.astimezone(self.zone).utcoffset() or dt.timedelta(0)
            offset = self._offsets[slot] = int(utcoffset.total_seconds()) * 1_000_000
        return offset

    def hour_start(self, time_us: int) -> int:
        """UTC instant at which the local hour holding ``time_us`` starts."""
        return time_us - (time_us + self.offset_us(time_us)) % HOUR_US

    def hour_and_day(self, time_us: int) -> tuple[int, int]:
        """(hour_start, day_start) of ``time_us``, cached per UTC quarter hour: offsets change only on quarter-hour
        instants, so no local hour starts inside one and both answers hold for the whole quarter hour."""
        slot = time_us // _SLOT_US
        cached = self._slots.get(slot)
        if cached is None:
            if len(self._slots) > _MAX_CACHED:  # a long replay: keep memory bounded
                self._slots.clear()
                self._offsets.clear()
            hour = self.hour_start(slot * _SLOT_US)
            cached = self._slots[slot] = (hour, self.day_start(hour))
        return cached

    def minute_start(self, time_us: int) -> int:
        return time_us - (time_us + self.offset_us(time_us)) % MINUTE_US

    def day_start(self, time_us: int) -> int:
        """UTC instant of the local midnight starting the day that holds ``time_us``."""
        hour = self.hour_start(time_us)
        day = self._days.get(hour)
        if day is None:
            local = self.local(hour).replace(hour=0, minute=0, second=0, microsecond=0)
            day = self._days[hour] = self.instant(local.date())
        return day

    def local(self, time_us: int) -> dt.datetime:
        return (_EPOCH + dt.timedelta(microseconds=time_us)).astimezone(self.zone)

    def instant(self, day: dt.date, hour: int = 0) -> int:
        """UTC instant of local ``day`` at ``hour``:00 (the first such instant if the wall time repeats)."""
        naive = dt.datetime(day.year, day.month, day.day, hour)
        return _to_us(naive.replace(tzinfo=self.zone).astimezone(dt.UTC))

    def day_bounds(self, day: dt.date) -> tuple[int, int]:
        return self.instant(day), self.instant(day + dt.timedelta(days=1))

    def month_bounds(self, year: int, month: int) -> tuple[int, int]:
        nxt = (year + month // 12, month % 12 + 1)
        return self.instant(dt.date(year, month, 1)), self.instant(dt.date(nxt[0], nxt[1], 1))

    def hours(self, start_us: int, end_us: int) -> list[int]:
        """Start of every local hour in [start_us, end_us) (start_us must be an hour start)."""
        out, t = [], start_us
        while t < end_us:
            out.append(t)
            t = self.hour_start(t + HOUR_US)
        return out

    def days(self, first: dt.date, last: dt.date) -> list[tuple[dt.date, int, int]]:
        """(date, start_us, end_us) for each local day first..last inclusive."""
        out = []
        day = first
        while day <= last:
            out.append((day, *self.day_bounds(day)))
            day += dt.timedelta(days=1)
        return out

    def today(self, now_us: int) -> dt.date:
        return self.local(now_us).date()

    def hour_label(self, start_us: int) -> str:
        return self.local(start_us).strftime("%Y-%m-%d %H:%M")

    def is_hour_start(self, time_us: int) -> bool:
        return self.hour_start(time_us) == time_us
