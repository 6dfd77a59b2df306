"""Destination control as plain data: list entries, geographic rules, verdicts, hits, the caller, validation.

Everything is validated here once (naming the field), so the store and the matcher can trust
every stored rule. No I/O, no protobuf.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import Any

import phonenumbers

from cdrstats_alerting.domain.errors import TENANT_ID, InvalidArgument

LISTS = ("black", "white")
GEO_MODES = ("allow", "forbid")
VERDICTS = ("white", "black", "geo")
#: verdicts that publish ``destination_alert`` (a white verdict is only logged)
ALERTING_VERDICTS = frozenset({"black", "geo"})
MAX_PREFIX_DIGITS = 15
MAX_NOTE_CHARS = 500
MAX_SWITCH_ID_CHARS = 128
#: ISO 3166 alpha-2 codes libphonenumber knows (the non-geographic "001" is not one)
COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)
_PREFIX = re.compile(r"[0-9]{1,15}")


@dataclasses.dataclass(frozen=True, slots=True)
class ListEntry:
    id: str
    list: str  # black, white
    owner: str  # "" = global (the installation), else a tenant id
    prefix: str  # E.164 digits without '+', or "" for a country entry
    country: str  # ISO alpha-2 for a whole-country entry, else ""
    note: str = ""
    created_us: int = 0

    def describe(self) -> str:
        """One line a human reads: ``black list prefix 4477 (global)``."""
        target = f"prefix {self.prefix}" if self.prefix else f"country {self.country}"
        return f"{self.list} list {target} ({owner_label(self.owner)})"


@dataclasses.dataclass(frozen=True, slots=True)
class GeoRule:
    id: str
    owner: str
    switch_id: str  # "" = every switch
    mode: str  # allow (only these countries), forbid (not these)
    countries: tuple[str, ...]
    note: str = ""
    created_us: int = 0

    def describe(self) -> str:
        names = ", ".join(self.countries)
        what = f"only {names} allowed" if self.mode == "allow" else f"{names} forbidden"
        where = f", switch {self.switch_id}" if self.switch_id else ""
        return f"geo rule: {what} ({owner_label(self.owner)}{where})"

    def is_hit(self, country: str) -> bool:
        """A CDR without a country is never a geo hit."""
        return bool(country) and (country in self.countries) != (self.mode == "allow")


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """What the rules say about one destination; built once per rule, shared by every CDR it matches."""

    verdict: str  # white, black, geo
    rule_id: str
    rule: str
    owner: str  # owner of the rule that matched


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    """One verdict in the hit log, keyed by the CDR's id."""

    id: str
    cdr_id: str
    switch_id: str
    accountcode: str
    destination_e164: str
    country: str
    verdict: str
    rule_id: str
    rule: str
    owner: str
    start_us: int
    time_us: int


def owner_label(owner: str) -> str:
    return owner or "global"


def new_id(kind: str) -> str:
    """``<kind>_<µs hex><random>``: unique, and roughly in creation order (the cursor only needs an order)."""
    return f"{kind}_{time.time_ns() // 1000:014x}{secrets.token_hex(5)}"


def verdict_of(rule: ListEntry | GeoRule) -> Verdict:
    kind = rule.list if isinstance(rule, ListEntry) else "geo"
    return Verdict(verdict=kind, rule_id=rule.id, rule=rule.describe(), owner=rule.owner)


def hit_for(cdr: Mapping[str, Any], verdict: Verdict, now_us: int) -> Hit:
    return Hit(
        id=new_id("hit"),
        cdr_id=str(cdr.get("id") or ""),
        switch_id=str(cdr.get("switch_id") or ""),
        accountcode=str(cdr.get("accountcode") or ""),
        destination_e164=str(cdr.get("destination_e164") or ""),
        country=str(cdr.get("country") or ""),
        verdict=verdict.verdict,
        rule_id=verdict.rule_id,
        rule=verdict.rule,
        owner=verdict.owner,
        start_us=int(cdr.get("start_time_us") or 0),
        time_us=now_us,
    )


def cdr_link(public_url: str, cdr_id: str) -> str:
    """The gateway's CDR detail page; a path when the public URL is not configured."""
    return f"{public_url.rstrip('/')}/cdrs/{urllib.parse.quote(cdr_id, safe='')}"


def alert_data(hit: Hit, cdr: Mapping[str, Any], tenant: str, link: str) -> dict[str, Any]:
    """The ``data`` of a ``destination_alert`` event (schema in docs/events.md)."""
    return {
        "hit": {"id": hit.id, "verdict": hit.verdict, "rule_id": hit.rule_id, "rule": hit.rule, "owner": hit.owner},
        "cdr": dict(cdr),
        "tenant": tenant,
        "link": link,
    }


# -- validation ---------------------------------------------------------------------------------------------


def normalise_prefix(value: str, field: str) -> str:
    """E.164 digits of any length 1..15; a leading '+' is accepted and dropped."""
    digits = value.strip().removeprefix("+")
    if not _PREFIX.fullmatch(digits):
        raise InvalidArgument(f"{field}: expected 1 to {MAX_PREFIX_DIGITS} digits (E.164 without '+'), got {value!r}")
    return digits


def normalise_country(value: str, field: str) -> str:
    code = value.strip().upper()
    if code not in COUNTRIES:
        raise InvalidArgument(f"{field}: expected an ISO 3166 alpha-2 country code (e.g. GB), got {value!r}")
    return code


def normalise_owner(value: str, field: str) -> str:
    if value and not TENANT_ID.fullmatch(value):
        raise InvalidArgument(f"{field}: expected '' (global) or a tenant id 'customer:<id>', got {value!r}")
    return value


def _text(value: str, field: str, limit: int) -> str:
    if len(value) > limit:
        raise InvalidArgument(f"{field}: expected at most {limit} characters, got {len(value)}")
    return value


def make_entry(entry: ListEntry, *, owner: str, field: str, now_us: int) -> ListEntry:
    """A validated, normalised new entry: list black|white and exactly one of prefix or country."""
    if entry.list not in LISTS:
        raise InvalidArgument(f"{field}.list: expected black or white, got {entry.list!r}")
    prefix, country = entry.prefix.strip(), entry.country.strip()
    if bool(prefix) == bool(country):
        raise InvalidArgument(f"{field}: expected a prefix or a country (exactly one), got {prefix!r} and {country!r}")
    return ListEntry(
        id=new_id("le"),
        list=entry.list,
        owner=owner,
        prefix=normalise_prefix(prefix, f"{field}.prefix") if prefix else "",
        country=normalise_country(country, f"{field}.country") if country else "",
        note=_text(entry.note, f"{field}.note", MAX_NOTE_CHARS),
        created_us=now_us,
    )


def make_geo_rule(rule: GeoRule, *, rule_id: str, owner: str, created_us: int) -> GeoRule:
    """A validated geo rule: mode allow|forbid, at least one known country (kept sorted, once each)."""
    if rule.mode not in GEO_MODES:
        raise InvalidArgument(f"rule.mode: expected allow or forbid, got {rule.mode!r}")
    if not rule.countries:
        raise InvalidArgument("rule.countries: expected at least one ISO 3166 alpha-2 country code, got none")
    countries = sorted({normalise_country(c, f"rule.countries[{i}]") for i, c in enumerate(rule.countries)})
    return GeoRule(
        id=rule_id,
        owner=owner,
        switch_id=_text(rule.switch_id.strip(), "rule.switch_id", MAX_SWITCH_ID_CHARS),
        mode=rule.mode,
        countries=tuple(countries),
        note=_text(rule.note, "rule.note", MAX_NOTE_CHARS),
        created_us=created_us,
    )


def calling_code_prefix(country: str) -> str:
    """The digits a country's numbers start with (shared by NANP countries, or GB/JE/GG/IM)."""
    return str(phonenumbers.country_code_for_region(country))


def dedupe(entries: Iterable[ListEntry]) -> list[ListEntry]:
    """Keep each (list, owner, prefix, country) once, first one wins (a request may repeat itself)."""
    seen: dict[tuple[str, str, str, str], ListEntry] = {}
    for entry in entries:
        seen.setdefault((entry.list, entry.owner, entry.prefix, entry.country), entry)
    return list(seen.values())
