"""Call-state events: validation, time formats and number normalisation into ``call_state`` data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cdrstats_ingest.domain.callstate import MAX_EVENTS, normalise, parse_body, parse_time
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig

SWITCH = SwitchConfig(id="pbx-lon", home_country="GB", remove_prefixes=("9",))
T_US = 1_714_557_600_120_033  # 2024-05-01T10:00:00.120033Z


def event(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "event": "started",
        "uuid": "leg-1",
        "time": T_US,
        "caller_id_number": "1001",
        "destination_number": "902079460958",
        "accountcode": "acme",
        "direction": "outbound",
    }
    values.update(overrides)
    return values


def test_started_event_is_normalised_with_the_switch_rules() -> None:
    assert normalise(event(), SWITCH) == {
        "switch_id": "pbx-lon",
        "uuid": "leg-1",
        "event": "started",
        "time_us": T_US,
        "caller_id_number": "1001",
        "destination_number": "902079460958",
        "destination_e164": "+442079460958",
        "country": "GB",
        "accountcode": "acme",
        "direction": "outbound",
    }


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (T_US, T_US),
        (str(T_US), T_US),
        ("2024-05-01T10:00:00.120033Z", T_US),
        ("2024-05-01T12:00:00.120033+02:00", T_US),
        ("2024-05-01 10:00:00Z", T_US - 120_033),
    ],
)
def test_time_formats(value: Any, expected: int) -> None:
    assert parse_time(value, field="time") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1_714_557_600, "not epoch microseconds"),  # seconds by mistake
        (1_714_557_600_120, "not epoch microseconds"),  # milliseconds by mistake
        ("2024-05-01T10:00:00", "without an offset"),
        ("yesterday", "not an RFC 3339 time"),
        (True, "expected RFC 3339"),
        (1.5e15, "expected RFC 3339 or epoch microseconds, got float"),
    ],
)
def test_bad_times_are_named(value: Any, message: str) -> None:
    with pytest.raises(InvalidCdr) as exc:
        normalise(event(time=value), SWITCH)
    assert exc.value.field == "time"
    assert message in str(exc.value)


def test_missing_time_is_the_arrival_time_and_unknowns_are_empty() -> None:
    data = normalise({"event": "ended", "uuid": "x"}, SWITCH, now_us=lambda: T_US)
    assert data == {
        "switch_id": "pbx-lon",
        "uuid": "x",
        "event": "ended",
        "time_us": T_US,
        "caller_id_number": "",
        "destination_number": "",
        "destination_e164": "",
        "country": "",
        "accountcode": "",
        "direction": "",
    }


def test_extension_to_extension_without_a_direction_is_internal() -> None:
    data = normalise(event(direction="", destination_number="1002"), SWITCH)
    assert (data["direction"], data["destination_e164"], data["country"]) == ("internal", "", "")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event": "ringing"}, "event"),
        ({"event": None}, "event"),
        ({"uuid": ""}, "uuid"),
        ({"uuid": 12}, "uuid"),
        ({"direction": "sideways"}, "direction"),
        ({"caller_id_number": ["1001"]}, "caller_id_number"),
        ({"accountcode": "a" * 257}, "accountcode"),
    ],
)
def test_bad_fields_are_named(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidCdr) as exc:
        normalise(event(**overrides), SWITCH)
    assert exc.value.field == field


def test_not_an_object() -> None:
    with pytest.raises(InvalidCdr) as exc:
        normalise(["started"], SWITCH)
    assert exc.value.field == "event"


def test_parse_body_takes_an_object_or_a_list() -> None:
    assert parse_body(json.dumps(event()).encode()) == [event()]
    assert parse_body(json.dumps([event(), event(uuid="2")]).encode()) == [event(), event(uuid="2")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{oops", "not valid JSON"),
        (b"\xff", "not valid JSON"),
        (b'"started"', "got str"),
        (b"[]", "at least one event"),
        (json.dumps([{}] * (MAX_EVENTS + 1)).encode(), f"at most {MAX_EVENTS}"),
    ],
)
def test_bad_bodies(body: bytes, message: str) -> None:
    with pytest.raises(InvalidCdr) as exc:
        parse_body(body)
    assert exc.value.field == "body"
    assert message in str(exc.value)
