"""Mail-report periods and the due rule: exact local days/weeks (DST days in Europe/Paris), week boundaries,
the send hour, missed periods after downtime, and schedule validation."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from cdrstats_notify.domain.mail_report import (
    InvalidMailReport,
    Schedule,
    due_period,
    last_complete,
    parse_period,
    period_of,
    send_time_us,
    validated,
)
from cdrstats_notify.domain.mail_report_data import PeriodTotals, compare

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
HOUR_US = 3_600_000_000


def utc_us(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp()) * 1_000_000


def paris_us(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=PARIS).timestamp()) * 1_000_000


@pytest.mark.parametrize(
    ("day", "hours", "start_utc"),
    [
        ("2025-10-26", 25, (2025, 10, 25, 22)),  # CEST -> CET: 25 hours
        ("2026-03-29", 23, (2026, 3, 28, 23)),  # CET -> CEST: 23 hours
        ("2025-11-26", 24, (2025, 11, 25, 23)),
        ("2025-07-14", 24, (2025, 7, 13, 22)),
    ],
)
def test_a_day_is_exactly_its_local_midnights(day: str, hours: int, start_utc: tuple[int, ...]) -> None:
    period = parse_period("daily", day, PARIS)
    assert period.label == day
    assert period.start_us == utc_us(*start_utc)
    assert period.end_us - period.start_us == hours * HOUR_US
    assert period.hours == hours
    following = period.following(PARIS)
    assert following.start_us == period.end_us  # [start, end): no gap, no overlap
    assert period.previous(PARIS).end_us == period.start_us


def test_weeks_are_iso_monday_to_sunday_and_hold_the_dst_change() -> None:
    week = parse_period("weekly", "2025-W43", PARIS)  # holds Sunday 2025-10-26
    assert (week.first, week.last) == (dt.date(2025, 10, 20), dt.date(2025, 10, 26))
    assert week.start_us == paris_us(2025, 10, 20) and week.end_us == paris_us(2025, 10, 27)
    assert week.hours == 7 * 24 + 1
    assert parse_period("weekly", "2026-W13", PARIS).hours == 7 * 24 - 1  # holds Sunday 2026-03-29
    # ISO years: 2026-01-01 is a Thursday, so week 1 of 2026 starts on Monday 2025-12-29
    first = period_of("weekly", dt.date(2026, 1, 1), PARIS)
    assert (first.label, first.first) == ("2026-W01", dt.date(2025, 12, 29))
    assert first.previous(PARIS).label == "2025-W52"
    assert period_of("weekly", dt.date(2026, 12, 31), PARIS).label == "2026-W53"
    assert period_of("weekly", dt.date(2027, 1, 3), PARIS).label == "2026-W53"


@pytest.mark.parametrize(
    ("kind", "label", "field"),
    [
        ("daily", "2025-13-01", "period"),
        ("daily", "26/11/2025", "period"),
        ("weekly", "2025-W54", "period"),
        ("weekly", "2025-11-26", "period"),
        ("monthly", "2025-11", "kind"),
    ],
)
def test_bad_periods_name_the_field(kind: str, label: str, field: str) -> None:
    with pytest.raises(InvalidMailReport, match=f"^{field}: expected"):
        parse_period(kind, label, PARIS)


def test_last_complete_period() -> None:
    now = paris_us(2025, 10, 27, 0, 30)  # Monday just after midnight
    assert last_complete("daily", now, PARIS).label == "2025-10-26"
    assert last_complete("weekly", now, PARIS).label == "2025-W43"
    assert last_complete("daily", paris_us(2025, 10, 26, 23, 59), PARIS).label == "2025-10-25"


def test_daily_is_due_once_the_local_hour_has_come() -> None:
    schedule = Schedule("", daily=True, hour=7, recipients=("ops@example.com",))
    assert due_period(schedule, "daily", paris_us(2025, 11, 26, 6, 59), PARIS).label == "2025-11-24"  # type: ignore[union-attr]
    at_seven = due_period(schedule, "daily", paris_us(2025, 11, 26, 7), PARIS)
    assert at_seven is not None and at_seven.label == "2025-11-25"
    sent = Schedule("", daily=True, hour=7, last_daily_period="2025-11-25")
    assert due_period(sent, "daily", paris_us(2025, 11, 26, 23, 59), PARIS) is None
    assert due_period(sent, "daily", paris_us(2025, 11, 27, 6, 59), PARIS) is None
    assert due_period(sent, "daily", paris_us(2025, 11, 27, 7), PARIS).label == "2025-11-26"  # type: ignore[union-attr]
    assert due_period(Schedule("", daily=False), "daily", paris_us(2025, 11, 27, 7), PARIS) is None


def test_after_downtime_only_the_latest_missed_period_is_sent() -> None:
    schedule = Schedule("", daily=True, weekly=True, hour=7, weekday=1, last_daily_period="2025-11-20")
    now = paris_us(2025, 11, 26, 12)
    due = due_period(schedule, "daily", now, PARIS)
    assert due is not None and due.label == "2025-11-25"
    after = Schedule("", daily=True, hour=7, last_daily_period=due.label)
    assert due_period(after, "daily", now, PARIS) is None  # the 21st..24th are not sent afterwards
    weekly = Schedule("", weekly=True, hour=7, weekday=1, last_weekly_period="2025-W40")
    assert due_period(weekly, "weekly", now, PARIS).label == "2025-W47"  # type: ignore[union-attr]


def test_weekly_is_sent_on_its_weekday_for_the_week_before() -> None:
    friday = Schedule("", weekly=True, hour=9, weekday=5)
    send = send_time_us(friday, parse_period("weekly", "2025-W47", PARIS), PARIS)
    assert send == paris_us(2025, 11, 28, 9)  # Friday of the next week
    assert due_period(friday, "weekly", paris_us(2025, 11, 28, 8, 59), PARIS).label == "2025-W46"  # type: ignore[union-attr]
    assert due_period(friday, "weekly", paris_us(2025, 11, 28, 9), PARIS).label == "2025-W47"  # type: ignore[union-attr]
    monday = Schedule("", weekly=True, hour=0, weekday=1)
    assert due_period(monday, "weekly", paris_us(2025, 11, 24, 0), PARIS).label == "2025-W47"  # type: ignore[union-attr]
    assert due_period(monday, "weekly", paris_us(2025, 11, 23, 23, 59), PARIS).label == "2025-W46"  # type: ignore[union-attr]


def test_the_send_hour_on_dst_days() -> None:
    # 02:00 does not exist on 2026-03-29 in Paris: the report for the 28th goes at 03:00 CEST (01:00 UTC)
    at_two = Schedule("", daily=True, hour=2)
    assert send_time_us(at_two, parse_period("daily", "2026-03-28", PARIS), PARIS) == utc_us(2026, 3, 29, 1)
    # 02:00 happens twice on 2025-10-26: the first one (CEST, 00:00 UTC)
    assert send_time_us(at_two, parse_period("daily", "2025-10-25", PARIS), PARIS) == utc_us(2025, 10, 26, 0)
    assert due_period(at_two, "daily", utc_us(2025, 10, 26, 0), PARIS).label == "2025-10-25"  # type: ignore[union-attr]


def test_switching_a_report_on_sends_no_backlog() -> None:
    since = paris_us(2025, 11, 26, 3)
    schedule = Schedule("", daily=True, hour=7, daily_since_us=since)
    assert due_period(schedule, "daily", since, PARIS) is None  # the 24th was due yesterday at 07:00
    assert due_period(schedule, "daily", paris_us(2025, 11, 26, 7), PARIS).label == "2025-11-25"  # type: ignore[union-attr]


def test_validation_names_the_field() -> None:
    ok = validated(Schedule("customer:7", recipients=(" a@example.com ", "A@example.com", "b@example.org")))
    assert ok.recipients == ("a@example.com", "b@example.org")
    cases = [
        (Schedule("", hour=24), r"^hour: expected a local hour 0\.\.23, got 24"),
        (Schedule("", hour=-1), r"^hour: "),
        (Schedule("", weekday=0), r"^weekday: expected 1 \(Monday\) \.\. 7 \(Sunday\), got 0"),
        (Schedule("", weekday=8), r"^weekday: "),
        (Schedule("", recipients=("ops@example.com", "not an address")), r"^recipients\[1\]: expected an e-mail"),
        (Schedule("tenant-7"), r"^owner: "),
    ]
    for schedule, message in cases:
        with pytest.raises(InvalidMailReport, match=message):
            validated(schedule)


def test_comparison_with_the_previous_period() -> None:
    now = PeriodTotals(attempts=120, answered=60, billsec_ms=3_600_000, hours=24)
    before = PeriodTotals(attempts=100, answered=60, billsec_ms=4_800_000, hours=25)
    changes = {c.key: c for c in compare(now, before)}
    assert (changes["attempts"].delta, changes["attempts"].percent, changes["attempts"].direction) == (20, 20.0, "up")
    assert changes["answered"].direction == "same" and changes["answered"].percent == 0.0
    assert changes["asr"].current == 50.0 and changes["asr"].previous == 60.0
    assert changes["acd"].current == 60.0 and changes["acd"].previous == 80.0
    assert changes["acd"].percent == -25.0 and changes["acd"].direction == "down"
    assert changes["ach"].current == 5.0 and changes["ach"].previous == 4.0  # 25-hour day
    assert changes["minutes"].current == 60.0
    empty = {c.key: c for c in compare(now, PeriodTotals())}
    assert empty["attempts"].percent is None and empty["attempts"].delta == 120
