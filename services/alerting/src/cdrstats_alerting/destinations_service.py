"""Destination-control use-cases: list entries and geo rules with the tenant rules, the matcher, the hit log.

Tenant rules (alerting.proto): an admin manages global rules (owner "") and any tenant's; a customer
manages its own tenant's and sees global ones read-only; another tenant's objects are NOT_FOUND.
The matcher is compiled from the store and cached until the store's rules version moves, so the
worker pays one small query per event, not a rebuild.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import phonenumbers

from cdrstats_alerting.domain.destinations import (
    LISTS,
    VERDICTS,
    GeoRule,
    Hit,
    ListEntry,
    Verdict,
    dedupe,
    make_entry,
    make_geo_rule,
    new_id,
    normalise_country,
    normalise_owner,
    normalise_prefix,
)
from cdrstats_alerting.domain.errors import Caller, InvalidArgument, NotFound, PermissionDenied
from cdrstats_alerting.domain.prefix_match import Matcher
from cdrstats_alerting.store.destinations_interface import DestinationStore

log = logging.getLogger(__name__)

LIST_LIMIT, LIST_LIMIT_MAX = 500, 5_000
HITS_LIMIT, HITS_LIMIT_MAX = 100, 1_000
GET_HITS_MAX = 1_000
CREATE_MAX = 100_000
_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"\+[1-9][0-9]{1,17}")


class DestinationsBackend(DestinationStore, Protocol):
    """The store as destination control needs it: its own protocol plus the tenants the gateway pushes."""

    def tenant_accountcodes(self, tenant_id: str) -> tuple[str, ...]: ...
    def accountcode_tenants(self) -> Mapping[str, str]: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Checked:
    """CheckDestination's answer: the verdict (None = no rule) for the normalised number."""

    verdict: Verdict | None
    destination_e164: str
    country: str


def normalise_number(number: str) -> tuple[str, str]:
    """A typed number -> (E.164, country). The country only for a valid number, as ingest does."""
    text = _SEPARATORS.sub("", number)
    if text.startswith("00"):
        text = text[2:]
    text = "+" + text.removeprefix("+")
    if not _E164.fullmatch(text):
        raise InvalidArgument(f"number: expected an E.164 number (country code first, '+' optional), got {number!r}")
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidArgument(f"number: expected an E.164 number, got {number!r} ({exc})") from None
    e164 = f"+{parsed.country_code}{phonenumbers.national_significant_number(parsed)}"
    region = phonenumbers.region_code_for_number(parsed) if phonenumbers.is_valid_number(parsed) else None
    return e164, region if region and region != "001" else ""


def _limit(value: int, default: int, most: int, field: str = "limit") -> int:
    if value < 0 or value > most:
        raise InvalidArgument(f"{field}: expected 0 (default {default}) to {most:,}, got {value}")
    return value or default


class DestinationsService:
    def __init__(
        self, store: DestinationsBackend, *, clock: Callable[[], float] = time.time, public_url: str = ""
    ) -> None:
        self.store = store
        self.clock = clock
        self.public_url = public_url
        self._matcher: Matcher | None = None
        self._build_lock = threading.Lock()

    def _now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    # -- the matcher -------------------------------------------------------------------------

    def matcher(self) -> Matcher:
        """The compiled rules; rebuilt only when the store's rules version moved since the last build."""
        version = self.store.rules_version()
        current = self._matcher
        if current is not None and current.version == version:
            return current
        with self._build_lock:
            current = self._matcher
            if current is not None and current.version == version:
                return current
            # read after the version: a change in between only causes one more rebuild later
            started = time.perf_counter()
            built = Matcher(
                self.store.all_list_entries(),
                self.store.geo_rules(),
                self.store.accountcode_tenants(),
                version=version,
                public_url=self.public_url,
            )
            self._matcher = built
            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            log.info(
                "destination rules compiled", extra={"fields": {**built.counts(), "version": version, "ms": elapsed_ms}}
            )
            return built

    # -- list entries ----------------------------------------------------------------------

    def list_entries(
        self,
        caller: Caller,
        *,
        list_name: str = "",
        prefix_starts: str = "",
        country: str = "",
        after_id: str = "",
        limit: int = 0,
    ) -> tuple[list[ListEntry], str]:
        """One page in id order and the cursor of the next ("" when this is the last)."""
        if list_name and list_name not in LISTS:
            raise InvalidArgument(f"list: expected black, white or empty (both), got {list_name!r}")
        count = _limit(limit, LIST_LIMIT, LIST_LIMIT_MAX)
        rows = self.store.list_entries(
            owners=caller.visible_owners(),
            list_name=list_name,
            prefix_starts=normalise_prefix(prefix_starts, "prefix_starts") if prefix_starts else "",
            country=normalise_country(country, "country") if country else "",
            after_id=after_id,
            limit=count + 1,
        )
        page = rows[:count]
        return page, page[-1].id if len(rows) > count else ""

    def create_entries(self, caller: Caller, entries: Sequence[ListEntry], *, global_: bool = False) -> list[ListEntry]:
        """All or none: every entry is validated before any is stored; duplicates are stored once."""
        if not entries:
            raise InvalidArgument("entries: expected at least one entry, got none")
        if len(entries) > CREATE_MAX:
            raise InvalidArgument(f"entries: expected at most {CREATE_MAX:,} entries per call, got {len(entries):,}")
        now_us = self._now_us()
        valid = [
            make_entry(
                entry,
                owner=self._owner_for(caller, entry.owner, global_, f"entries[{i}]"),
                field=f"entries[{i}]",
                now_us=now_us,
            )
            for i, entry in enumerate(entries)
        ]
        return self.store.add_list_entries(dedupe(valid))

    def delete_entry(self, caller: Caller, entry_id: str) -> bool:
        entry = self.store.get_list_entry(entry_id)
        if entry is None:
            raise NotFound(f"id: no list entry {entry_id!r}")
        self._check_manageable(caller, entry.owner, f"id: no list entry {entry_id!r}")
        return self.store.delete_list_entry(entry_id)

    # -- geo rules -------------------------------------------------------------------------

    def geo_rules(self, caller: Caller) -> list[GeoRule]:
        return self.store.geo_rules(caller.visible_owners())

    def save_geo_rule(self, caller: Caller, rule: GeoRule, *, global_: bool = False) -> GeoRule:
        """``rule.id`` empty: a new rule; else it replaces that rule (its creation time is kept)."""
        created_us, rule_id = self._now_us(), rule.id
        if rule_id:
            existing = self.store.get_geo_rule(rule_id)
            if existing is None:
                raise NotFound(f"rule.id: no geo rule {rule_id!r}")
            self._check_manageable(caller, existing.owner, f"rule.id: no geo rule {rule_id!r}")
            created_us = existing.created_us
        else:
            rule_id = new_id("geo")
        owner = self._owner_for(caller, rule.owner, global_, "rule")
        return self.store.save_geo_rule(make_geo_rule(rule, rule_id=rule_id, owner=owner, created_us=created_us))

    def delete_geo_rule(self, caller: Caller, rule_id: str) -> bool:
        rule = self.store.get_geo_rule(rule_id)
        if rule is None:
            raise NotFound(f"id: no geo rule {rule_id!r}")
        self._check_manageable(caller, rule.owner, f"id: no geo rule {rule_id!r}")
        return self.store.delete_geo_rule(rule_id)

    # -- checks and the hit log ------------------------------------------------------------

    def check_destination(self, caller: Caller, number: str, switch_id: str = "", accountcode: str = "") -> Checked:
        """What the rules say about a typed number, as if an outbound CDR dialled it (nothing stored)."""
        e164, country = normalise_number(number)
        matcher = self.matcher()
        if caller.admin:
            tenant = matcher.tenant_of(accountcode) if accountcode else ""
        else:
            if accountcode and accountcode not in self.store.tenant_accountcodes(caller.tenant):
                raise PermissionDenied(f"accountcode: {accountcode!r} is not one of your account codes")
            tenant = caller.tenant
        return Checked(matcher.check_number(e164, country, switch_id.strip(), tenant), e164, country)

    def get_hits(self, caller: Caller, cdr_ids: Sequence[str]) -> list[Hit]:
        if len(cdr_ids) > GET_HITS_MAX:
            raise InvalidArgument(f"cdr_ids: expected at most {GET_HITS_MAX:,} ids, got {len(cdr_ids):,}")
        ids = [cdr_id for cdr_id in cdr_ids if cdr_id]
        return self.store.hits_by_cdr_ids(ids, self._accountcodes(caller)) if ids else []

    def list_hits(
        self, caller: Caller, *, verdict: str = "", since_us: int = 0, before_us: int = 0, limit: int = 0
    ) -> list[Hit]:
        """Newest first; verdict empty = the alerting ones (black and geo). ``before_us`` pages back: pass the
        last hit's ``time_us`` (check times are distinct, so no hit is skipped or shown twice)."""
        if verdict and verdict not in VERDICTS:
            raise InvalidArgument(f"verdict: expected white, black, geo or empty (black and geo), got {verdict!r}")
        if since_us < 0:
            raise InvalidArgument(f"since_us: expected epoch microseconds >= 0, got {since_us}")
        if before_us < 0:
            raise InvalidArgument(f"before_us: expected 0 (no bound) or epoch microseconds, got {before_us}")
        count = _limit(limit, HITS_LIMIT, HITS_LIMIT_MAX)
        verdicts = [verdict] if verdict else ["black", "geo"]
        return self.store.recent_hits(
            verdicts, since_us=since_us, before_us=before_us, limit=count, accountcodes=self._accountcodes(caller)
        )

    # -- tenant rules ----------------------------------------------------------------------

    def _accountcodes(self, caller: Caller) -> tuple[str, ...] | None:
        """None: every CDR (admin); else the customer's current account codes (hits of others are hidden)."""
        return None if caller.admin else self.store.tenant_accountcodes(caller.tenant)

    @staticmethod
    def _owner_for(caller: Caller, requested: str, global_: bool, field: str) -> str:
        """Owner of a new or saved object: admins choose (global, or a tenant); customers own theirs."""
        if caller.admin:
            return "" if global_ else normalise_owner(requested, f"{field}.owner")
        if global_:
            raise PermissionDenied("global: only admins manage global rules")
        if requested not in ("", caller.tenant):
            raise PermissionDenied(f"{field}.owner: a customer manages only its own tenant's rules")
        return caller.tenant

    @staticmethod
    def _check_manageable(caller: Caller, owner: str, not_found: str) -> None:
        if caller.admin or owner == caller.tenant:
            return
        if owner == "":
            raise PermissionDenied("global rules are read-only for customers")
        raise NotFound(not_found)
