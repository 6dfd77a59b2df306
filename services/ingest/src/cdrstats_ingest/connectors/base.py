"""The pull-connector loop shared by every source: read a bounded batch after the watermark, store, advance.

Order of a poll, and why nothing is lost or imported twice:
1. the source reads at most ``BATCH_SIZE`` rows after the persisted watermark, ordered by its key;
2. the rows become canonical CDRs (a bad row becomes a reject, never blocking its neighbours);
3. ``add_cdrs`` stores them with their events in one transaction (``(switch_id, uuid)`` identity);
4. only then is the new watermark written. A crash between 3 and 4 re-reads the same rows,
   which the identity turns into duplicates.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from cdrstats_common import prom
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.store.interface import RejectRecord

log = logging.getLogger(__name__)

BATCH_SIZE = 5000
#: batches read in one poll while a source has a backlog (then the next poll continues)
MAX_BATCHES_PER_POLL = 20

T = TypeVar("T")
RunIo = Callable[..., Any]


@dataclasses.dataclass
class SourceRow:
    """One source record: where it is (for rejects), its raw values, and what the mapping needs besides."""

    location: str
    raw: dict[str, Any]
    context: Any = None


@dataclasses.dataclass
class Fetched:
    rows: list[SourceRow]
    watermark: dict[str, Any]  # the watermark once these rows are stored
    more: bool  # the batch was full: read again without waiting


@dataclasses.dataclass
class PollResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    batches: int = 0
    error: str = ""


class PullSource(Protocol):
    source: str  # canonical CDR source name (kamailio_acc, asterisk_db, mongo_import)

    @property
    def fingerprint(self) -> str:
        """What the watermark refers to (type, server, table): a new one starts from the beginning."""
        ...

    @property
    def needs_thread(self) -> bool:
        """The driver blocks in C: run ``fetch`` in an OS thread under eventlet."""
        ...

    def fetch(self, watermark: dict[str, Any], limit: int) -> Fetched:
        """At most ``limit`` rows after ``watermark``, in key order (read-only)."""
        ...

    def to_cdr(self, row: SourceRow) -> dict[str, Any]:
        """The enriched, validated canonical CDR of a row; InvalidCdr names what is wrong."""
        ...

    def close(self) -> None: ...


class CdrSink(Protocol):
    """The part of CdrStore a poller uses."""

    def add_cdrs(self, cdrs: list[dict[str, Any]]) -> Any: ...

    def add_rejects(self, rejects: list[RejectRecord]) -> list[str]: ...

    def get_connector_state(self, switch_id: str) -> Any: ...

    def set_watermark(self, switch_id: str, source: str, watermark: dict[str, Any]) -> None: ...

    def record_poll(
        self, switch_id: str, *, error: str = "", accepted: int = 0, duplicates: int = 0, rejected: int = 0
    ) -> None: ...


def run_here(fn: Callable[..., T], *args: Any) -> T:
    return fn(*args)


class Poller:
    """Polls one switch's source into the store; ``run_io`` runs blocking driver calls (tpool in the worker)."""

    def __init__(
        self,
        switch: SwitchConfig,
        source: PullSource,
        store: CdrSink,
        *,
        run_io: RunIo = run_here,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.switch = switch
        self.source = source
        self.store = store
        self.run_io = run_io if source.needs_thread else run_here
        self.batch_size = batch_size

    def poll(self, max_batches: int = MAX_BATCHES_PER_POLL) -> PollResult:
        """Read until caught up (or ``max_batches``); record the outcome for the admin UI. Never raises."""
        result = PollResult()
        try:
            for _ in range(max_batches):
                more = self.poll_batch(result)
                if not more:
                    break
        except Exception as exc:  # noqa: BLE001 - a switch's database may be down; report it and retry later
            result.error = f"{type(exc).__name__}: {exc}"[:1000]
            log.warning(
                "pull connector poll failed",
                extra={
                    "fields": {"switch_id": self.switch.id, "source": self.source.fingerprint, "error": result.error}
                },
            )
        self.store.record_poll(
            self.switch.id,
            error=result.error,
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=result.rejected,
        )
        return result

    def poll_batch(self, result: PollResult) -> bool:
        """One bounded batch: fetch, store, advance the watermark. True if the source has more."""
        state = self.store.get_connector_state(self.switch.id)
        fingerprint = self.source.fingerprint
        watermark = dict(state.watermark) if state is not None and state.source == fingerprint else {}
        fetched: Fetched = self.run_io(self.source.fetch, watermark, self.batch_size)
        cdrs: list[dict[str, Any]] = []
        rejects: list[RejectRecord] = []
        for row in fetched.rows:
            try:
                cdrs.append(self.source.to_cdr(row))
            except InvalidCdr as exc:
                rejects.append(
                    RejectRecord(self.switch.id, self.source.source, str(exc), _raw_json(row.raw), row.location)
                )
        if cdrs:
            outcome = self.store.add_cdrs(cdrs)
            for status in outcome.statuses:
                prom.CDRS.labels(self.source.source, status).inc()
            result.accepted += outcome.accepted
            result.duplicates += outcome.duplicates
        if rejects:
            self.store.add_rejects(rejects)
            prom.CDRS.labels(self.source.source, "rejected").inc(len(rejects))
            result.rejected += len(rejects)
        if fetched.watermark != watermark or state is None or state.source != fingerprint:
            self.store.set_watermark(self.switch.id, fingerprint, fetched.watermark)
        result.batches += 1
        return fetched.more

    def close(self) -> None:
        self.source.close()


def _raw_json(raw: dict[str, Any]) -> str:
    return json.dumps(raw, default=str, sort_keys=True)
