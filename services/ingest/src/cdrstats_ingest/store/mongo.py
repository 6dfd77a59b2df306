"""MongoDB adapter of the raw CDR store (pymongo; the database comes from the URL).

Identity is the unique index ``(switch_id, uuid)``: a batch is inserted unordered and the duplicate-key
errors (11000) are the duplicates — no look-up round trip for the common all-new batch. Events go
through ``MongoOutbox`` (staged before the CDRs, see there) since MongoDB has no cross-collection
transaction without a replica set. A batch is therefore not all-or-nothing on MongoDB when the server
fails half-way: a failed batch is deleted again (best effort), and whatever stays stored still gets its
event and is reported as a duplicate when the client retries — nothing accepted is lost.

The area mixins (imports, connectors, search) use ``self.db`` and ``self.lock``; a mixin's indexes go in
a method named ``migrate_<area>(self) -> None``, which start-up calls (idempotent, like create_index).
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pymongo
from pymongo.errors import BulkWriteError, PyMongoError

from cdrstats_common import heartbeat
from cdrstats_ingest.domain.ids import new_ids
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.store.interface import StoredSwitch, SubmitOutcome
from cdrstats_ingest.store.mongo_codec import CDRS, cdr_to_doc, doc_to_cdr
from cdrstats_ingest.store.mongo_connectors import MongoConnectorsMixin
from cdrstats_ingest.store.mongo_imports import MongoImportsMixin
from cdrstats_ingest.store.mongo_outbox import MongoOutbox
from cdrstats_ingest.store.mongo_search import MongoSearchMixin

SERVICE = "ingest"
DEFAULT_DATABASE = "cdrstats_ingest"
EVENT_BATCH = 1000
DUPLICATE_KEY = 11000
_LOOKUP_CHUNK = 1000


def _switch_from_doc(doc: dict[str, Any]) -> StoredSwitch:
    return StoredSwitch(SwitchConfig.from_dict(doc["config"]), doc.get("password_hash", ""))


class MongoCdrStore(MongoImportsMixin, MongoConnectorsMixin, MongoSearchMixin):
    """pymongo is thread-safe; ``lock`` is for mixins that need a critical section."""

    def __init__(self, db: Any, client: Any = None) -> None:
        """``db`` is a pymongo (or mongomock) Database; ``client`` is closed by ``close`` if given."""
        self.db = db
        self.client = client
        self.lock = threading.Lock()
        self.cdrs = db[CDRS]
        self.switches = db["switches"]
        self.heartbeats = db["heartbeats"]
        self.outbox = MongoOutbox(db, SERVICE)
        self._migrate()

    @classmethod
    def open(cls, url: str) -> MongoCdrStore:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url)
        return cls(client.get_default_database(default=DEFAULT_DATABASE), client)

    def _migrate(self) -> None:
        """Idempotent: create_index is a no-op when the same index exists. Mixins add theirs in ``migrate_*``."""
        asc = pymongo.ASCENDING
        # identity; also the shard key a cluster needs to keep it unique (docs/ingest.md, "Sharding")
        self.cdrs.create_index([("switch_id", asc), ("uuid", asc)], unique=True, name="identity")
        # time-ordered indexes come from migrate_search: (start_time_us, _id) and (switch_id, start_time_us, _id)
        # cover what plain start / switch+start indexes would, without a second write per insert
        # sparse: switches without a user (pull only) aren't indexed, so they don't collide on ""
        self.switches.create_index("username", unique=True, sparse=True, name="username")
        self.outbox.migrate()
        for name in dir(self):
            if name.startswith("migrate_"):
                getattr(self, name)()

    # -- CDRs -------------------------------------------------------------------------------------

    def add_cdrs(self, cdrs: list[dict[str, Any]]) -> SubmitOutcome:
        now = time.time()
        first: dict[tuple[str, str], int] = {}  # identity -> index of its first occurrence in the batch
        ids = new_ids(len(cdrs))
        statuses: list[str] = []
        accepted: list[dict[str, Any]] = []
        docs: list[dict[str, Any]] = []
        for index, cdr in enumerate(cdrs):
            key = (cdr["switch_id"], cdr["uuid"])
            if key in first:
                statuses.append("duplicate")
                continue
            first[key] = index
            statuses.append("accepted")
            stored = {**cdr, "id": ids[index]}
            docs.append(cdr_to_doc(stored, now))  # every document is built before anything is written
            accepted.append(stored)
        staged = self.outbox.stage("cdrs_ingested", self._event_datas(accepted))
        try:
            existing = self._insert(docs)
        except BaseException:
            self._undo(docs, staged)
            raise
        live = [doc["_id"] for doc in staged]
        if existing:
            accepted = [cdr for cdr in accepted if (cdr["switch_id"], cdr["uuid"]) not in existing]
            live = self._restage(staged, accepted)
            for key, cdr_id in existing.items():
                statuses[first[key]] = "duplicate"
                ids[first[key]] = cdr_id
        if not self.outbox.release(live):
            self.outbox.add("cdrs_ingested", self._event_datas(accepted))  # recovery took ours: queue again
        for index, cdr in enumerate(cdrs):
            ids[index] = ids[first[(cdr["switch_id"], cdr["uuid"])]]
        return SubmitOutcome(statuses, ids, -(-len(accepted) // EVENT_BATCH))

    @staticmethod
    def _event_datas(accepted: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"cdrs": accepted[start : start + EVENT_BATCH]} for start in range(0, len(accepted), EVENT_BATCH)]

    def _insert(self, docs: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
        """Insert unordered; returns the identities that were stored already, with their stored ids."""
        if not docs:
            return {}
        try:
            self.cdrs.insert_many(docs, ordered=False)
            return {}
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            clashing = [docs[int(error["index"])] for error in errors]
        return self._stored_ids([(doc["switch_id"], doc["uuid"]) for doc in clashing])

    def _stored_ids(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        by_switch: dict[str, list[str]] = {}
        for switch_id, uuid in keys:
            by_switch.setdefault(switch_id, []).append(uuid)
        found: dict[tuple[str, str], str] = {}
        for switch_id, uuids in by_switch.items():
            for start in range(0, len(uuids), _LOOKUP_CHUNK):
                query = {"switch_id": switch_id, "uuid": {"$in": uuids[start : start + _LOOKUP_CHUNK]}}
                for row in self.cdrs.find(query, {"uuid": 1}):
                    found[(switch_id, row["uuid"])] = row["_id"]
        missing = set(keys) - set(found)
        if missing:
            raise RuntimeError(f"duplicate key but no stored CDR for {sorted(missing)[:3]}")
        return found

    def _restage(self, staged: list[dict[str, Any]], accepted: list[dict[str, Any]]) -> list[str]:
        """Some CDRs were duplicates: staged events list only the stored ones, emptied events are dropped;
        returns the staged events still to release."""
        datas = self._event_datas(accepted)
        for doc, data in zip(staged, datas, strict=False):
            self.outbox.restage(doc, data)
        self.outbox.discard(doc["_id"] for doc in staged[len(datas) :])
        return [doc["_id"] for doc in staged[: len(datas)]]

    def _undo(self, docs: list[dict[str, Any]], staged: list[dict[str, Any]]) -> None:
        """Best effort after a failed insert; what stays is found by the outbox's recovery."""
        with contextlib.suppress(PyMongoError):
            self.cdrs.delete_many({"_id": {"$in": [doc["_id"] for doc in docs]}})
            self.outbox.discard(doc["_id"] for doc in staged)

    def get_cdr(self, cdr_id: str) -> dict[str, Any] | None:
        doc = self.cdrs.find_one({"_id": cdr_id})
        return None if doc is None else doc_to_cdr(doc)

    def cdr_count(self) -> int:
        """From collection metadata: exact after a clean shutdown, and O(1) on 10M CDRs."""
        return int(self.cdrs.estimated_document_count())

    # -- call state -------------------------------------------------------------------------------

    def add_call_state(self, event: dict[str, Any]) -> None:
        self.outbox.add("call_state", [event])

    # -- outbox -----------------------------------------------------------------------------------

    def outbox_pending(self) -> int:
        return self.outbox.pending_count()

    def relay_outbox(self, publisher: Any) -> int:
        return self.outbox.relay(publisher, self.cdrs)

    # -- switches ---------------------------------------------------------------------------------

    def upsert_switch(self, config: SwitchConfig, password_hash: str | None) -> SwitchConfig:
        update: dict[str, Any] = {"$set": {"config": config.to_dict()}}
        if password_hash:
            update["$set"]["password_hash"] = password_hash
        else:
            update["$setOnInsert"] = {"password_hash": ""}
        if config.username:
            update["$set"]["username"] = config.username
        else:
            update["$unset"] = {"username": ""}
        self.switches.update_one({"_id": config.id}, update, upsert=True)
        return config

    def get_switch(self, switch_id: str) -> StoredSwitch | None:
        doc = self.switches.find_one({"_id": switch_id})
        return None if doc is None else _switch_from_doc(doc)

    def find_switch_by_username(self, username: str) -> StoredSwitch | None:
        doc = self.switches.find_one({"username": username}) if username else None
        return None if doc is None else _switch_from_doc(doc)

    def list_switches(self) -> list[SwitchConfig]:
        return [_switch_from_doc(doc).config for doc in self.switches.find().sort("_id", 1)]

    def delete_switch(self, switch_id: str) -> bool:
        return bool(self.switches.delete_one({"_id": switch_id}).deleted_count)

    # -- worker heartbeat (cdrstats_common.heartbeat's semantics) ---------------------------------

    def checkpoint(self) -> None:
        """MongoDB manages its own journal."""

    def beat(self, *, ready: bool = True) -> None:
        self.heartbeats.update_one(
            {"_id": heartbeat.WORKER}, {"$set": {"beat_at": time.time(), "ready": ready}}, upsert=True
        )

    def worker_alive(self) -> bool:
        doc = self.heartbeats.find_one({"_id": heartbeat.WORKER})
        return bool(doc) and bool(doc["ready"]) and time.time() - float(doc["beat_at"]) <= heartbeat.MAX_AGE_S

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
