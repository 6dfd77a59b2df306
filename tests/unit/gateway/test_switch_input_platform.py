"""Switch and mapping-profile input as the pages and the API send it: every bad field is named."""

from __future__ import annotations

from typing import Any

import pytest

from cdrstats_gateway.domain import switches
from cdrstats_gateway.domain.errors import InvalidInput

GOOD: dict[str, Any] = {"id": "fs-1", "type": "freeswitch"}


def test_form_text_and_api_lists_give_the_same_config() -> None:
    from_form = switches.switch_config(
        {**GOOD, "remove_prefixes": "0033\n9, 9", "direction_rules": "context ^pstn inbound\n\n"}
    )
    from_api = switches.switch_config(
        {
            **GOOD,
            "remove_prefixes": ["0033", "9"],
            "direction_rules": [{"field": "context", "pattern": "^pstn", "direction": "inbound"}],
        }
    )
    assert from_form == from_api
    assert from_form.remove_prefixes == ("0033", "9") and from_form.enabled is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": "Has Space"}, "id"),
        ({"type": "cisco"}, "type"),
        ({"home_country": "FRA"}, "home_country"),
        ({"time_zone": "Mars/Base"}, "time_zone"),
        ({"internal_extension_max_len": "13"}, "internal_extension_max_len"),
        ({"internal_extension_max_len": "four"}, "internal_extension_max_len"),
        ({"remove_prefixes": 42}, "remove_prefixes"),
        ({"remove_prefixes": ["0033", "x1"]}, "remove_prefixes[1]"),
        ({"direction_rules": "context pstn"}, "direction_rules[0]"),
        (
            {"direction_rules": [{"field": "context", "pattern": "(", "direction": "inbound"}]},
            "direction_rules[0].pattern",
        ),
        ({"direction_rules": [{"field": "ctx", "pattern": "a", "direction": "inbound"}]}, "direction_rules[0].field"),
        ({"connector": {"type": "ftp"}}, "connector.type"),
        ({"connector": {"columns": ["uuid"]}}, "connector.columns"),
        ({"username": "a:b"}, "username"),
    ],
)
def test_bad_switch_fields_are_named(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        switches.switch_config({**GOOD, **change})
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": "", "columns": {"uuid": "1"}}, "name"),
        ({"name": "p", "columns": {}}, "columns"),
        ({"name": "p", "columns": {"uuid": "1"}, "delimiter": ";;"}, "delimiter"),
        ({"name": "p", "columns": {"uuid": "1"}, "date_format": "dd/mm"}, "date_format"),
        ({"name": "p", "columns": {"uuid": "1"}, "duration_unit": "min"}, "duration_unit"),
    ],
)
def test_bad_profile_fields_are_named(values: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        switches.mapping_profile(values)
    assert caught.value.field == field
    assert switches.mapping_profile({"name": "p", "columns": {"uuid": "1"}, "delimiter": "\\t"}).delimiter == "\t"
