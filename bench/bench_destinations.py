"""Destination matching cost: ``python bench/bench_destinations.py [--entries 100000] [--cdrs 1000000]``.

Builds the matcher from ENTRIES black/white-list entries (prefixes of 3..15 digits: a real calling
code and more digits; whole countries; global and 50 tenants' own) and a few geo rules, then checks CDRS
random CDRs (a quarter of them dialling under a listed prefix) and prints µs per CDR, next to a
baseline measured in the same run: a bare dict look-up of each CDR's destination. Also: the build
time, the same check as a loop over every entry (what the trie replaces; on a few CDRs), and a
burst of 1,000 black-listed CDRs through the SQLite hit log with their destination_alert events.
Target (issue): <= 5 µs per CDR with 100,000 entries.
"""

from __future__ import annotations

import argparse
import collections
import random
import resource
import sys
import tempfile
import time
from typing import Any

import phonenumbers

from cdrstats_alerting.destinations_service import DestinationsService
from cdrstats_alerting.domain.destinations import Caller, GeoRule, ListEntry
from cdrstats_alerting.domain.prefix_match import Matcher
from cdrstats_alerting.store import open_store
from cdrstats_common.cdr import new_cdr

TENANTS = 50
CODES_PER_TENANT = 4
DISTINCT_CDRS = 200_000  # the timed list is cycled: 1M dicts would cost ~1 GB for no extra realism
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def calling_code(region: str) -> str:
    return str(phonenumbers.country_code_for_region(region))


def make_entries(rng: random.Random, count: int) -> list[ListEntry]:
    entries, keys = [], set()
    countries = max(1, count // 500)
    while len(entries) < count:
        owner = "" if rng.random() < 0.6 else f"customer:{rng.randrange(TENANTS)}"
        list_name = "white" if rng.random() < 0.15 else "black"
        region = rng.choice(REGIONS)
        if len(entries) < countries:
            prefix, country = "", region
        else:
            code = calling_code(region)  # then 2..12 more digits (white entries are narrower ranges: 5..12)
            extra = rng.randint(5, 12) if list_name == "white" else rng.randint(2, 12)
            prefix, country = (code + "".join(rng.choices("0123456789", k=extra)))[:15], ""
        key = (list_name, owner, prefix, country)
        if key not in keys:
            keys.add(key)
            entries.append(ListEntry(f"le_{len(entries):07d}", list_name, owner, prefix, country, "", 0))
    return entries


def make_geo_rules() -> list[GeoRule]:
    return [
        GeoRule("geo_1", "", "", "forbid", ("CU", "IR", "KP", "SO", "SY")),
        GeoRule("geo_2", "", "sw-uk", "allow", ("FR", "GB", "IE")),
        *[GeoRule(f"geo_t{t}", f"customer:{t}", "", "allow", ("DE", "FR", "GB", "US")) for t in range(0, TENANTS, 5)],
    ]


def make_cdrs(rng: random.Random, entries: list[ListEntry], count: int) -> list[dict[str, Any]]:
    prefixes = [e.prefix for e in entries if e.prefix]
    accountcodes = [f"t{t}-{c}" for t in range(TENANTS) for c in range(CODES_PER_TENANT)] + ["walk-in"] * 50
    cdrs = []
    for n in range(count):
        region = rng.choice(REGIONS)
        # a quarter under a listed prefix (a hit unless a white entry or another tenant's), the rest anywhere
        head = rng.choice(prefixes) if rng.random() < 0.25 else calling_code(region)
        digits = (head + "".join(rng.choices("0123456789", k=15)))[: max(len(head), rng.randint(8, 13))]
        cdrs.append(
            {
                "id": f"c{n}",
                "direction": "inbound" if rng.random() < 0.1 else "outbound",
                "destination_e164": "+" + digits,
                "country": region if rng.random() < 0.9 else "",
                "switch_id": rng.choice(["sw-uk", "sw-us", "sw-de"]),
                "accountcode": rng.choice(accountcodes),
            }
        )
    return cdrs


def timed_loop(cdrs: list[dict[str, Any]], rounds: int, fn: Any) -> tuple[float, float]:
    """(wall, CPU) µs per call: on a busy machine the CPU time is the fairer of the two."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for cdr in cdrs:
            fn(cdr)
    calls = rounds * len(cdrs)
    return (time.perf_counter() - wall) / calls * 1e6, (time.process_time() - cpu) / calls * 1e6


def brute_force(entries: list[ListEntry], tenants: dict[str, str], cdr: dict[str, Any]) -> str:
    """The naive way: look at every entry (only to show what the trie replaces)."""
    digits, tenant = cdr["destination_e164"][1:], tenants.get(cdr["accountcode"], "")
    best: dict[str, tuple[int, str]] = {}
    for e in entries:
        if e.owner in ("", tenant) and ((e.prefix and digits.startswith(e.prefix)) or e.country == cdr["country"]):
            length = len(e.prefix)
            if length >= best.get(e.list, (-1, ""))[0]:
                best[e.list] = (length, e.id)
    return (best.get("white") or best.get("black") or (0, ""))[1]


def burst(entries: int) -> tuple[float, float]:
    """1,000 black-listed CDRs (each a destination_alert) and 1,000 ordinary ones, through SQLite."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{tmp}/alerting.db")
        service = DestinationsService(store)
        black = ListEntry("", "black", "", "4478", "", "", 0)
        service.create_entries(Caller(admin=True), [black])
        matcher = service.matcher()
        fraud = [
            new_cdr(id=f"f{i}", uuid=f"f{i}", destination_e164=f"+4478{i:08d}", direction="outbound")
            for i in range(1_000)
        ]
        calm = [
            new_cdr(id=f"n{i}", uuid=f"n{i}", destination_e164=f"+3361{i:07d}", direction="outbound")
            for i in range(1_000)
        ]
        started = time.perf_counter()
        store.apply_cdrs_event("burst", fraud, matcher)
        fraud_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        store.apply_cdrs_event("calm", calm, matcher)
        calm_ms = (time.perf_counter() - started) * 1000
        assert store.outbox_pending() == 1_000
        store.close()
    return fraud_ms, calm_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--cdrs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    entries = make_entries(rng, args.entries)
    tenants = {f"t{t}-{c}": f"customer:{t}" for t in range(TENANTS) for c in range(CODES_PER_TENANT)}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    matcher = Matcher(entries, make_geo_rules(), tenants)
    build_s = time.perf_counter() - started
    rss_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    cdrs = make_cdrs(rng, entries, min(args.cdrs, DISTINCT_CDRS))
    rounds = max(1, args.cdrs // len(cdrs))

    verdicts = collections.Counter((v.verdict if (v := matcher.check(cdr)) else "none") for cdr in cdrs)
    destinations = {cdr["destination_e164"]: cdr for cdr in cdrs}
    baseline_us = timed_loop(cdrs, rounds, lambda cdr: destinations.get(cdr["destination_e164"]))
    check_us = timed_loop(cdrs, rounds, matcher.check)
    sample = cdrs[:200]
    brute_us = timed_loop(sample, 1, lambda cdr: brute_force(entries, tenants, cdr))
    fraud_ms, calm_ms = burst(args.entries)

    total = rounds * len(cdrs)
    print(f"python {sys.version.split()[0]}; {len(entries):,} entries ({matcher.counts()}), {total:,} CDR checks")
    print(f"matcher build:                       {build_s:.2f} s, ~{rss_mib:.0f} MiB peak RSS growth")
    print(f"verdicts over the distinct CDRs:     {dict(verdicts)}")
    print(f"baseline dict.get per CDR:           {baseline_us[0]:.3f} µs wall, {baseline_us[1]:.3f} µs CPU")
    print(
        f"Matcher.check per CDR:               {check_us[0]:.3f} µs wall, {check_us[1]:.3f} µs CPU"
        f"  ({check_us[1] / baseline_us[1]:.1f}x baseline CPU; target <= 5 µs)"
    )
    print(f"loop over every entry (200 CDRs):    {brute_us[0]:,.0f} µs per CDR")
    print(
        f"SQLite hit log, 1,000-CDR event:     {fraud_ms:.0f} ms all black-listed (1,000 alerts), {calm_ms:.0f} ms no hits"
    )


if __name__ == "__main__":
    main()
