"""What ingest needs from its store; both adapters pass one contract suite."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, Protocol

from cdrstats_ingest.domain.query import CdrSearch, SearchPage
from cdrstats_ingest.domain.switch import SwitchConfig


@dataclasses.dataclass(frozen=True)
class StoredSwitch:
    config: SwitchConfig
    password_hash: str


@dataclasses.dataclass
class SubmitOutcome:
    """Per-record results of one batch: ``statuses[i]`` is accepted or duplicate; ids in input order."""

    statuses: list[str]
    ids: list[str]
    events: int

    @property
    def accepted(self) -> int:
        return self.statuses.count("accepted")

    @property
    def duplicates(self) -> int:
        return self.statuses.count("duplicate")


@dataclasses.dataclass(frozen=True)
class RejectRecord:
    """A record that could not be accepted, kept with its raw input so an admin can see and re-import it."""

    switch_id: str
    source: str
    reason: str
    raw: str
    location: str  # "line 17 of calls.csv", "record 3 of a SubmitCdrs stream", "POST /v1/freeswitch/json"
    parser: str = ""  # how to re-parse ``raw`` (JSON, set by file imports: format, mapping, header); "": by source


@dataclasses.dataclass(frozen=True)
class StoredReject:
    """A kept reject as an admin sees it; ``status`` is open or reimported."""

    id: str
    record: RejectRecord
    received_time_us: int
    status: str = "open"
    cdr_id: str = ""  # the CDR it became once re-imported


@dataclasses.dataclass
class ImportJob:
    """One file import: what, into which switch, how far it got and how it ended (running, done, failed)."""

    id: str
    switch_id: str
    format: str
    file_name: str = ""
    size_bytes: int = 0
    status: str = "running"
    bytes_read: int = 0
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    error: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0


@dataclasses.dataclass(frozen=True)
class ConnectorState:
    """A pull connector's persistent watermark and the outcome of its last poll (shown to admins)."""

    switch_id: str
    source: str = ""  # fingerprint of what the watermark refers to (type, server, table)
    watermark: dict[str, Any] = dataclasses.field(default_factory=dict)
    last_poll_at: float = 0.0
    last_success_at: float = 0.0
    last_error: str = ""
    last_accepted: int = 0
    last_duplicates: int = 0
    last_rejected: int = 0
    total_accepted: int = 0


class CdrStore(Protocol):
    def add_cdrs(self, cdrs: list[dict[str, Any]]) -> SubmitOutcome:
        """Store new CDRs and queue their ``cdrs_ingested`` events in one transaction.

        ``(switch_id, uuid)`` already stored → duplicate, nothing written. Ids are
        assigned here. All or nothing: a failure stores none of the batch.
        """
        ...

    def get_cdr(self, cdr_id: str) -> dict[str, Any] | None: ...

    def upsert_switch(self, config: SwitchConfig, password_hash: str | None) -> SwitchConfig: ...

    def get_switch(self, switch_id: str) -> StoredSwitch | None: ...

    def find_switch_by_username(self, username: str) -> StoredSwitch | None: ...

    def list_switches(self) -> list[SwitchConfig]: ...

    def delete_switch(self, switch_id: str) -> bool:
        """Forget a switch (its CDRs stay); False if there was none."""
        ...

    def cdr_count(self) -> int: ...

    def outbox_pending(self) -> int: ...

    def relay_outbox(self, publisher: Any) -> int:
        """Publish pending events (confirmed by the broker) and mark them sent."""
        ...

    # -- rejects and mapping profiles (store/sqlite_imports.py, store/mongo_imports.py) --------------
    def add_rejects(self, rejects: list[RejectRecord]) -> list[str]:
        """Keep rejected records with their raw input (status open); their ids, in input order."""
        ...

    def list_rejects(
        self, switch_id: str = "", *, include_reimported: bool = False, before_id: str = "", limit: int = 100
    ) -> list[StoredReject]:
        """Rejects newest first, keyset-paged: those with an id below ``before_id`` ("" = from the newest)."""
        ...

    def count_rejects(self, switch_id: str = "", *, include_reimported: bool = False) -> int:
        """How many rejects ``list_rejects`` would page through."""
        ...

    def rejects_open(self) -> int:
        """Rejects not yet re-imported (for GetStatus)."""
        ...

    def get_reject(self, reject_id: str) -> StoredReject | None: ...

    def mark_reject_reimported(self, reject_id: str, cdr_id: str = "") -> bool:
        """Close a reject once its record (or its correction) is stored; False if there is no such reject."""
        ...

    def save_mapping_profile(self, name: str, profile: dict[str, Any]) -> None:
        """Create or replace a named generic-CSV mapping profile (JSON-ready dict)."""
        ...

    def get_mapping_profile(self, name: str) -> dict[str, Any] | None: ...

    def list_mapping_profiles(self) -> list[dict[str, Any]]:
        """Every saved profile, by name."""
        ...

    def delete_mapping_profile(self, name: str) -> bool:
        """False if there was no such profile."""
        ...

    def save_import_job(self, job: ImportJob) -> None:
        """Create or update an import job record (progress and outcome)."""
        ...

    def get_import_job(self, job_id: str) -> ImportJob | None: ...

    def list_import_jobs(self, limit: int = 50) -> list[ImportJob]:
        """The latest import jobs, newest first."""
        ...

    # -- pull connector watermarks (store/sqlite_connectors.py, store/mongo_connectors.py) ---------
    def get_connector_state(self, switch_id: str) -> ConnectorState | None:
        """Watermark and last poll of a switch's pull connector; None before its first poll."""
        ...

    def set_watermark(self, switch_id: str, source: str, watermark: dict[str, Any]) -> None:
        """Persist how far the connector has read ``source`` (opaque JSON, written after the CDRs)."""
        ...

    def record_poll(
        self, switch_id: str, *, error: str = "", accepted: int = 0, duplicates: int = 0, rejected: int = 0
    ) -> None:
        """Record a poll's outcome for the admin UI (error "" = success)."""
        ...

    def list_connector_states(self) -> list[ConnectorState]:
        """Every connector's state, by switch id."""
        ...

    # -- search, export, replay (store/sqlite_search.py, store/mongo_search.py) -----------------
    def search_cdrs(self, search: CdrSearch, limit: int, *, with_total: bool = False) -> SearchPage:
        """One keyset page of ``limit`` CDRs after ``search.after``, sorted by ``search.sort`` then ingest order."""
        ...

    def export_cdrs(
        self, search: CdrSearch, *, batch_size: int = 1000, limit: int = 0
    ) -> Iterator[list[dict[str, Any]]]:
        """Every matching CDR (at most ``limit``; 0: all) in batches, by keyset pages: constant memory."""
        ...

    def replay_cdrs(self, after_id: str = "", batch_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """Every CDR with an id above ``after_id`` (ingest order), in batches."""
        ...

    # -- call state (published through the outbox as ``call_state``) ------------------------------
    def add_call_state(self, event: dict[str, Any]) -> None:
        """Queue one ``call_state`` event (data as domain/callstate.py builds it) in the outbox, one transaction."""
        ...

    def beat(self) -> None: ...

    def checkpoint(self) -> None:
        """Background housekeeping of the store's write log (SQLite WAL); a no-op where there is none."""
        ...

    def worker_alive(self) -> bool: ...

    def close(self) -> None: ...
