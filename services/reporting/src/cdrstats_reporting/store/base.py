"""The repository protocol every roll-up store implements (one contract suite tests them all)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain.live import CallState
from cdrstats_reporting.domain.rollup import Filters


class ZoneMismatch(RuntimeError):
    """The roll-ups were built in another reporting time zone: they must be rebuilt."""


class RollupStore(Protocol):
    def apply_batch(self, event_id: str, cdrs: Sequence[Mapping[str, Any]], *, now_us: int = 0) -> bool:
        """Add a batch of CDRs to every roll-up once per event id (one transaction); False for a duplicate event.

        The batch also ends the live calls with the same (switch_id, uuid).
        """
        ...

    def apply_batches(
        self, events: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], *, now_us: int = 0
    ) -> list[bool]:
        """``apply_batch`` for several events at once (the worker's group commit); one flag per event, in order.

        SQLite applies them in one transaction with their CDRs summed together; an adapter without
        multi-document transactions may apply them one by one.
        """
        ...

    def apply_replayed(self, cdrs: Sequence[Mapping[str, Any]]) -> None:
        """Apply a ReplayCdrs batch (a rebuild) and raise the replay watermark to its last CDR id: later
        ``apply_batch`` calls skip CDRs at or below it (events queued while the worker was stopped)."""
        ...

    def apply_call_state(self, event_id: str, state: CallState) -> bool:
        """Start, answer or end a live call once per event id."""
        ...

    def expire_live_calls(self, before_us: int) -> int:
        """Drop live calls without an event since ``before_us``; how many."""
        ...

    def prune_processed_events(self, before_us: int, limit: int) -> int:
        """Forget at most ``limit`` applied event ids recorded before ``before_us``, oldest first (one short
        write); the worker prunes them past CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS (``retention``)."""
        ...

    def wipe(self) -> None:
        """Forget every roll-up and applied event (for a rebuild)."""
        ...

    def rollup_rows(
        self, grain: str, start_us: int, end_us: int, group_by: tuple[str, ...], filters: Filters
    ) -> list[tuple[tuple[Any, ...], Totals]]:
        """Sums per ``group_by`` ("bucket" = the bucket start, and/or dimensions) over buckets starting in
        [start_us, end_us) of grain "hour" or "day"; filters None mean any value."""
        ...

    def hourly_rows(
        self, start_us: int, end_us: int, *, switch_id: str | None = None, accountcodes: list[str] | None = None
    ) -> list[tuple[int, Totals]]:
        """(hour_start_us, Totals) per hour in [start_us, end_us), summed over the other dimensions."""
        ...

    def top_destinations(
        self, kind: str, days: list[int], filters: Filters, limit: int
    ) -> tuple[list[tuple[str, list[int]]], int, int]:
        """([(value, [attempts, answered, billsec_ms])] top ``limit`` of kind "n" or "p" over the local days
        starting at ``days``, total attempts, attempts of untracked values)."""
        ...

    def concurrency(
        self, scopes: list[tuple[str, str]], start_us: int, end_us: int, *, with_points: bool
    ) -> tuple[int, dict[int, tuple[int, int]], dict[int, dict[int, int]]]:
        """(level before start_us summed over the scopes, {minute: (net, peak_in)} when one scope is read without
        points, {minute: merged points} with points); start_us must be a local day start."""
        ...

    def switches(self) -> list[str]: ...

    def live_calls(self, filters: Filters, since_us: int) -> list[dict[str, Any]]:
        """Live calls with an event at or after ``since_us``, newest first."""
        ...

    def live_version(self) -> int:
        """A number that changes whenever the live calls change."""
        ...

    def time_zone(self) -> str: ...

    def status(self) -> tuple[int, int]:
        """(cdrs_applied, events_applied)."""
        ...

    def beat(self, *, ready: bool = True) -> None:
        """Record the worker's heartbeat (ready=False when it stops)."""
        ...

    def worker_alive(self) -> bool: ...

    def close(self) -> None: ...
