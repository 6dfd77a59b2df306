"""What ingest needs from its store; both adapters pass one contract suite."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

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

    def cdr_count(self) -> int: ...

    def outbox_pending(self) -> int: ...

    def relay_outbox(self, publisher: Any) -> int:
        """Publish pending events (confirmed by the broker) and mark them sent."""
        ...

    # -- rejects and mapping profiles (store/sqlite_imports.py, store/mongo_imports.py) --------------
    # add_rejects(rejects: list[RejectRecord]) -> list[str]: keep rejected records, ids in input order

    # -- pull connector watermarks (store/sqlite_connectors.py, store/mongo_connectors.py) ---------

    # -- search, export, replay (store/sqlite_search.py, store/mongo_search.py) -----------------

    # -- call state (published through the outbox as ``call_state``) ------------------------------

    def beat(self) -> None: ...

    def worker_alive(self) -> bool: ...

    def close(self) -> None: ...
