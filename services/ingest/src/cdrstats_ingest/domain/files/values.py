"""Field values as switches write them: local time stamps, whole seconds, empty meaning "none"."""

from __future__ import annotations

import datetime
import functools
import math
import zoneinfo

from cdrstats_ingest.domain.errors import InvalidCdr

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
#: what SQL and CSV writers put for "no time": empty, MySQL's zero date, NULL spelled out
_NO_TIME = frozenset({"", "0", "0000-00-00 00:00:00", "null", "NULL", "\\N"})
EPOCH_FORMATS = {"epoch": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}


@functools.lru_cache(maxsize=64)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name``; InvalidCdr naming the setting when it does not exist."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidCdr(f"unknown IANA time zone {name!r}", field="time_zone") from exc


def is_no_time(text: str | None) -> bool:
    return text is None or text.strip() in _NO_TIME or text.startswith("0000-00-00")


def time_us(text: str | None, zone_name: str, field: str, date_format: str = "") -> int:
    """Epoch µs of a stamp; 0 for "no time". Naive stamps are local times in ``zone_name``.

    ``date_format``: "" or "iso8601" (``YYYY-MM-DD HH:MM:SS[.ffffff][+zone]``), a strptime
    format, or epoch / epoch_ms / epoch_us.
    """
    if is_no_time(text):
        return 0
    assert text is not None
    value = text.strip()
    if date_format in EPOCH_FORMATS:
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):  # also "inf" and "1e400", which int() cannot take
            raise InvalidCdr(f"expected a number ({date_format}), got {value!r}", field=field)
        return int(number * EPOCH_FORMATS[date_format])
    try:
        stamp = (
            datetime.datetime.strptime(value, date_format)
            if date_format and date_format != "iso8601"
            else datetime.datetime.fromisoformat(value)
        )
    except ValueError:
        expected = date_format if date_format and date_format != "iso8601" else "YYYY-MM-DD HH:MM:SS"
        raise InvalidCdr(f"expected a time like {expected}, got {value!r}", field=field) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=zone(zone_name))
    delta = stamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def whole_number(text: str | None, field: str, *, default: int | None = None) -> int:
    """A non-negative integer count (seconds, codes); "" gives ``default`` or an error."""
    value = (text or "").strip()
    if not value and default is not None:
        return default
    try:
        number = int(value) if value.lstrip("-").isdigit() else int(float(value))
    except (ValueError, OverflowError):  # OverflowError: "inf" or "1e400"
        raise InvalidCdr(f"expected a whole number, got {value!r}", field=field) from None
    if number < 0:
        raise InvalidCdr(f"must not be negative, got {number}", field=field)
    return number


def duration_ms(text: str | None, field: str, unit: str = "s") -> int:
    """Seconds (possibly fractional, as Kamailio's REAL) or milliseconds, as ms; "" is 0."""
    value = (text or "").strip()
    if not value:
        return 0
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):  # "nan", "inf" and "1e400" are no durations round() can take
        raise InvalidCdr(
            f"expected a number of {'milliseconds' if unit == 'ms' else 'seconds'}, got {value!r}", field=field
        )
    if number < 0:
        raise InvalidCdr(f"must not be negative, got {value}", field=field)
    return round(number) if unit == "ms" else round(number * 1000)
