"""The destination-control part of the alerting store: list entries, geo rules, the hit log, the rules version."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from cdrstats_alerting.domain.destinations import GeoRule, Hit, ListEntry, Verdict


class Matcher(Protocol):
    """What ``apply_cdrs_event`` receives: the compiled rules (``domain.prefix_match.Matcher``)."""

    def check(self, cdr: Mapping[str, Any]) -> Verdict | None: ...
    def tenant_of(self, accountcode: str) -> str: ...
    def link(self, cdr_id: str) -> str: ...


class CheckClock:
    """Distinct, increasing check times within a process: the hit log pages back by check time
    (``recent_hits(before_us=...)``), so the hits of one batch must not share one microsecond."""

    def __init__(self) -> None:
        self._last_us = 0
        self._lock = threading.Lock()

    def take(self, count: int) -> int:
        """The first of ``count`` consecutive microseconds, none handed out before."""
        with self._lock:
            first = max(time.time_ns() // 1000, self._last_us + 1)
            self._last_us = first + max(count, 1) - 1
            return first


CHECK_CLOCK = CheckClock()


class DestinationStore(Protocol):
    # -- list entries ----------------------------------------------------------------------
    def add_list_entries(self, entries: Sequence[ListEntry]) -> list[ListEntry]:
        """Store validated entries all or none; an entry equal in (list, owner, prefix, country) to a stored
        one is not added again: the stored one is returned in its place. Same order as given."""
        ...

    def get_list_entry(self, entry_id: str) -> ListEntry | None: ...

    def list_entries(
        self,
        *,
        owners: Sequence[str] | None,
        list_name: str = "",
        prefix_starts: str = "",
        country: str = "",
        after_id: str = "",
        limit: int = 500,
    ) -> list[ListEntry]:
        """Entries in id order after ``after_id``; owners None = every owner. ``country`` narrows to that
        country's entry and the prefixes starting with its calling code."""
        ...

    def all_list_entries(self) -> list[ListEntry]:
        """Every entry (the matcher is built from these)."""
        ...

    def delete_list_entry(self, entry_id: str) -> bool: ...

    # -- geo rules -------------------------------------------------------------------------
    def geo_rules(self, owners: Sequence[str] | None = None) -> list[GeoRule]:
        """In id order; owners None = every owner."""
        ...

    def get_geo_rule(self, rule_id: str) -> GeoRule | None: ...
    def save_geo_rule(self, rule: GeoRule) -> GeoRule:
        """Insert, or replace the rule with the same id."""
        ...

    def delete_geo_rule(self, rule_id: str) -> bool: ...

    # -- rules version ---------------------------------------------------------------------
    def rules_version(self) -> int:
        """Changes whenever an entry, a geo rule or a tenant's account codes change (one cheap read)."""
        ...

    # -- hit log ---------------------------------------------------------------------------
    def hits_by_cdr_ids(self, cdr_ids: Sequence[str], accountcodes: Sequence[str] | None = None) -> list[Hit]:
        """The stored verdicts of these CDRs; accountcodes None = any (admin), else only CDRs of these codes."""
        ...

    def recent_hits(
        self,
        verdicts: Sequence[str],
        *,
        since_us: int = 0,
        before_us: int = 0,
        limit: int = 100,
        accountcodes: Sequence[str] | None = None,
    ) -> list[Hit]:
        """Newest first (by check time, then id), checked at or after ``since_us`` and before ``before_us``
        (0: no upper bound; the cursor of the next older page is the last hit's ``time_us``)."""
        ...

    def prune_hits(self, before_us: int, limit: int) -> int:
        """Delete at most ``limit`` hits checked before ``before_us`` (one short write); returns how many."""
        ...

    def destination_counts(self) -> dict[str, int]:
        """``{"list_entries", "geo_rules", "hits"}`` for GetStatus."""
        ...
