"""Destination control on MongoDB: the same contract as ``sqlite_destinations`` without transactions.

The hit log is keyed by CDR id (``_id``), which makes recording idempotent: per batch, (1) the
destination_alert events of black/geo verdicts are STAGED in the outbox, (2) the hits are inserted
(unordered; an existing CDR id is a duplicate key), (3) the events whose hit was inserted are
released and the others discarded. A writer dying after (2) leaves staged events that the relay
releases because their hit exists with their hit id (``_destination_event_committed``); dying
before (2) leaves events it deletes, and the redelivered event inserts the hits then.

Adding entries is all or none by compensation: inserted in order, and deleted again if one fails.
The rules version is a counter bumped by every entry/geo change plus a fingerprint of the tenants
collection (count and newest ``updated_at``: every ``set_tenant`` changes one of them), so tenant
changes made by the composing store move it too.
"""

from __future__ import annotations

import collections
import threading
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import pymongo
from pymongo.errors import BulkWriteError

from cdrstats_alerting.domain.destinations import (
    ALERTING_VERDICTS,
    VERDICTS,
    GeoRule,
    Hit,
    ListEntry,
    alert_data,
    calling_code_prefix,
    hit_for,
)
from cdrstats_alerting.store.destinations_interface import CHECK_CLOCK, Matcher
from cdrstats_alerting.store.mongo_outbox import PENDING, STAGED, MongoOutbox

DUPLICATE_KEY = 11000
_ENTRY_FIELDS = ("list", "owner", "prefix", "country", "note", "created_us")
_GEO_FIELDS = ("owner", "switch_id", "mode", "countries", "note", "created_us")
_HIT_FIELDS = (
    "id", "switch_id", "accountcode", "destination_e164", "country", "verdict", "rule_id", "rule", "owner",
    "start_us", "time_us",
)  # fmt: skip
_CHUNK = 1_000


def _entry(doc: Mapping[str, Any]) -> ListEntry:
    return ListEntry(doc["_id"], *(doc[f] for f in _ENTRY_FIELDS))


def _geo(doc: Mapping[str, Any]) -> GeoRule:
    return GeoRule(
        doc["_id"], doc["owner"], doc["switch_id"], doc["mode"], tuple(doc["countries"]), doc["note"], doc["created_us"]
    )


def _hit(doc: Mapping[str, Any]) -> Hit:
    values = {f: doc[f] for f in _HIT_FIELDS}
    return Hit(cdr_id=doc["_id"], **values)


def _key(entry: ListEntry) -> tuple[str, str, str, str]:
    return (entry.list, entry.owner, entry.prefix, entry.country)


class MongoDestinations:
    """Mixin of MongoAlertingStore (``self.db``, ``self.outbox``); indexes in ``migrate_destinations``."""

    db: Any
    lock: threading.Lock
    outbox: MongoOutbox

    def migrate_destinations(self) -> None:
        entries = self.db["list_entries"]
        entries.create_index(
            [(f, pymongo.ASCENDING) for f in ("list", "owner", "prefix", "country")], unique=True, name="entry_key"
        )
        entries.create_index([("owner", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)], name="owner_id")
        entries.create_index("prefix", name="prefix")
        hits = self.db["destination_hits"]
        hits.create_index("id", unique=True, name="hit_id")
        hits.create_index([("verdict", pymongo.ASCENDING), ("time_us", pymongo.DESCENDING)], name="verdict_time")
        hits.create_index(
            [("accountcode", pymongo.ASCENDING), ("verdict", pymongo.ASCENDING), ("time_us", pymongo.DESCENDING)],
            name="account_verdict_time",
        )

    def _bump_rules_version(self) -> None:
        self.db["destination_meta"].update_one({"_id": "rules_version"}, {"$inc": {"value": 1}}, upsert=True)

    # -- list entries ----------------------------------------------------------------------

    def add_list_entries(self, entries: Sequence[ListEntry]) -> list[ListEntry]:
        coll = self.db["list_entries"]
        stored = {_key(e): e for e in self._existing(entries)}
        new = [e for e in entries if _key(e) not in stored]
        docs = [{"_id": e.id, **{f: getattr(e, f) for f in _ENTRY_FIELDS}} for e in new]
        if docs:
            try:
                coll.insert_many(docs, ordered=True)
            except BulkWriteError as exc:  # all or none: take back what went in before the failure
                inserted = [doc["_id"] for doc in docs[: exc.details.get("nInserted", 0)]]
                if inserted:
                    coll.delete_many({"_id": {"$in": inserted}})
                raise
            self._bump_rules_version()
        stored.update({_key(e): e for e in new})
        return [stored[_key(e)] for e in entries]

    def _existing(self, entries: Sequence[ListEntry]) -> list[ListEntry]:
        """Stored entries equal in (list, owner, prefix, country) to some of ``entries``, by indexed queries."""
        groups: dict[tuple[str, str, bool], list[str]] = {}
        for e in entries:
            groups.setdefault((e.list, e.owner, bool(e.prefix)), []).append(e.prefix or e.country)
        found: list[ListEntry] = []
        for (list_name, owner, by_prefix), values in groups.items():
            field = "prefix" if by_prefix else "country"
            for start in range(0, len(values), _CHUNK):
                query = {"list": list_name, "owner": owner, field: {"$in": values[start : start + _CHUNK]}}
                found += [_entry(doc) for doc in self.db["list_entries"].find(query)]
        return found

    def get_list_entry(self, entry_id: str) -> ListEntry | None:
        doc = self.db["list_entries"].find_one({"_id": entry_id})
        return _entry(doc) if doc else None

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
        clauses: list[dict[str, Any]] = [{"_id": {"$gt": after_id}}]
        if owners is not None:
            clauses.append({"owner": {"$in": list(owners)}})
        if list_name:
            clauses.append({"list": list_name})
        if prefix_starts:
            clauses.append({"prefix": {"$gte": prefix_starts, "$lt": prefix_starts + ":"}})
        if country:
            code = calling_code_prefix(country)
            clauses.append({"$or": [{"country": country}, {"prefix": {"$gte": code, "$lt": code + ":"}}]})
        cursor = self.db["list_entries"].find({"$and": clauses}).sort("_id", pymongo.ASCENDING).limit(limit)
        return [_entry(doc) for doc in cursor]

    def all_list_entries(self) -> list[ListEntry]:
        return [_entry(doc) for doc in self.db["list_entries"].find().sort("_id", pymongo.ASCENDING)]

    def delete_list_entry(self, entry_id: str) -> bool:
        deleted = bool(self.db["list_entries"].delete_one({"_id": entry_id}).deleted_count)
        if deleted:
            self._bump_rules_version()
        return deleted

    # -- geo rules -------------------------------------------------------------------------

    def geo_rules(self, owners: Sequence[str] | None = None) -> list[GeoRule]:
        query = {} if owners is None else {"owner": {"$in": list(owners)}}
        return [_geo(doc) for doc in self.db["geo_rules"].find(query).sort("_id", pymongo.ASCENDING)]

    def get_geo_rule(self, rule_id: str) -> GeoRule | None:
        doc = self.db["geo_rules"].find_one({"_id": rule_id})
        return _geo(doc) if doc else None

    def save_geo_rule(self, rule: GeoRule) -> GeoRule:
        existing = self.db["geo_rules"].find_one({"_id": rule.id}, {"created_us": 1})
        created_us = existing["created_us"] if existing else rule.created_us
        values = {f: getattr(rule, f) for f in _GEO_FIELDS} | {
            "countries": list(rule.countries),
            "created_us": created_us,
        }
        self.db["geo_rules"].replace_one({"_id": rule.id}, values, upsert=True)
        self._bump_rules_version()
        saved = self.get_geo_rule(rule.id)
        assert saved is not None
        return saved

    def delete_geo_rule(self, rule_id: str) -> bool:
        deleted = bool(self.db["geo_rules"].delete_one({"_id": rule_id}).deleted_count)
        if deleted:
            self._bump_rules_version()
        return deleted

    def rules_version(self) -> int:
        counter = self.db["destination_meta"].find_one({"_id": "rules_version"})
        tenants = list(
            self.db["tenants"].aggregate([{"$group": {"_id": None, "n": {"$sum": 1}, "last": {"$max": "$updated_at"}}}])
        )
        fingerprint = (
            counter["value"] if counter else 0,
            tenants[0]["n"] if tenants else 0,
            tenants[0]["last"] if tenants else 0,
        )
        return zlib.crc32(repr(fingerprint).encode())  # equality is all the matcher cache needs

    # -- hit log ---------------------------------------------------------------------------

    def _record_hits(self, cdrs: Sequence[Mapping[str, Any]], matcher: Matcher) -> collections.Counter[str]:
        """Log every verdict once per CDR id; black/geo verdicts' events staged, then released or discarded.
        Returns the newly logged verdicts by kind."""
        first_us = CHECK_CLOCK.take(len(cdrs))
        hits: list[tuple[Hit, Mapping[str, Any]]] = []
        for index, cdr in enumerate(cdrs):
            verdict = matcher.check(cdr)
            if verdict is not None and cdr.get("id"):
                hits.append((hit_for(cdr, verdict, first_us + index), cdr))
        if not hits:
            return collections.Counter()
        staged: dict[str, str] = {}  # hit id -> outbox _id
        docs = []
        for hit, cdr in hits:
            if hit.verdict in ALERTING_VERDICTS:
                data = alert_data(hit, cdr, matcher.tenant_of(hit.accountcode), matcher.link(hit.cdr_id))
                doc = self.outbox._document("destination_alert", data, STAGED, {"cdr_id": hit.cdr_id, "hit_id": hit.id})
                staged[hit.id] = doc["_id"]
                docs.append(doc)
        if docs:
            self.outbox.coll.insert_many(docs, ordered=True)
        rows = [{"_id": hit.cdr_id, **{f: getattr(hit, f) for f in _HIT_FIELDS}} for hit, _ in hits]
        failed: set[int] = set()
        try:
            self.db["destination_hits"].insert_many(rows, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(error.get("code") != DUPLICATE_KEY for error in errors):
                self.outbox.coll.delete_many({"_id": {"$in": list(staged.values())}, "state": STAGED})
                raise
            failed = {int(error["index"]) for error in errors}
        logged = [hit for index, (hit, _) in enumerate(hits) if index not in failed]
        release = [staged[hit.id] for hit in logged if hit.id in staged]
        discard = [staged[hits[index][0].id] for index in failed if hits[index][0].id in staged]
        if release:
            self.outbox.coll.update_many({"_id": {"$in": release}, "state": STAGED}, {"$set": {"state": PENDING}})
        if discard:
            self.outbox.coll.delete_many({"_id": {"$in": discard}, "state": STAGED})
        return collections.Counter(hit.verdict for hit in logged)

    def _destination_event_committed(self, doc: Mapping[str, Any]) -> bool:
        """A staged destination_alert is due when its hit was logged by the same writer (same hit id)."""
        check = doc.get("check") or {}
        hit = self.db["destination_hits"].find_one({"_id": check.get("cdr_id")}, {"id": 1})
        return hit is not None and hit["id"] == check.get("hit_id")

    def hits_by_cdr_ids(self, cdr_ids: Sequence[str], accountcodes: Sequence[str] | None = None) -> list[Hit]:
        if accountcodes is not None and not accountcodes:
            return []
        ids = list(dict.fromkeys(cdr_ids))
        hits: list[Hit] = []
        for start in range(0, len(ids), _CHUNK):
            query: dict[str, Any] = {"_id": {"$in": ids[start : start + _CHUNK]}}
            if accountcodes is not None:
                query["accountcode"] = {"$in": list(accountcodes)}
            hits += [_hit(doc) for doc in self.db["destination_hits"].find(query)]
        order = {cdr_id: index for index, cdr_id in enumerate(ids)}
        return sorted(hits, key=lambda hit: order[hit.cdr_id])

    def recent_hits(
        self,
        verdicts: Sequence[str],
        *,
        since_us: int = 0,
        before_us: int = 0,
        limit: int = 100,
        accountcodes: Sequence[str] | None = None,
    ) -> list[Hit]:
        if accountcodes is not None and not accountcodes:
            return []
        hits: list[Hit] = []
        for verdict in dict.fromkeys(verdicts):  # one indexed query per verdict, merged (as on SQLite)
            query: dict[str, Any] = {"verdict": verdict, "time_us": {"$gte": since_us, "$lt": before_us or 2**62}}
            if accountcodes is not None:
                query["accountcode"] = {"$in": list(accountcodes)}
            cursor = self.db["destination_hits"].find(query).sort([("time_us", -1), ("id", -1)]).limit(limit)
            hits += [_hit(doc) for doc in cursor]
        hits.sort(key=lambda hit: (hit.time_us, hit.id), reverse=True)
        return hits[:limit]

    def prune_hits(self, before_us: int, limit: int) -> int:
        """Verdict by verdict, on the ``verdict_time`` index; deleted by id so one call stays bounded."""
        coll, deleted = self.db["destination_hits"], 0
        for verdict in VERDICTS:
            old = {"verdict": verdict, "time_us": {"$lt": before_us}}
            ids = [doc["_id"] for doc in coll.find(old, {"_id": 1}).limit(limit - deleted)] if deleted < limit else []
            if ids:
                deleted += int(coll.delete_many({"_id": {"$in": ids}, **old}).deleted_count)
        return deleted

    def destination_counts(self) -> dict[str, int]:
        return {
            "list_entries": int(self.db["list_entries"].count_documents({})),
            "geo_rules": int(self.db["geo_rules"].count_documents({})),
            "hits": int(self.db["destination_hits"].count_documents({})),
        }
