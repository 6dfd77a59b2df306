"""How numbers and times are shown on pages and in the API."""

from __future__ import annotations

import datetime
import zoneinfo


def rfc3339(time_us: int) -> str:
    """UTC RFC 3339 with a Z suffix, seconds precision (report windows are whole hours)."""
    moment = datetime.datetime.fromtimestamp(time_us / 1_000_000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def local_hour(time_us: int, time_zone: str) -> str:
    """``YYYY-MM-DD HH:00`` in the installation's reporting zone."""
    moment = datetime.datetime.fromtimestamp(time_us / 1_000_000, tz=zoneinfo.ZoneInfo(time_zone))
    return moment.strftime("%Y-%m-%d %H:%M")


def mm_ss(seconds: float) -> str:
    """ACD as minutes:seconds, rounded to the second (``125.4`` -> ``2:05``)."""
    total = round(seconds)
    return f"{total // 60}:{total % 60:02d}"


def count(value: int) -> str:
    return f"{value:,}"


def decimal(value: float, places: int = 1) -> str:
    return f"{value:,.{places}f}"


def timestamp(seconds: float | None) -> str:
    """An epoch-seconds time for lists (``2026-01-02 03:04 UTC``), or ``never``."""
    if seconds is None:
        return "never"
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
