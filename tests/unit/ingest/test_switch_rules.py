"""Switch validation: each bad field is named as the API spells it, with what was expected."""

from __future__ import annotations

import dataclasses

import pytest

from cdrstats_ingest.domain.switch import ConnectorSettings, DirectionRule, SwitchConfig
from cdrstats_ingest.domain.switch_rules import InvalidSwitch, validate_switch


def test_a_complete_switch_is_valid() -> None:
    validate_switch(
        SwitchConfig(
            id="fs-1.paris",
            type="asterisk",
            home_country="FR",
            time_zone="Europe/Paris",
            username="fs1@paris",
            remove_prefixes=("0033", "+9", "*31#"),
            direction_rules=(DirectionRule("context", r"^from-(pstn|trunk)", "inbound"),),
            connector=ConnectorSettings(type="asterisk_db", dsn="postgresql+psycopg://u@db/ast", poll_interval_s=5),
        )
    )


@pytest.mark.parametrize(
    ("changes", "field", "expected"),
    [
        ({"id": ""}, "switch.id", "letters, digits"),
        ({"id": "a b"}, "switch.id", "letters, digits"),
        ({"type": "cisco"}, "switch.type", "freeswitch, asterisk, kamailio, other"),
        ({"home_country": "XX"}, "switch.home_country", "ISO 3166"),
        ({"home_country": "fr"}, "switch.home_country", "ISO 3166"),
        ({"time_zone": "Europe/Pariss"}, "switch.time_zone", "IANA time zone"),
        ({"username": "a:b"}, "switch.username", "no colon"),
        ({"internal_extension_max_len": 16}, "switch.internal_extension_max_len", "0 to 15"),
        ({"remove_prefixes": ("9", "9x")}, "switch.remove_prefixes[1].prefix", "digits"),
        (
            {"direction_rules": (DirectionRule("context", "(", "inbound"),)},
            "switch.direction_rules[0].pattern",
            "not a regular expression",
        ),
        (
            {"direction_rules": (DirectionRule("lastapp", "x", "inbound"),)},
            "switch.direction_rules[0].field",
            "context, channel",
        ),
        (
            {"direction_rules": (DirectionRule("context", "x", "sideways"),)},
            "switch.direction_rules[0].direction",
            "inbound, outbound, internal",
        ),
        ({"connector": ConnectorSettings(type="sip_trace")}, "switch.connector.type", "kamailio_acc"),
        ({"connector": ConnectorSettings(type="kamailio_acc")}, "switch.connector.dsn", "needs a dsn"),
        (
            {"connector": ConnectorSettings(type="kamailio_acc", dsn="mongodb://h/db")},
            "switch.connector.dsn",
            "postgresql://",
        ),
        (
            {"connector": ConnectorSettings(type="freeswitch_esl", dsn="host")},
            "switch.connector.dsn",
            "host:port",
        ),
        (
            {"connector": ConnectorSettings(type="freeswitch_mongodb", dsn="mongodb://h/d", poll_interval_s=0)},
            "switch.connector.poll_interval_s",
            "at least 1",
        ),
        (
            {"connector": ConnectorSettings(type="kamailio_acc", dsn="mysql://h/d", columns=(("colour", "c"),))},
            "switch.connector.columns",
            "unknown field 'colour'",
        ),
        (
            {"connector": ConnectorSettings(type="asterisk_db", dsn="mysql://h/d", layout="new")},
            "switch.connector.layout",
            "calldate",
        ),
    ],
)
def test_bad_fields_are_named(changes: dict[str, object], field: str, expected: str) -> None:
    config = dataclasses.replace(SwitchConfig(id="sw1"), **changes)  # type: ignore[arg-type]
    with pytest.raises(InvalidSwitch) as caught:
        validate_switch(config)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ") and expected in str(caught.value)
