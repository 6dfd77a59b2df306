"""The destination matcher: white > black > geo, longest prefix, tenant vs global, against a brute-force loop."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrstats_alerting.domain.destinations import GeoRule, ListEntry
from cdrstats_alerting.domain.prefix_match import Matcher
from cdrstats_common.cdr import new_cdr

TENANT = "customer:acme"
OTHER = "customer:other"
TENANTS = {"acme-1": TENANT, "acme-2": TENANT, "other-1": OTHER}
_ids = itertools.count()


def entry(list_name: str, prefix: str = "", country: str = "", owner: str = "", **overrides: Any) -> ListEntry:
    values: dict[str, Any] = {
        "id": f"le_{next(_ids):06d}",
        "list": list_name,
        "owner": owner,
        "prefix": prefix,
        "country": country,
    }
    return ListEntry(**(values | overrides))


def geo(mode: str, *countries: str, owner: str = "", switch_id: str = "", **overrides: Any) -> GeoRule:
    values: dict[str, Any] = {
        "id": f"geo_{next(_ids):06d}",
        "owner": owner,
        "switch_id": switch_id,
        "mode": mode,
        "countries": tuple(countries),
    }
    return GeoRule(**(values | overrides))


def call(e164: str, country: str = "", accountcode: str = "", **overrides: Any) -> dict[str, Any]:
    values = {
        "id": "c1",
        "destination_e164": e164,
        "country": country,
        "accountcode": accountcode,
        "direction": "outbound",
    }
    return new_cdr(**(values | overrides))


def verdict_of(matcher: Matcher, cdr: dict[str, Any]) -> tuple[str, str] | None:
    verdict = matcher.check(cdr)
    return None if verdict is None else (verdict.verdict, verdict.rule_id)


def test_white_4477_black_447_black_country_gb_and_geo_overlap() -> None:
    white = entry("white", "4477")
    black = entry("black", "447")
    gb = entry("black", country="GB")
    allow = geo("allow", "GB", "DE")
    matcher = Matcher([gb, black, white], [allow], TENANTS)

    assert verdict_of(matcher, call("+447712345678", "GB")) == ("white", white.id)
    assert verdict_of(matcher, call("+447812345678", "GB")) == ("black", black.id)
    assert verdict_of(matcher, call("+442079460958", "GB")) == ("black", gb.id)
    assert verdict_of(matcher, call("+33123456789", "FR")) == ("geo", allow.id)
    assert verdict_of(matcher, call("+4915112345678", "DE")) is None
    assert matcher.check(call("+447712345678", "GB")).rule == "white list prefix 4477 (global)"  # type: ignore[union-attr]
    assert matcher.check(call("+442079460958", "GB")).rule == "black list country GB (global)"  # type: ignore[union-attr]


def test_longest_prefix_is_reported_and_any_white_wins() -> None:
    short, long_ = entry("black", "44"), entry("black", "4420794")
    matcher = Matcher([long_, short], [], TENANTS)
    assert verdict_of(matcher, call("+442079460958")) == ("black", long_.id)
    assert verdict_of(matcher, call("+442071234567")) == ("black", short.id)

    white_short = entry("white", "4")
    matcher = Matcher([long_, short, white_short], [], TENANTS)
    assert verdict_of(matcher, call("+442079460958")) == ("white", white_short.id)
    assert verdict_of(matcher, call("+33123456789")) is None


def test_a_white_country_beats_a_black_prefix_and_a_white_prefix_beats_it() -> None:
    white_gb, black = entry("white", country="GB"), entry("black", "447")
    matcher = Matcher([white_gb, black], [geo("forbid", "GB")], TENANTS)
    assert verdict_of(matcher, call("+447812345678", "GB")) == ("white", white_gb.id)
    assert verdict_of(matcher, call("+447812345678", "")) == (
        "black",
        black.id,
    )  # no country: the country entry can't match
    white_prefix = entry("white", "4478")
    matcher = Matcher([white_gb, black, white_prefix], [], TENANTS)
    assert verdict_of(matcher, call("+447812345678", "GB")) == ("white", white_prefix.id)


def test_tenant_entries_apply_only_to_the_tenants_account_codes() -> None:
    mine = entry("black", "4477", owner=TENANT)
    theirs = entry("black", "33", owner=OTHER)
    global_white = entry("white", "337")
    matcher = Matcher([mine, theirs, global_white], [], TENANTS)
    assert verdict_of(matcher, call("+447712345678", accountcode="acme-2")) == ("black", mine.id)
    assert verdict_of(matcher, call("+447712345678", accountcode="other-1")) is None
    assert verdict_of(matcher, call("+447712345678", accountcode="nobody")) is None
    assert verdict_of(matcher, call("+33123456789", accountcode="other-1")) == ("black", theirs.id)
    assert verdict_of(matcher, call("+33723456789", accountcode="other-1")) == ("white", global_white.id)
    assert verdict_of(matcher, call("+33123456789", accountcode="acme-1")) is None
    assert matcher.tenant_of("acme-1") == TENANT and matcher.tenant_of("nobody") == ""


def test_at_the_same_length_the_tenants_entry_is_reported_and_longer_global_wins() -> None:
    shared, own = entry("black", "447"), entry("black", "447", owner=TENANT)
    longer_global = entry("black", "44771")
    matcher = Matcher([shared, own, longer_global], [], TENANTS)
    assert verdict_of(matcher, call("+447712345678", accountcode="acme-1")) == ("black", longer_global.id)
    assert verdict_of(matcher, call("+447723456789", accountcode="acme-1")) == ("black", own.id)
    assert verdict_of(matcher, call("+447723456789", accountcode="other-1")) == ("black", shared.id)
    tail_shared, tail_own = entry("black", "4915123"), entry("black", "4915123", owner=TENANT)  # one trie tail
    matcher = Matcher([tail_shared, tail_own], [], TENANTS)
    assert verdict_of(matcher, call("+491512345678", accountcode="acme-1")) == ("black", tail_own.id)
    assert verdict_of(matcher, call("+491512345678", accountcode="other-1")) == ("black", tail_shared.id)
    own_country, shared_country = entry("white", country="FR", owner=TENANT), entry("white", country="FR")
    matcher = Matcher([shared_country, own_country], [], TENANTS)
    assert verdict_of(matcher, call("+33123456789", "FR", "acme-1")) == ("white", own_country.id)
    assert verdict_of(matcher, call("+33123456789", "FR", "other-1")) == ("white", shared_country.id)


def test_inbound_calls_and_calls_without_destination_are_not_checked() -> None:
    matcher = Matcher([entry("black", "1")], [geo("allow", "GB")], TENANTS)
    assert matcher.check(call("+14155550100", "US", direction="inbound")) is None
    assert matcher.check(call("", "US")) is None
    assert verdict_of(matcher, call("+14155550100", "US", direction="unknown")) is not None
    assert verdict_of(matcher, call("14155550100", "US", direction="internal")) is not None  # '+' is optional


def test_geo_rules_by_tenant_and_switch() -> None:
    global_forbid = geo("forbid", "IR", "KP")
    switch_allow = geo("allow", "GB", switch_id="sw-uk")
    tenant_allow = geo("allow", "FR", owner=TENANT)
    matcher = Matcher([], [global_forbid, switch_allow, tenant_allow], TENANTS)
    assert verdict_of(matcher, call("+98912", "IR")) == ("geo", global_forbid.id)
    assert verdict_of(matcher, call("+33123", "FR")) is None
    assert verdict_of(matcher, call("+33123", "FR", switch_id="sw-uk")) == ("geo", switch_allow.id)
    assert verdict_of(matcher, call("+44207", "GB", switch_id="sw-uk")) is None
    assert verdict_of(matcher, call("+44207", "GB", "acme-1")) == ("geo", tenant_allow.id)
    assert verdict_of(matcher, call("+98912", "IR", "acme-1")) == ("geo", tenant_allow.id)  # the tenant's rule first
    assert verdict_of(matcher, call("+44207", "", "acme-1")) is None  # no country: never a geo hit
    assert matcher.check(call("+98912", "IR")).rule == "geo rule: IR, KP forbidden (global)"  # type: ignore[union-attr]
    assert switch_allow.describe() == "geo rule: only GB allowed (global, switch sw-uk)"


def test_black_beats_geo_and_white_beats_both() -> None:
    black, white = entry("black", "98"), entry("white", "9891")
    forbid = geo("forbid", "IR")
    matcher = Matcher([black, white], [forbid], TENANTS)
    assert verdict_of(matcher, call("+98912", "IR")) == ("white", white.id)
    assert verdict_of(matcher, call("+98812", "IR")) == ("black", black.id)
    assert verdict_of(matcher, call("+93812", "IR")) == ("geo", forbid.id)


def test_duplicates_keep_the_first_id_and_tails_split_in_any_order() -> None:
    first, second = entry("black", "1234", id="le_a"), entry("black", "1234", id="le_b")
    deeper = entry("black", "123456789", id="le_c")
    for order in itertools.permutations([first, second, deeper]):
        matcher = Matcher(order, [], {})
        assert verdict_of(matcher, call("+1234999")) == ("black", "le_a")
        assert verdict_of(matcher, call("+1234567890")) == ("black", "le_c")
        assert verdict_of(matcher, call("+123")) is None
    assert matcher.counts()["prefixes"] == 2


# -- property: the trie agrees with a loop over every entry -------------------------------------------------


def brute_force(
    entries: Sequence[ListEntry], rules: Sequence[GeoRule], tenants: dict[str, str], cdr: dict[str, Any]
) -> str | None:
    """The rules of alerting.proto written as plainly as possible; returns the matching rule id."""
    if cdr["direction"] == "inbound" or not cdr["destination_e164"]:
        return None
    digits, country, tenant = cdr["destination_e164"].lstrip("+"), cdr["country"], tenants.get(cdr["accountcode"], "")
    owners = {"", tenant}
    matching = [
        e
        for e in entries
        if e.owner in owners
        and ((e.prefix and digits.startswith(e.prefix)) or (not e.prefix and country and e.country == country))
    ]
    for list_name in ("white", "black"):
        candidates = [e for e in matching if e.list == list_name]
        if candidates:  # longest (a country is the shortest), then the tenant's own, then the first id
            return min(candidates, key=lambda e: (-len(e.prefix), e.owner != tenant or not tenant, e.id)).id
    applicable = [r for r in rules if r.owner in owners and r.switch_id in ("", cdr["switch_id"])]
    applicable.sort(key=lambda r: (r.owner != tenant or not tenant, r.switch_id == "", r.id))
    for rule in applicable:
        if country and (country in rule.countries) != (rule.mode == "allow"):
            return rule.id
    return None


OWNERS = st.sampled_from(["", TENANT, OTHER])
COUNTRIES = st.sampled_from(["GB", "FR", "DE"])
DIGITS = st.text(alphabet="012", min_size=1, max_size=6)


@st.composite
def list_entries(draw: st.DrawFn) -> ListEntry:
    by_country = draw(st.booleans()) and draw(st.booleans())  # a quarter are country entries
    return ListEntry(
        id=f"le_{draw(st.integers(0, 10**6)):07d}",
        list=draw(st.sampled_from(["black", "white"])),
        owner=draw(OWNERS),
        prefix="" if by_country else draw(DIGITS),
        country=draw(COUNTRIES) if by_country else "",
    )


@st.composite
def geo_rules(draw: st.DrawFn) -> GeoRule:
    return GeoRule(
        id=f"geo_{draw(st.integers(0, 10**6)):07d}",
        owner=draw(OWNERS),
        switch_id=draw(st.sampled_from(["", "sw1", "sw2"])),
        mode=draw(st.sampled_from(["allow", "forbid"])),
        countries=tuple(draw(st.lists(COUNTRIES, min_size=1, max_size=2, unique=True))),
    )


@st.composite
def cdrs(draw: st.DrawFn) -> dict[str, Any]:
    return call(
        draw(st.sampled_from(["+", ""])) + draw(st.text(alphabet="012", min_size=0, max_size=8)),
        draw(st.sampled_from(["", "GB", "FR", "DE"])),
        draw(st.sampled_from(["acme-1", "other-1", "nobody", ""])),
        switch_id=draw(st.sampled_from(["", "sw1", "sw2"])),
        direction=draw(st.sampled_from(["outbound", "outbound", "inbound", "unknown"])),
    )


def test_the_matcher_agrees_with_a_brute_force_loop_on_dense_random_rules() -> None:
    """Seeded and dense (three digits, many overlaps): ties, tails and pushed-down verdicts all get exercised."""
    rng = random.Random(20_251_127)
    for _ in range(1_500):
        entries = [
            ListEntry(
                id=f"le_{rng.randrange(10**6):07d}",
                list=rng.choice(["black", "black", "white"]),
                owner=rng.choice(["", TENANT, OTHER]),
                prefix="" if (by_country := rng.random() < 0.2) else "".join(rng.choices("012", k=rng.randint(1, 6))),
                country=rng.choice(["GB", "FR"]) if by_country else "",
            )
            for _ in range(rng.randint(0, 30))
        ]
        rules = [
            GeoRule(
                id=f"geo_{index}",
                owner=rng.choice(["", TENANT, OTHER]),
                switch_id=rng.choice(["", "sw1"]),
                mode=rng.choice(["allow", "forbid"]),
                countries=tuple(rng.sample(["GB", "FR", "DE"], rng.randint(1, 2))),
            )
            for index in range(rng.randint(0, 3))
        ]
        matcher = Matcher(entries, rules, TENANTS)
        for _ in range(10):
            cdr = call(
                "+" + "".join(rng.choices("012", k=rng.randint(0, 8))),
                rng.choice(["", "GB", "FR", "DE"]),
                rng.choice(["acme-1", "other-1", ""]),
                switch_id=rng.choice(["", "sw1"]),
            )
            verdict = matcher.check(cdr)
            assert (verdict.rule_id if verdict else None) == brute_force(entries, rules, TENANTS, cdr), (entries, cdr)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=st.lists(list_entries(), max_size=40, unique_by=lambda e: e.id),
    rules=st.lists(geo_rules(), max_size=4, unique_by=lambda r: r.id),
    calls=st.lists(cdrs(), min_size=1, max_size=20),
)
def test_the_matcher_agrees_with_a_brute_force_loop(
    entries: list[ListEntry], rules: list[GeoRule], calls: list[dict[str, Any]]
) -> None:
    matcher = Matcher(entries, rules, TENANTS)
    for cdr in calls:
        verdict = matcher.check(cdr)
        assert (verdict.rule_id if verdict else None) == brute_force(entries, rules, TENANTS, cdr), cdr
