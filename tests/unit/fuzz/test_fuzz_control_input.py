"""User input of alarms, destination lists, contacts and mail reports, fuzzed from the gateway to the owner.

An alarm body or form the gateway reads crosses the real gRPC conversion and alerting answers InvalidAlarm
naming the field, or keeps it; prefixes, countries, contacts and report periods are clean values or errors
naming the field; and what the API shows (an alarm's JSON, a period's label) reads back the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zoneinfo
from typing import Any

from fuzz_strategies import FUZZ, FUZZ_MORE, dicts_of, json_trees, mutated, odd_text, outcome
from hypothesis import example, given
from hypothesis import strategies as st

from cdrstats_alerting import convert_alarms
from cdrstats_alerting.domain import alarms as alerting_alarms
from cdrstats_alerting.domain import destinations as alerting_destinations
from cdrstats_alerting.domain.errors import InvalidArgument
from cdrstats_gateway import alarm_rpc
from cdrstats_gateway.alarm_json import alarm_json
from cdrstats_gateway.domain import alarms, control, destinations
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_notify.domain import deliveries, mail_report

ALARM_KEYS = ["name", "metric", "condition", "hangup_cause", "baseline", "scope", "window", "threshold"]
ALARM_KEYS += ["min_attempts", "cooldown_s", "enabled", "emails", "webhooks"]
FORM_KEYS = ["name", "metric", "condition", "hangup_cause", "baseline", "scope_kind", "scope_value_country"]
FORM_KEYS += ["scope_value_prefix", "window", "threshold", "min_attempts", "cooldown_min", "enabled", "emails"]
likely = st.sampled_from(
    ["asr", "cic", "cause_share", "lt", "falls_by", "last_hour", "previous_window", "country", "DE", "40", "1e12"]
)
alarm_values = st.one_of(json_trees, likely, st.integers(-(2**40), 2**40), st.lists(odd_text, max_size=3))
BASE = alarms.Alarm(id="al_1", name="ASR", metric="cause_share", hangup_cause=17, condition="falls_by",
                    baseline="previous_window", threshold=5.0, emails=("noc@example.com",))  # fmt: skip


def alerting_takes(alarm: alarms.Alarm) -> Any:
    """The alarm as alerting receives it (the real conversions both sides), validated there."""
    received = convert_alarms.alarm_from_proto(alarm_rpc.alarm_to_proto(alarm))
    return outcome(lambda: alerting_alarms.validate(received), (InvalidArgument,))


@FUZZ_MORE
@given(body=dicts_of(ALARM_KEYS, alarm_values), patch=st.booleans())
@example(body={"metric": "cause_share", "hangup_cause": 10**12}, patch=False)  # past int32: the proto refused it
@example(body={"scope": {"kind": ["x"]}}, patch=False)
@example(body={"threshold": "1e400"}, patch=True)
def test_any_alarm_body_reaches_alerting_and_comes_back_valid_or_named(body: dict[str, Any], patch: bool) -> None:
    alarm = outcome(lambda: alarms.from_json(body, BASE if patch else None), (InvalidInput,))
    if isinstance(alarm, InvalidInput):
        assert alarm.field in alarms.FORM_FIELDS | {"scope.kind", "scope.value", "cooldown_s"}
        return
    checked = alerting_takes(alarm)
    if isinstance(checked, alerting_alarms.Alarm):
        assert alerting_alarms.validate(checked) == checked  # normalised once, stable after
    else:
        assert str(checked).startswith("alarm.")


valid_forms = st.fixed_dictionaries(
    {
        "name": st.just("Low ASR to DE"),
        "metric": st.sampled_from(["asr", "cause_share", "cic"]),
        "condition": st.sampled_from(["lt", "gt", "falls_by"]),
        "hangup_cause": st.just("17"),
        "baseline": st.just("previous_window"),
        "scope_kind": st.sampled_from(["all", "country", "prefix"]),
        "scope_value_country": st.just("DE"),
        "scope_value_prefix": st.just("4930"),
        "window": st.sampled_from(["last_hour", "day"]),
        "threshold": st.sampled_from(["40", "12,5"]),
        "min_attempts": st.just("10"),
        "cooldown_min": st.just("60"),
        "enabled": st.just("on"),
        "emails": st.just("noc@example.com\nops@example.com"),
    }
)


@FUZZ_MORE
@given(form=dicts_of(FORM_KEYS, odd_text | likely) | mutated(valid_forms, odd_text | likely))
@example(form={"metric": "cause_share", "hangup_cause": "999999999999"})
def test_any_alarm_form_reaches_alerting_or_names_the_field(form: dict[str, str]) -> None:
    alarm = outcome(lambda: alarms.from_form(form), (InvalidInput,))
    if not isinstance(alarm, InvalidInput):
        alerting_takes(alarm)


valid_alarms = st.builds(
    alarms.Alarm,
    id=st.just("al_1"),
    name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).map(str.strip),
    metric=st.sampled_from(["asr", "acd", "ner", "attempts", "pdd_ms"]),
    scope_kind=st.just("country"),
    scope_value=st.sampled_from(["DE", "GB", "US"]),
    window=st.sampled_from(sorted(alarms.WINDOWS)),
    condition=st.sampled_from(["lt", "gt"]),
    threshold=st.integers(0, 10_000).map(lambda n: n / 100),
    min_attempts=st.integers(0, 10**6),
    cooldown_s=st.integers(0, 31 * 86_400),
    enabled=st.booleans(),
    emails=st.lists(st.from_regex(r"\A[a-z]{1,8}@[a-z]{1,8}\.example\.com\Z"), max_size=3, unique=True).map(tuple),
    webhooks=st.lists(st.from_regex(r"\Ahttps://[a-z]{1,8}\.example\.com/[a-z]{0,8}\Z"), max_size=2, unique=True).map(
        tuple
    ),
)


@FUZZ
@given(alarm=valid_alarms.filter(lambda a: a.name))
def test_an_alarm_as_the_api_shows_it_reads_back_as_the_same_definition(alarm: alarms.Alarm) -> None:
    shown = json.loads(json.dumps(alarm_json(alarm)))
    assert alarms.from_json(shown) == dataclasses.replace(alarm, id="")
    assert isinstance(alerting_takes(alarm), alerting_alarms.Alarm)


@FUZZ_MORE
@given(text=odd_text | st.from_regex(r"\A[+0 ]{0,3}[0-9 ()./-]{0,20}\Z"))
@example(text="²")  # isdigit() said yes: a prefix alerting then refused
@example(text="٣٤")
@example(text="9" * 5000)  # customer:<5000 digits>: int() refuses 4300+ digits
def test_any_prefix_or_country_is_clean_or_names_the_field(text: str) -> None:
    tenant = control.customer_of(f"customer:{text}")  # tenant ids come back from alerting and notify
    assert tenant is None or (text.isascii() and control.tenant_id(tenant) == f"customer:{int(text)}")
    prefix = outcome(lambda: destinations.normalize_prefix(text), (InvalidInput,))
    if isinstance(prefix, str):  # what the gateway passes on, alerting takes unchanged
        assert alerting_destinations.normalise_prefix(prefix, "entries[0].prefix") == prefix
    country = outcome(lambda: destinations.normalize_country(text), (InvalidInput,))
    if isinstance(country, str):
        assert alerting_destinations.normalise_country(country, "entries[0].country") == country
    outcome(lambda: destinations.country_prefixes(text), (InvalidInput,))


@FUZZ
@given(digits=st.from_regex(r"\A[1-9][0-9]{0,14}\Z"), style=st.sampled_from(["+", "00", "", "+ -"]))
def test_a_prefix_written_any_usual_way_is_its_e164_digits(digits: str, style: str) -> None:
    written = {"+": "+" + digits, "00": "00" + digits, "": digits, "+ -": "+" + " ".join(digits[:2]) + "-" + digits[2:]}
    assert destinations.normalize_prefix(written[style]) == digits


@FUZZ_MORE
@given(
    entry=st.builds(
        alerting_destinations.ListEntry,
        id=st.just(""),
        list=st.sampled_from(["black", "white", "grey"]) | odd_text,
        owner=st.just(""),
        prefix=st.just("") | odd_text | st.from_regex(r"\A\+?[0-9]{1,16}\Z"),
        country=st.just("") | odd_text | st.sampled_from(["gb", " DE ", "XX"]),
        note=st.just("") | odd_text | st.text(min_size=490, max_size=510),
    )
)
def test_any_list_entry_is_clean_or_names_the_field(entry: alerting_destinations.ListEntry) -> None:
    made = outcome(
        lambda: alerting_destinations.make_entry(entry, owner="", field="entries[0]", now_us=1), (InvalidArgument,)
    )
    if isinstance(made, alerting_destinations.ListEntry):
        assert bool(made.prefix) != bool(made.country)


@FUZZ_MORE
@given(
    emails=st.lists(odd_text | st.sampled_from(["noc@example.com", " NOC@example.com"]), max_size=3),
    hooks=st.lists(
        odd_text | st.sampled_from(["http://[::1", "http://h:99999", "https://[x]/", "https://hooks.example.com/a"]),
        max_size=3,
    ),
)
@example(emails=[], hooks=["http://[::1"])  # ValueError: Invalid IPv6 URL, naming no field
@example(emails=[], hooks=["https://hooks.example.com:99999/x"])
def test_any_contacts_are_kept_clean_or_name_the_entry(emails: list[str], hooks: list[str]) -> None:
    contacts = outcome(lambda: deliveries.clean_contacts("", emails, hooks), (ValueError,))
    if isinstance(contacts, deliveries.Contacts):
        assert all(deliveries.is_email(e) for e in contacts.emails)
        assert all(deliveries.is_webhook_url(h) for h in contacts.webhooks)


PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@FUZZ_MORE
@given(
    kind=st.sampled_from(["daily", "weekly", "monthly"]),
    label=odd_text
    | st.from_regex(r"\A[0-9]{4}-(W[0-9]{2}|[0-9]{2}-[0-9]{2})\Z")
    | st.dates().map(lambda day: day.isoformat())
    | st.dates().map(lambda day: "{:04d}-W{:02d}".format(*day.isocalendar()[:2])),
)
@example(kind="daily", label="9999-12-31")  # its period ends in year 10000
@example(kind="weekly", label="9999-W52")
@example(kind="daily", label="0001-01-01")
def test_any_period_label_is_a_period_or_names_the_field(kind: str, label: str) -> None:
    period = outcome(lambda: mail_report.parse_period(kind, label, PARIS), (mail_report.InvalidMailReport,))
    if isinstance(period, mail_report.Period):
        assert period.start_us < period.end_us
        assert period.previous(PARIS).end_us == period.start_us == period.previous(PARIS).following(PARIS).start_us


@FUZZ
@given(
    day=st.dates(min_value=dt.date(1970, 1, 8), max_value=dt.date(2099, 12, 24)),
    kind=st.sampled_from(["daily", "weekly"]),
)
def test_a_periods_label_reads_back_as_the_same_period(day: dt.date, kind: str) -> None:
    period = mail_report.period_of(kind, day, PARIS)
    assert mail_report.parse_period(kind, period.label, PARIS) == period
    assert period.first <= day <= period.last


@FUZZ
@given(
    schedule=st.builds(
        mail_report.Schedule,
        owner=st.sampled_from(["", "customer:7", "customer:", "admin"]),
        hour=st.integers(-2, 26),
        weekday=st.integers(-1, 9),
        recipients=st.lists(odd_text | st.sampled_from(["ops@example.com", " OPS@example.com "]), max_size=4).map(
            tuple
        ),
        switch_id=odd_text | st.text(min_size=195, max_size=205),
    )
)
def test_any_mail_report_schedule_is_valid_or_names_the_field(schedule: mail_report.Schedule) -> None:
    checked = outcome(lambda: mail_report.validated(schedule), (mail_report.InvalidMailReport,))
    if isinstance(checked, mail_report.Schedule):
        assert len({r.lower() for r in checked.recipients}) == len(checked.recipients)
