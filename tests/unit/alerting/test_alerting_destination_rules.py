"""Destination-control validation and normalisation: every error names its field."""

from __future__ import annotations

import pytest

from cdrstats_alerting.destinations_service import normalise_number
from cdrstats_alerting.domain.destinations import GeoRule, ListEntry, cdr_link, dedupe, make_entry, make_geo_rule
from cdrstats_alerting.domain.errors import Caller, InvalidArgument, PermissionDenied


def requested(list_name: str = "black", prefix: str = "", country: str = "", note: str = "") -> ListEntry:
    return ListEntry(id="", list=list_name, owner="", prefix=prefix, country=country, note=note)


def test_entries_are_normalised() -> None:
    entry = make_entry(requested(prefix=" +4477 "), owner="customer:7", field="entries[0]", now_us=5)
    assert (entry.prefix, entry.country, entry.owner, entry.created_us) == ("4477", "", "customer:7", 5)
    assert entry.id.startswith("le_")
    assert make_entry(requested(country="gb"), owner="", field="e", now_us=0).country == "GB"
    assert make_entry(requested(prefix="1" * 15), owner="", field="e", now_us=0).prefix == "1" * 15


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (requested("grey", "44"), "entries[2].list: expected black or white, got 'grey'"),
        (
            requested(prefix="44", country="GB"),
            "entries[2]: expected a prefix or a country (exactly one), got '44' and 'GB'",
        ),
        (requested(), "entries[2]: expected a prefix or a country (exactly one), got '' and ''"),
        (
            requested(prefix="1" * 16),
            "entries[2].prefix: expected 1 to 15 digits (E.164 without '+'), got '1111111111111111'",
        ),
        (requested(prefix="44-20"), "entries[2].prefix: expected 1 to 15 digits (E.164 without '+'), got '44-20'"),
        (requested(country="UK"), "entries[2].country: expected an ISO 3166 alpha-2 country code (e.g. GB), got 'UK'"),
        (requested(prefix="44", note="x" * 501), "entries[2].note: expected at most 500 characters, got 501"),
    ],
)
def test_bad_entries_name_the_field(entry: ListEntry, message: str) -> None:
    with pytest.raises(InvalidArgument) as excinfo:
        make_entry(entry, owner="", field="entries[2]", now_us=0)
    assert str(excinfo.value) == message


def test_geo_rules_are_validated_and_sorted() -> None:
    rule = make_geo_rule(
        GeoRule("", "", " sw1 ", "forbid", ("kp", "IR", "KP")), rule_id="geo_1", owner="", created_us=1
    )
    assert (rule.id, rule.switch_id, rule.countries) == ("geo_1", "sw1", ("IR", "KP"))
    assert rule.describe() == "geo rule: IR, KP forbidden (global, switch sw1)"
    with pytest.raises(InvalidArgument, match=r"^rule.mode: expected allow or forbid, got 'deny'$"):
        make_geo_rule(GeoRule("", "", "", "deny", ("IR",)), rule_id="g", owner="", created_us=0)
    with pytest.raises(InvalidArgument, match=r"^rule.countries\[1\]: expected an ISO 3166"):
        make_geo_rule(GeoRule("", "", "", "allow", ("IR", "XX")), rule_id="g", owner="", created_us=0)


def test_typed_numbers_are_normalised_with_their_country() -> None:
    assert normalise_number("+44 20 7946 0958") == ("+442079460958", "GB")
    assert normalise_number("0033 1 23 45 67 89") == ("+33123456789", "FR")
    assert normalise_number("14155550100") == ("+14155550100", "US")
    assert normalise_number("+44 1234") == ("+441234", "")  # not a valid number: no country, as ingest does
    for bad in ("", "+", "call me", "+0123456", "12"):
        with pytest.raises(InvalidArgument, match=r"^number: "):
            normalise_number(bad)


def test_callers_and_links() -> None:
    assert Caller(admin=True).visible_owners() is None
    assert Caller(admin=False, tenant="customer:9").visible_owners() == ("", "customer:9")
    with pytest.raises(PermissionDenied, match=r"^scope: "):
        Caller(admin=False, tenant="")
    assert cdr_link("", "01J/x y") == "/cdrs/01J%2Fx%20y"
    assert cdr_link("https://stats.example.com/", "c1") == "https://stats.example.com/cdrs/c1"
    a, b = requested(prefix="1"), requested(prefix="1", note="again")
    assert dedupe([a, b, requested(prefix="2")]) == [a, requested(prefix="2")]
