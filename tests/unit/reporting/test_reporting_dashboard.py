"""The dashboard from hourly roll-ups equals a brute-force recomputation over the raw CDRs."""

from __future__ import annotations

import random
from typing import Any

import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain.dashboard import dashboard, dashboard_window
from cdrstats_reporting.domain.rollup import HOUR_US, aggregate, floor_hour, rollup_key

NOW_US = 1_760_000_000_000_000 + 1_234_567  # an arbitrary instant inside an hour
SEC_US = 1_000_000


def random_cdr(rng: random.Random, start_us: int, **overrides: Any) -> dict[str, Any]:
    answered = rng.random() < 0.6
    duration_ms = rng.randrange(0, 3 * 3600 * 1000)  # some calls run across several hour boundaries
    billsec_ms = rng.randrange(1, duration_ms + 2) if answered else 0
    values: dict[str, Any] = {
        "switch_id": rng.choice(["sw1", "sw2"]),
        "accountcode": rng.choice(["", "a1", "a2"]),
        "country": rng.choice(["", "FR", "US"]),
        "direction": rng.choice(["inbound", "outbound"]),
        "hangup_cause": 16 if answered else rng.choice([17, 18, 19, 21, 34, 41]),
        "start_time_us": start_us,
        "answer_time_us": start_us + SEC_US if answered else 0,
        "end_time_us": start_us + duration_ms * 1000,
        "duration_ms": duration_ms,
        "billsec_ms": billsec_ms,
        "pdd_ms": rng.choice([-1, rng.randrange(0, 5000)]),
    }
    values.update(overrides)
    return new_cdr(**values)


def random_cdrs(rng: random.Random, count: int) -> list[dict[str, Any]]:
    start, end = dashboard_window(NOW_US)
    boundaries = [start - HOUR_US, start, start + HOUR_US, end - HOUR_US, end, end + HOUR_US]
    cdrs = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.2:  # exactly on an hour boundary, including the window's own edges
            start_us = rng.choice(boundaries)
        elif roll < 0.3:  # one microsecond either side of a boundary
            start_us = rng.choice(boundaries) + rng.choice([-1, 1])
        else:
            start_us = rng.randrange(start - 3 * HOUR_US, end + 2 * HOUR_US)
        cdrs.append(random_cdr(rng, start_us))
    return cdrs


def brute_force(cdrs: list[dict[str, Any]], start_us: int, end_us: int) -> Totals:
    totals = Totals()
    for cdr in cdrs:
        if start_us <= cdr["start_time_us"] < end_us:
            totals.add_cdr(cdr)
    return totals


def test_window_is_the_24_hours_ending_with_the_current_hour() -> None:
    start, end = dashboard_window(NOW_US)
    assert end == floor_hour(NOW_US) + HOUR_US
    assert end - start == 24 * HOUR_US
    assert start <= NOW_US < end
    on_boundary = floor_hour(NOW_US)
    assert dashboard_window(on_boundary) == dashboard_window(on_boundary + HOUR_US - 1)
    assert dashboard_window(on_boundary - 1)[1] == on_boundary


def test_a_cdr_belongs_to_the_hour_of_its_start_only() -> None:
    hour = floor_hour(NOW_US)
    assert rollup_key(new_cdr(start_time_us=hour)).hour_start_us == hour
    assert rollup_key(new_cdr(start_time_us=hour - 1)).hour_start_us == hour - HOUR_US
    assert rollup_key(new_cdr(start_time_us=-1)).hour_start_us == -HOUR_US


@pytest.mark.parametrize("seed", range(25))
def test_dashboard_equals_brute_force(seed: int) -> None:
    rng = random.Random(seed)
    cdrs = random_cdrs(rng, rng.randrange(0, 400))
    start, end = dashboard_window(NOW_US)
    rows = [(key.hour_start_us, totals) for key, totals in aggregate(cdrs).items()]
    rng.shuffle(rows)

    report = dashboard(rows, start, end)

    expected = brute_force(cdrs, start, end)
    assert report.totals == expected
    assert (report.window_start_us, report.window_end_us) == (start, end)
    assert report.asr == pytest.approx(expected.asr)
    assert report.acd == pytest.approx(expected.acd)
    assert report.minutes == pytest.approx(expected.minutes)
    assert report.ach == pytest.approx(expected.attempts / 24)
    assert [hour.start_us for hour in report.hours] == list(range(start, end, HOUR_US))
    for hour in report.hours:
        assert hour.totals == brute_force(cdrs, hour.start_us, hour.start_us + HOUR_US)
    assert sum(hour.totals.attempts for hour in report.hours) == expected.attempts


def test_empty_window_has_24_zero_buckets() -> None:
    start, end = dashboard_window(NOW_US)
    report = dashboard([], start, end)
    assert len(report.hours) == 24
    assert report.totals == Totals()
    assert (report.asr, report.acd, report.ach, report.minutes) == (0.0, 0.0, 0.0, 0.0)


def test_window_must_be_whole_hours() -> None:
    start, end = dashboard_window(NOW_US)
    with pytest.raises(ValueError):
        dashboard([], start + 1, end)
    with pytest.raises(ValueError):
        dashboard([], end, start)
