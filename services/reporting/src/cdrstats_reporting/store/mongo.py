"""MongoDB roll-up store: ``$inc`` upserts made idempotent without a multi-document transaction.

Each roll-up document remembers the ids of the events applied to it; an update only
matches a document that does not hold the event id yet, so a redelivered event (or a
retry after a crash half-way through a batch) adds nothing twice. The event marker in
``processed_events`` is written LAST: once it exists, later deliveries stop before
touching any roll-up. The status counters are bumped by the one writer whose marker
insert succeeded, so a crash between those two single-document writes can leave the
status one event short; the roll-ups themselves stay exact. Each document's id list
grows by one entry per event touching it - bounded by the events of its bucket.

Concurrency minutes keep their points as an array (``$push`` with the same guard) and
are summarised when read, so a late point needs no read-modify-write. Top-destination
admission reads the day's tracked count first: exact with one worker per store (the
documented deployment of the reporting worker), approximate under concurrent writers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pymongo
from pymongo.errors import BulkWriteError, DuplicateKeyError

from cdrstats_common import consumer, heartbeat
from cdrstats_common.metrics import Totals
from cdrstats_reporting.domain import concurrency as conc
from cdrstats_reporting.domain import destinations
from cdrstats_reporting.domain.destinations import OTHER, admit
from cdrstats_reporting.domain.digest import Group, digest
from cdrstats_reporting.domain.rollup import (
    CUBES,
    GRAINS,
    SUM_FIELDS,
    Filters,
    RollupKey,
    cube_for,
    cube_rows,
    totals_from,
    totals_values,
)
from cdrstats_reporting.domain.timegrid import TimeGrid
from cdrstats_reporting.store.base import ZoneMismatch
from cdrstats_reporting.store.mongo_live import MongoLiveCalls

DEFAULT_DATABASE = "cdrstats_reporting"
DUPLICATE_KEY = 11000
_KEY_FIELDS = RollupKey._fields
Update = tuple[dict[str, Any], dict[str, Any]]


class MongoRollupStore(MongoLiveCalls):
    def __init__(self, db: Any, client: Any = None, time_zone: str = "UTC", *, wipe: bool = False) -> None:
        """``db`` is a pymongo (or mongomock) Database; ``client`` is closed by ``close`` if given."""
        self._db = db
        self._client = client
        self.grid = TimeGrid(time_zone)
        self._events = db["processed_events"]
        self._counters = db["rollup_counters"]
        self._heartbeats = db["heartbeats"]
        self._meta = db["meta"]
        self._migrate()
        if wipe:
            self.wipe()
        self._check_zone(time_zone)

    @classmethod
    def open(cls, url: str, time_zone: str = "UTC", *, wipe: bool = False) -> MongoRollupStore:
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url)
        return cls(client.get_default_database(default=DEFAULT_DATABASE), client, time_zone, wipe=wipe)

    def _collections(self) -> list[str]:
        cubes = [cube.table(grain) for cube in CUBES for grain in cube.grains]
        return [*cubes, "top_destinations", "conc_minutes", "conc_days", "live_calls", "ended_calls"]

    def _migrate(self) -> None:
        """Idempotent: create_index is a no-op when the same index exists."""
        for cube in CUBES:
            for grain in cube.grains:
                fields = [("bucket_us", pymongo.ASCENDING), *[(d, pymongo.ASCENDING) for d in cube.dims]]
                self._db[cube.table(grain)].create_index(fields, unique=True, name="rollup_key")
        keys: dict[str, list[str]] = {
            "top_destinations": ["day_us", "switch_id", "accountcode", "kind", "value"],
            "conc_minutes": ["switch_id", "accountcode", "minute_us"],
            "conc_days": ["switch_id", "accountcode", "day_us"],
            "live_calls": ["switch_id", "uuid"],
            "ended_calls": ["switch_id", "uuid"],
        }
        for name, key_fields in keys.items():
            self._db[name].create_index([(f, pymongo.ASCENDING) for f in key_fields], unique=True, name="key")
        consumer.mongo_index_processed(self._events)

    def _check_zone(self, time_zone: str) -> None:
        row = self._meta.find_one({"_id": "time_zone"})
        if row is None:
            if self._events.find_one({}, {"_id": 1}) is not None:
                raise ZoneMismatch("the roll-ups predate their time zone record: run `cdrstats reporting rebuild`")
            self._meta.update_one({"_id": "time_zone"}, {"$set": {"value": time_zone}}, upsert=True)
        elif row["value"] != time_zone:
            raise ZoneMismatch(
                f"the roll-ups were built for time zone {row['value']!r}, CDRSTATS_TIME_ZONE is {time_zone!r}: "
                "run `cdrstats reporting rebuild`"
            )

    # -- writes ---------------------------------------------------------------------------

    def apply_batches(
        self, events: Sequence[tuple[str, Sequence[Mapping[str, Any]]]], *, now_us: int = 0
    ) -> list[bool]:
        """One by one: without multi-document transactions each event's documents carry its own id."""
        return [self.apply_batch(event_id, cdrs, now_us=now_us) for event_id, cdrs in events]

    def apply_batch(self, event_id: str, cdrs: Sequence[Mapping[str, Any]], *, now_us: int = 0) -> bool:
        watermark = self._meta.find_one({"_id": "replay_watermark"})
        if watermark is not None:
            cdrs = [cdr for cdr in cdrs if str(cdr.get("id") or "") > watermark["value"]]
        return self._apply(event_id, cdrs, now_us or time.time_ns() // 1000, None)

    def apply_replayed(self, cdrs: Sequence[Mapping[str, Any]]) -> None:
        if cdrs:
            last = max(str(cdr.get("id") or "") for cdr in cdrs)
            self._apply(f"replay:{last}", cdrs, time.time_ns() // 1000, last)

    def _apply(self, event_id: str, cdrs: Sequence[Mapping[str, Any]], now_us: int, watermark: str | None) -> bool:
        if not event_id:
            raise ValueError("event has no id")
        if self._events.find_one({"_id": event_id}, {"_id": 1}) is not None:
            return False
        batch = digest(cdrs, self.grid, now_us)  # one pass, as the SQLite store
        for (cube, grain), rows in cube_rows(batch.full, self.grid).items():
            updates = [
                self._inc(event_id, dict(zip(("bucket_us", *cube.dims), key, strict=True)), values)
                for key, values in rows.items()
            ]
            self._write(self._db[cube.table(grain)], updates)
        self._add_destinations(event_id, batch.destinations)
        self._add_points(event_id, batch.points, batch.day_nets)
        self._end_calls(batch.ended, batch.recent, batch.ended_us)
        try:
            self._events.insert_one({"_id": event_id, "cdrs": len(cdrs), "processed_at": time.time()})
        except DuplicateKeyError:
            return False  # a concurrent delivery of the same event finished first
        self._counters.update_one(
            {"_id": "totals"}, {"$inc": {"cdrs_applied": len(cdrs), "events_applied": 1}}, upsert=True
        )
        if watermark is not None:
            self._meta.update_one({"_id": "replay_watermark"}, {"$max": {"value": watermark}}, upsert=True)
        return True

    @staticmethod
    def _inc(event_id: str, key: dict[str, Any], values: list[int] | tuple[int, ...]) -> Update:
        """(filter, update) adding ``values`` to the key's document unless it holds ``event_id``."""
        update = {"$inc": dict(zip(SUM_FIELDS, values, strict=True)), "$push": {"applied_events": event_id}}
        return {**key, "applied_events": {"$ne": event_id}}, update

    @staticmethod
    def _update(event_id: str, key: RollupKey, totals: Totals) -> Update:
        """The full hourly cube's update for one key (kept for the crash test)."""
        doc = {"bucket_us": key.hour_start_us, **{f: getattr(key, f) for f in _KEY_FIELDS[1:]}}
        return MongoRollupStore._inc(event_id, doc, totals_values(totals))

    def _write(self, collection: Any, updates: list[Update]) -> None:
        """A duplicate-key error means the document holds the event already - or lost an insert race: retry once."""
        if not updates:
            return
        try:
            collection.bulk_write([pymongo.UpdateOne(f, u, upsert=True) for f, u in updates], ordered=False)
            return
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                raise
            retry = [updates[int(error["index"])] for error in errors]
        for query, update in retry:
            with contextlib.suppress(DuplicateKeyError):  # the document exists and already holds this event id
                collection.update_one(query, update, upsert=True)

    def _add_destinations(self, event_id: str, groups: dict[Group, dict[str, list[int]]]) -> None:
        collection = self._db["top_destinations"]
        updates: list[Update] = []
        for (day, switch, code, kind), values in groups.items():
            group = {"day_us": day, "switch_id": switch, "accountcode": code, "kind": kind}
            tracked = {
                doc["value"]
                for doc in collection.find({**group, "value": {"$in": list(values)}}, {"value": 1})
                if doc["value"] != OTHER
            }
            count = collection.count_documents({**group, "value": {"$ne": OTHER}}) if len(tracked) < len(values) else 0
            for value, (attempts, answered, billsec) in admit(values, tracked, count, destinations.CAP).items():
                doc = {**group, "value": value}
                updates.append(
                    (
                        {**doc, "applied_events": {"$ne": event_id}},
                        {
                            "$inc": {"attempts": attempts, "answered": answered, "billsec_ms": billsec},
                            "$push": {"applied_events": event_id},
                        },
                    )
                )
        self._write(collection, updates)

    def _add_points(
        self, event_id: str, points: dict[tuple[str, str, int], conc.Points], day_nets: dict[tuple[str, str, int], int]
    ) -> None:
        minute_updates: list[Update] = [
            (
                {"switch_id": s, "accountcode": c, "minute_us": m, "applied_events": {"$ne": event_id}},
                {
                    "$push": {"applied_events": event_id, "points": {"$each": [[t, d] for t, d in p.items()]}},
                },
            )
            for (s, c, m), p in points.items()
        ]
        self._write(self._db["conc_minutes"], minute_updates)
        day_updates: list[Update] = [
            (
                {"switch_id": s, "accountcode": c, "day_us": d, "applied_events": {"$ne": event_id}},
                {"$inc": {"net": net}, "$push": {"applied_events": event_id}},
            )
            for (s, c, d), net in day_nets.items()
        ]
        self._write(self._db["conc_days"], day_updates)

    def prune_processed_events(self, before_us: int, limit: int) -> int:
        return consumer.mongo_prune_processed(self._events, before_us, limit)

    def wipe(self) -> None:
        for name in [*self._collections(), "processed_events", "rollup_counters"]:
            self._db[name].delete_many({})
        self._meta.delete_one({"_id": "replay_watermark"})
        self._meta.update_one({"_id": "time_zone"}, {"$set": {"value": self.grid.zone_name}}, upsert=True)

    # -- reads ----------------------------------------------------------------------------

    def rollup_rows(
        self, grain: str, start_us: int, end_us: int, group_by: tuple[str, ...], filters: Filters
    ) -> list[tuple[tuple[Any, ...], Totals]]:
        if grain not in GRAINS:
            raise ValueError(f"grain: expected hour or day, got {grain!r}")
        if filters.matches_nothing():
            return []
        cube = cube_for([*(d for d in group_by if d != "bucket"), *filters.dims()])
        table_grain = grain if grain in cube.grains else "hour"
        columns = ["bucket_us" if name == "bucket" else name for name in group_by]
        match = self._match(filters, bucket_us={"$gte": start_us, "$lt": end_us})
        group: dict[str, Any] = {"_id": {c: f"${c}" for c in columns}, **{n: {"$sum": f"${n}"} for n in SUM_FIELDS}}
        out: dict[tuple[Any, ...], Totals] = {}
        for row in self._db[cube.table(table_grain)].aggregate([{"$match": match}, {"$group": group}]):
            if not row.get("attempts"):
                continue  # every stored row counts an attempt; mongomock groups an empty input into one row
            key = [row["_id"][c] for c in columns]
            if table_grain != grain and "bucket_us" in columns:  # a day query on an hour-only cube
                key[columns.index("bucket_us")] = self.grid.day_start(key[columns.index("bucket_us")])
            out.setdefault(tuple(key), Totals()).merge(totals_from(row))
        return list(out.items())

    def hourly_rows(
        self, start_us: int, end_us: int, *, switch_id: str | None = None, accountcodes: list[str] | None = None
    ) -> list[tuple[int, Totals]]:
        filters = Filters(switch_ids=None if switch_id is None else [switch_id], accountcodes=accountcodes)
        return sorted((int(k[0]), t) for k, t in self.rollup_rows("hour", start_us, end_us, ("bucket",), filters))

    def top_destinations(
        self, kind: str, days: list[int], filters: Filters, limit: int
    ) -> tuple[list[tuple[str, list[int]]], int, int]:
        if filters.matches_nothing():
            return [], 0, 0
        match = self._match(filters, kind=kind, day_us={"$in": days})
        if not filters.items():  # the whole installation: the (ALL, ALL) groups
            match.update(switch_id=conc.ALL, accountcode=conc.ALL)
        elif filters.switch_ids is None or filters.accountcodes is None:
            match.setdefault("switch_id", {"$ne": conc.ALL})
            match.setdefault("accountcode", {"$ne": conc.ALL})
        group = {"_id": "$value", "a": {"$sum": "$attempts"}, "n": {"$sum": "$answered"}, "b": {"$sum": "$billsec_ms"}}
        rows = list(self._db["top_destinations"].aggregate([{"$match": match}, {"$group": group}]))
        other = sum(int(r["a"]) for r in rows if r["_id"] == OTHER)
        listed = sorted((r for r in rows if r["_id"] != OTHER), key=lambda r: (-r["a"], r["_id"]))[:limit]
        return (
            [(r["_id"], [int(r["a"]), int(r["n"]), int(r["b"])]) for r in listed],
            sum(int(r["a"]) for r in rows),
            other,
        )

    def concurrency(
        self, scopes: list[tuple[str, str]], start_us: int, end_us: int, *, with_points: bool
    ) -> tuple[int, dict[int, tuple[int, int]], dict[int, dict[int, int]]]:
        level = 0
        summaries: dict[int, tuple[int, int]] = {}
        merged: dict[int, dict[int, int]] = {}
        for switch, code in scopes:
            scope = {"switch_id": switch, "accountcode": code}
            for doc in self._db["conc_days"].find({**scope, "day_us": {"$lt": start_us}}, {"net": 1}):
                level += int(doc["net"])
            for doc in self._db["conc_minutes"].find({**scope, "minute_us": {"$gte": start_us, "$lt": end_us}}):
                points: dict[int, int] = {}
                for time_us, delta in doc["points"]:
                    points[int(time_us)] = points.get(int(time_us), 0) + int(delta)
                minute = int(doc["minute_us"])
                if with_points:
                    conc.merge(merged.setdefault(minute, {}), points)
                else:
                    summaries[minute] = conc.summarize(minute, points)
        return level, summaries, merged

    def switches(self) -> list[str]:
        return sorted(s for s in self._db["conc_days"].distinct("switch_id") if s != conc.ALL)

    def time_zone(self) -> str:
        return self.grid.zone_name

    def status(self) -> tuple[int, int]:
        counters = self._counters.find_one({"_id": "totals"}) or {}
        return int(counters.get("cdrs_applied", 0)), int(counters.get("events_applied", 0))

    def beat(self, *, ready: bool = True) -> None:
        self._heartbeats.update_one(
            {"_id": heartbeat.WORKER}, {"$set": {"beat_at": time.time(), "ready": ready}}, upsert=True
        )

    def worker_alive(self) -> bool:
        row = self._heartbeats.find_one({"_id": heartbeat.WORKER})
        return bool(row) and bool(row["ready"]) and time.time() - float(row["beat_at"]) <= heartbeat.MAX_AGE_S

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
