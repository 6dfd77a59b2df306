"""The repository protocol every roll-up store implements (one contract suite tests them all)."""

from __future__ import annotations

from typing import Any, Protocol

from cdrstats_common.metrics import Totals


class RollupStore(Protocol):
    def apply_batch(self, event_id: str, cdrs: list[dict[str, Any]]) -> bool:
        """Add a batch of CDRs to the hourly roll-ups once per event id; False for a duplicate event."""
        ...

    def hourly_rows(
        self, start_us: int, end_us: int, *, switch_id: str | None = None, accountcodes: list[str] | None = None
    ) -> list[tuple[int, Totals]]:
        """(hour_start_us, Totals) per hour in [start_us, end_us), summed over the other dimensions.

        ``switch_id`` None means every switch; ``accountcodes`` None means every account
        code, and an empty list matches nothing.
        """
        ...

    def status(self) -> tuple[int, int]:
        """(cdrs_applied, events_applied)."""
        ...

    def beat(self, *, ready: bool = True) -> None:
        """Record the worker's heartbeat (ready=False when it stops)."""
        ...

    def worker_alive(self) -> bool: ...

    def close(self) -> None: ...
