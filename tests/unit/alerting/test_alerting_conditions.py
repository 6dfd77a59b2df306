"""Alarm rules at their boundaries: every condition, baseline and window (DST in Europe/Paris), the
verdicts (min attempts, undefined values), the cooldown and the state machine, validation errors."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import pytest

from cdrstats_alerting.alarm_evaluation import AlarmEvaluator
from cdrstats_alerting.domain import messages
from cdrstats_alerting.domain.alarms import FIRING, OK, Alarm, AlarmScope, InvalidAlarm, validate
from cdrstats_alerting.domain.evaluate import (
    CLEARED,
    TRIGGERED,
    Measurement,
    Verdict,
    breached,
    judge,
    measurement,
    transition,
)
from cdrstats_alerting.domain.windows import Span, baseline_span, window_span
from cdrstats_alerting.metric_source import CdrListMetricSource
from cdrstats_common.cdr import new_cdr

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
UTC = zoneinfo.ZoneInfo("UTC")
MIN, HOUR, DAY = 60_000_000, 3_600_000_000, 86_400_000_000


def us(*parts: int, zone: dt.tzinfo = dt.UTC) -> int:
    """Epoch microseconds of a wall-clock time in ``zone``."""
    return int(dt.datetime(*parts, tzinfo=zone).timestamp()) * 1_000_000


def alarm(**overrides: object) -> Alarm:
    base = Alarm(name="asr low", metric="asr", window="last_hour", condition="lt", threshold=40.0)
    return dataclasses.replace(base, **overrides)


# -- conditions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "threshold", "value", "baseline", "expected"),
    [
        ("lt", 40, 40, None, False),  # exactly at the threshold: not "less than"
        ("lt", 40, 39.999, None, True),
        ("lt", 40, 100 * 2 / 5, None, False),  # 40.0 computed: no float noise breach
        ("lt", 0, 0, None, False),
        ("gt", 10, 10, None, False),
        ("gt", 10, 10.001, None, True),
        ("gt", 0.3, 0.1 + 0.2, None, False),  # 0.30000000000000004 is 0.3
        ("falls_by", 10, 40, 50, False),  # fell by exactly 10
        ("falls_by", 10, 39.99, 50, True),
        ("falls_by", 10, 60, 50, False),  # a rise is no fall
        ("rises_by", 10, 60, 50, False),
        ("rises_by", 10, 60.01, 50, True),
        ("rises_by", 0, 50, 50, False),
        ("rises_by", 0, 50.5, 50, True),
        ("falls_by_pct", 20, 40, 50, False),  # exactly 20 % (0.2 * 100 is 20.000000000000004 in floats)
        ("falls_by_pct", 20, 39.99, 50, True),
        ("falls_by_pct", 10, 0, 0, False),  # nothing can fall from 0
        ("falls_by_pct", 99, 0, 50, True),  # a fall to 0 is 100 %
        ("rises_by_pct", 20, 60, 50, False),
        ("rises_by_pct", 20, 60.01, 50, True),
        ("rises_by_pct", 50, 0, 0, False),  # 0 -> 0: no change
        ("rises_by_pct", 1000, 1, 0, True),  # 0 -> something: an unbounded rise
        ("rises_by_pct", 10, 33.33, 30.3, False),  # 9.99 %
        ("rises_by_pct", 10, 33.34, 30.3, True),  # 10.03 %
    ],
)
def test_each_condition_at_its_boundary(
    condition: str, threshold: float, value: float, baseline: float | None, expected: bool
) -> None:
    assert breached(condition, threshold, value, baseline) is expected


def test_relative_conditions_need_a_baseline() -> None:
    with pytest.raises(ValueError, match="baseline"):
        breached("falls_by", 1, 1, None)


# -- verdicts ---------------------------------------------------------------------------------


def test_min_attempts_boundary() -> None:
    rule = alarm(min_attempts=10)
    assert judge(rule, Measurement(10.0, 10), None) == Verdict("breach")
    below = judge(rule, Measurement(10.0, 9), None)
    assert below.verdict == "insufficient" and "9 attempts, fewer than the minimum 10" in below.reason


@pytest.mark.parametrize(
    ("metric", "attempts", "answered", "pdd_count", "defined"),
    [
        ("asr", 0, 0, 0, False),
        ("asr", 1, 0, 0, True),
        ("ner", 0, 0, 0, False),
        ("cause_share", 0, 0, 0, False),
        ("acd", 5, 0, 0, False),  # ACD without an answered call does not exist
        ("acd", 5, 1, 0, True),
        ("aloc", 5, 0, 0, False),
        ("pdd_ms", 5, 5, 0, False),
        ("pdd_ms", 5, 0, 1, True),
        ("attempts", 0, 0, 0, True),  # additive metrics are 0, not undefined
        ("minutes", 0, 0, 0, True),
        ("concurrent_peak", 0, 0, 0, True),
    ],
)
def test_ratio_metrics_are_undefined_without_their_denominator(
    metric: str, attempts: int, answered: int, pdd_count: int, defined: bool
) -> None:
    assert (measurement(metric, 0.0, attempts, answered, pdd_count).value is not None) is defined


def test_undefined_values_and_baselines_are_insufficient() -> None:
    assert judge(alarm(), Measurement(None, 0), None).verdict == "insufficient"
    relative = alarm(condition="falls_by", baseline="previous_window", threshold=5)
    verdict = judge(relative, Measurement(30.0, 10), Measurement(None, 0))
    assert verdict.verdict == "insufficient" and "baseline" in verdict.reason
    assert judge(relative, Measurement(30.0, 10), Measurement(36.0, 10)).verdict == "breach"
    assert judge(relative, Measurement(30.0, 10), Measurement(35.0, 10)).verdict == "ok"


# -- state machine and cooldown ---------------------------------------------------------------


def test_ok_firing_ok() -> None:
    assert transition(OK, "breach", 0, 1_000, 300) == transition(OK, "breach", 0, 1_000, 0)
    assert transition(OK, "breach", 0, 1_000, 300).event == TRIGGERED
    assert transition(FIRING, "breach", 1_000, 2_000, 300).event == ""
    assert transition(FIRING, "ok", 1_000, 2_000, 300).state_after == OK
    assert transition(FIRING, "ok", 1_000, 2_000, 300).event == CLEARED
    assert transition(OK, "ok", 0, 2_000, 300).event == ""


@pytest.mark.parametrize("verdict", ["insufficient", "error"])
@pytest.mark.parametrize("state", [OK, FIRING])
def test_no_data_keeps_the_state(state: str, verdict: str) -> None:
    assert transition(state, verdict, 0, 5_000, 60).state_after == state
    assert transition(state, verdict, 0, 5_000, 60).event == ""


def test_cooldown_holds_a_new_firing_until_cooldown_after_the_last_one() -> None:
    fired_at = 1_000_000_000
    cooldown_s = 600
    just_before = transition(OK, "breach", fired_at, fired_at + cooldown_s * 1_000_000 - 1, cooldown_s)
    assert (just_before.state_after, just_before.event) == (OK, "")
    assert just_before.held_until_us == fired_at + cooldown_s * 1_000_000
    at_end = transition(OK, "breach", fired_at, fired_at + cooldown_s * 1_000_000, cooldown_s)
    assert (at_end.state_after, at_end.event) == (FIRING, TRIGGERED)
    # recovery is never delayed by the cooldown
    assert transition(FIRING, "ok", fired_at, fired_at + 1, cooldown_s).event == CLEARED


# -- windows ----------------------------------------------------------------------------------


def test_rolling_windows_and_their_baselines() -> None:
    now = us(2026, 1, 14, 10, 7, 30)
    assert window_span("last_15m", now, UTC) == Span(now - 15 * MIN, now)
    assert window_span("last_hour", now, UTC) == Span(now - HOUR, now)
    assert window_span("last_day", now, UTC) == Span(now - DAY, now)
    assert baseline_span("last_hour", "previous_window", now, UTC) == Span(now - 2 * HOUR, now - HOUR)
    assert baseline_span("last_15m", "same_window_last_week", now, UTC) == Span(now - 7 * DAY - 15 * MIN, now - 7 * DAY)


def test_same_hour_last_week_follows_the_local_clock_across_dst() -> None:
    now = us(2026, 4, 1, 10, zone=PARIS)  # CEST; a week earlier was CET
    span = baseline_span("last_hour", "same_window_last_week", now, PARIS)
    assert span == Span(us(2026, 3, 25, 9, zone=PARIS), us(2026, 3, 25, 10, zone=PARIS))
    assert span.end_us - now == -7 * DAY + HOUR  # 167 real hours


def test_week_window_across_the_spring_dst_change() -> None:
    now = us(2026, 3, 29, 12, zone=PARIS)  # Sunday, the day clocks went 02:00 -> 03:00
    monday = us(2026, 3, 23, zone=PARIS)
    assert window_span("week", now, PARIS) == Span(monday, now)
    assert monday == us(2026, 3, 22, 23)
    previous = Span(us(2026, 3, 16, zone=PARIS), us(2026, 3, 22, 12, zone=PARIS))
    assert baseline_span("week", "previous_window", now, PARIS) == previous
    assert previous == Span(us(2026, 3, 15, 23), us(2026, 3, 22, 11))
    # the same elapsed part on the wall clock: one real hour longer than this week's window
    assert (previous.end_us - previous.start_us) - (now - monday) == HOUR
    assert baseline_span("week", "same_window_last_week", now, PARIS) == previous


def test_day_window_on_a_23_hour_day() -> None:
    now = us(2026, 3, 29, 12, zone=PARIS)
    assert window_span("day", now, PARIS) == Span(us(2026, 3, 28, 23), now)
    assert baseline_span("day", "previous_window", now, PARIS) == Span(us(2026, 3, 27, 23), us(2026, 3, 28, 11))
    assert baseline_span("day", "same_window_last_week", now, PARIS) == Span(us(2026, 3, 21, 23), us(2026, 3, 22, 11))


def test_month_windows_clamp_to_the_previous_month_and_cross_autumn_dst() -> None:
    now = us(2026, 3, 31, 12, zone=PARIS)
    assert window_span("month", now, PARIS) == Span(us(2026, 2, 28, 23), now)
    # March 31 has no February counterpart: all of February
    assert baseline_span("month", "previous_window", now, PARIS) == Span(us(2026, 1, 31, 23), us(2026, 2, 28, 23))
    autumn = us(2025, 11, 15, 8, zone=PARIS)
    assert window_span("month", autumn, PARIS) == Span(us(2025, 10, 31, 23), autumn)
    assert baseline_span("month", "previous_window", autumn, PARIS) == Span(us(2025, 9, 30, 22), us(2025, 10, 15, 6))


def test_a_calendar_window_is_empty_at_its_period_start() -> None:
    monday = us(2026, 3, 23, zone=PARIS)
    assert window_span("week", monday, PARIS).empty
    assert window_span("week", monday + 1, PARIS) == Span(monday, monday + 1)
    assert window_span("month", us(2026, 3, 1, zone=PARIS), PARIS).empty


# -- evaluation over real CDRs: what is inside a window and its baseline ----------------------


class NoStore:
    """The evaluator reads tenants and CIC runs from its store; admin alarms need neither."""

    def tenant_accountcodes(self, tenant_id: str) -> tuple[str, ...]:
        return ()


def test_window_edges_decide_which_cdrs_count() -> None:
    now = us(2026, 1, 14, 10)
    cdrs = [
        new_cdr(id="in-first", start_time_us=now - HOUR, end_time_us=now - HOUR + 1),  # the window's first instant
        new_cdr(id="base-last", start_time_us=now - HOUR - 1, end_time_us=now - HOUR),  # the baseline's last
        new_cdr(id="base-first", start_time_us=now - 2 * HOUR, end_time_us=now - 2 * HOUR + 1),
        new_cdr(id="too-old", start_time_us=now - 2 * HOUR - 1, end_time_us=now - 2 * HOUR),
        new_cdr(id="at-now", start_time_us=now, end_time_us=now + 1),  # [start, now): not yet
    ]
    source = CdrListMetricSource(cdrs)
    evaluator = AlarmEvaluator(NoStore(), source)  # type: ignore[arg-type]
    rising = alarm(metric="attempts", condition="rises_by", baseline="previous_window", threshold=0)
    evaluation, _ = evaluator.evaluate(validate(rising), now)
    assert (evaluation.value, evaluation.baseline, evaluation.attempts) == (1.0, 2.0, 1)
    assert evaluation.window == Span(now - HOUR, now)
    assert evaluation.baseline_window == Span(now - 2 * HOUR, now - HOUR)
    assert evaluation.verdict == "ok"
    falling = validate(dataclasses.replace(rising, condition="falls_by", threshold=0.5))
    assert evaluator.evaluate(falling, now)[0].verdict == "breach"
    # the same alarm one microsecond later: "in-first" has left the window, "at-now" entered it
    assert evaluator.evaluate(falling, now + 1)[0].value == 1.0


def test_empty_window_and_min_attempts_over_real_cdrs() -> None:
    monday = us(2026, 3, 23, zone=PARIS)
    source = CdrListMetricSource([new_cdr(start_time_us=monday + s * 1_000_000) for s in range(3)])
    evaluator = AlarmEvaluator(NoStore(), source, time_zone="Europe/Paris")  # type: ignore[arg-type]
    weekly = validate(alarm(metric="attempts", window="week", condition="gt", threshold=1, min_attempts=3))
    assert evaluator.evaluate(weekly, monday)[0].verdict == "insufficient"  # empty window
    assert source.queries == []  # nothing asked for an empty window
    assert evaluator.evaluate(weekly, monday + 2_000_000)[0].verdict == "insufficient"  # 2 attempts < 3
    assert evaluator.evaluate(weekly, monday + 2_000_001)[0].verdict == "breach"


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": " "}, "alarm.name"),
        ({"metric": "mos"}, "alarm.metric"),
        ({"window": "fortnight"}, "alarm.window"),
        ({"window": ""}, "alarm.window"),
        ({"condition": "eq"}, "alarm.condition"),
        ({"threshold": float("nan")}, "alarm.threshold"),
        ({"threshold": -1.0}, "alarm.threshold"),
        ({"threshold": 101.0}, "alarm.threshold"),  # ASR is a percentage
        ({"condition": "falls_by_pct", "baseline": "previous_window", "threshold": 100.0}, "alarm.threshold"),
        ({"condition": "falls_by"}, "alarm.baseline"),
        ({"condition": "falls_by", "baseline": "yesterday"}, "alarm.baseline"),
        ({"baseline": "previous_window"}, "alarm.baseline"),  # lt takes no baseline
        ({"metric": "cic", "condition": "rises_by", "baseline": "previous_window"}, "alarm.condition"),
        ({"metric": "cause_share"}, "alarm.hangup_cause"),
        ({"metric": "cause_share", "hangup_cause": 128}, "alarm.hangup_cause"),
        ({"hangup_cause": 17}, "alarm.hangup_cause"),
        ({"min_attempts": -1}, "alarm.min_attempts"),
        ({"cooldown_s": -5}, "alarm.cooldown_s"),
        ({"scope": AlarmScope("region", "eu")}, "alarm.scope.kind"),
        ({"scope": AlarmScope("all", "x")}, "alarm.scope.value"),
        ({"scope": AlarmScope("switch", "")}, "alarm.scope.value"),
        ({"scope": AlarmScope("country", "DEU")}, "alarm.scope.value"),
        ({"scope": AlarmScope("prefix", "44-20")}, "alarm.scope.value"),
        ({"emails": ("noc@example.com", "not-an-address")}, "alarm.emails[1]"),
        ({"webhooks": ("ftp://example.com/hook",)}, "alarm.webhooks[0]"),
        ({"webhooks": ("https://",)}, "alarm.webhooks[0]"),
        ({"webhooks": ("http://example.com:99999/x",)}, "alarm.webhooks[0]"),
    ],
)
def test_bad_definitions_name_their_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidAlarm) as excinfo:
        validate(alarm(**overrides))
    assert excinfo.value.field == field
    assert str(excinfo.value).startswith(f"{field}: expected")


def test_validation_normalises() -> None:
    checked = validate(
        alarm(
            name="  CIC on UK  ",
            metric="CIC",
            window="",
            condition="GT",
            threshold=10,
            scope=AlarmScope("prefix", "+44"),
            emails=("noc@example.com", "NOC@example.com", "ops@example.org"),
            webhooks=("https://hooks.example.com/a", "https://hooks.example.com/a"),
        )
    )
    assert (checked.name, checked.metric, checked.condition, checked.window) == ("CIC on UK", "cic", "gt", "")
    assert checked.scope == AlarmScope("prefix", "44")
    assert checked.emails == ("noc@example.com", "ops@example.org")
    assert checked.webhooks == ("https://hooks.example.com/a",)
    assert validate(alarm(scope=AlarmScope("country", "de"))).scope == AlarmScope("country", "DE")


# -- messages and links -----------------------------------------------------------------------


def test_messages_say_what_happened() -> None:
    rule = validate(alarm(scope=AlarmScope("switch", "sw1")))
    assert (
        messages.message(rule, 31.25, None, Verdict("breach")) == "ASR 31.25 % < 40 % over the last hour for switch sw1"
    )
    assert messages.message(rule, 52.0, None, Verdict("ok")) == "ASR 52 %, not < 40 % over the last hour for switch sw1"
    relative = validate(alarm(window="week", condition="falls_by_pct", baseline="same_window_last_week", threshold=10))
    text = messages.message(relative, 40.0, 50.0, Verdict("breach"))
    assert text == "ASR fell by 20 % (more than 10 %): 40 % against 50 % in the same window last week this week so far"
    held = messages.message(rule, 30.0, None, Verdict("breach"), held_until_us=us(2026, 1, 1, 12))
    assert "(cooldown: no new alarm before 2026-01-01T12:00:00Z)" in held


def test_links_name_the_gateway_search_parameters() -> None:
    rule = validate(alarm(metric="cause_share", hangup_cause=34, scope=AlarmScope("prefix", "4420")))
    span = Span(us(2026, 1, 14, 9), us(2026, 1, 14, 10) + 5)
    assert messages.link("", rule, span) == (
        "/cdrs?from=2026-01-14T09%3A00%3A00Z&to=2026-01-14T10%3A00%3A00.000005Z&prefix=4420&hangup_cause=34"
    )
    cic = validate(alarm(metric="cic", window="", condition="gt", threshold=5, scope=AlarmScope("accountcode", "a1")))
    assert messages.link("https://cdr.example.com", cic, span).startswith("https://cdr.example.com/cdrs?from=")
    assert messages.link("", cic, span).endswith("&accountcode=a1&answered=no")
