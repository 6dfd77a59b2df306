"""Rejects, generic-CSV mapping profiles and import jobs in MongoDB (mixed into MongoCdrStore).

Same contract as store/sqlite_imports.py. Collections: ``rejects`` (``_id`` = sortable reject
id), ``mapping_profiles`` (``_id`` = name), ``import_jobs`` (``_id`` = job id).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import pymongo
from pymongo.database import Database

from cdrstats_ingest.domain.ids import new_ids
from cdrstats_ingest.store.interface import ImportJob, RejectRecord, StoredReject

REJECTS = "rejects"
PROFILES = "mapping_profiles"
JOBS = "import_jobs"


def _reject_from_doc(doc: dict[str, Any]) -> StoredReject:
    record = RejectRecord(
        switch_id=doc["switch_id"],
        source=doc["source"],
        reason=doc["reason"],
        raw=doc["raw"],
        location=doc["location"],
        parser=doc.get("parser", ""),
    )
    return StoredReject(doc["_id"], record, int(doc["received_time_us"]), doc["status"], doc.get("cdr_id", ""))


def _reject_filter(switch_id: str, include_reimported: bool) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if switch_id:
        query["switch_id"] = switch_id
    if not include_reimported:
        query["status"] = "open"
    return query


class MongoImportsMixin:
    """The rejects store, mapping profiles and import jobs of ingest."""

    db: Database[dict[str, Any]]
    lock: threading.Lock

    def migrate_imports(self) -> None:
        """Indexes for the admin's reject list (idempotent; MongoCdrStore calls it at start-up)."""
        self.db[REJECTS].create_index([("status", pymongo.ASCENDING), ("_id", pymongo.DESCENDING)])
        self.db[REJECTS].create_index(
            [("switch_id", pymongo.ASCENDING), ("status", pymongo.ASCENDING), ("_id", pymongo.DESCENDING)]
        )

    # -- rejects -------------------------------------------------------------------
    def add_rejects(self, rejects: list[RejectRecord]) -> list[str]:
        if not rejects:
            return []
        ids = new_ids(len(rejects))
        now_us = int(time.time() * 1_000_000)
        docs = [
            {**dataclasses.asdict(r), "_id": reject_id, "received_time_us": now_us, "status": "open", "cdr_id": ""}
            for reject_id, r in zip(ids, rejects, strict=True)
        ]
        self.db[REJECTS].insert_many(docs, ordered=True)
        return ids

    def list_rejects(
        self, switch_id: str = "", *, include_reimported: bool = False, before_id: str = "", limit: int = 100
    ) -> list[StoredReject]:
        query = _reject_filter(switch_id, include_reimported)
        if before_id:
            query["_id"] = {"$lt": before_id}
        cursor = self.db[REJECTS].find(query).sort("_id", pymongo.DESCENDING).limit(limit)
        return [_reject_from_doc(doc) for doc in cursor]

    def count_rejects(self, switch_id: str = "", *, include_reimported: bool = False) -> int:
        return int(self.db[REJECTS].count_documents(_reject_filter(switch_id, include_reimported)))

    def rejects_open(self) -> int:
        return self.count_rejects()

    def get_reject(self, reject_id: str) -> StoredReject | None:
        doc = self.db[REJECTS].find_one({"_id": reject_id})
        return _reject_from_doc(doc) if doc else None

    def mark_reject_reimported(self, reject_id: str, cdr_id: str = "") -> bool:
        result = self.db[REJECTS].update_one({"_id": reject_id}, {"$set": {"status": "reimported", "cdr_id": cdr_id}})
        return result.matched_count > 0

    # -- mapping profiles --------------------------------------------------------------
    def save_mapping_profile(self, name: str, profile: dict[str, Any]) -> None:
        self.db[PROFILES].replace_one({"_id": name}, {"_id": name, "profile": dict(profile)}, upsert=True)

    def get_mapping_profile(self, name: str) -> dict[str, Any] | None:
        doc = self.db[PROFILES].find_one({"_id": name})
        return dict(doc["profile"]) if doc else None

    def list_mapping_profiles(self) -> list[dict[str, Any]]:
        return [dict(doc["profile"]) for doc in self.db[PROFILES].find().sort("_id", pymongo.ASCENDING)]

    def delete_mapping_profile(self, name: str) -> bool:
        return self.db[PROFILES].delete_one({"_id": name}).deleted_count > 0

    # -- import jobs -----------------------------------------------------------------
    def save_import_job(self, job: ImportJob) -> None:
        values = dataclasses.asdict(job)
        values["_id"] = values.pop("id")
        self.db[JOBS].replace_one({"_id": job.id}, values, upsert=True)

    def get_import_job(self, job_id: str) -> ImportJob | None:
        doc = self.db[JOBS].find_one({"_id": job_id})
        return _job_from_doc(doc) if doc else None

    def list_import_jobs(self, limit: int = 50) -> list[ImportJob]:
        return [_job_from_doc(doc) for doc in self.db[JOBS].find().sort("_id", pymongo.DESCENDING).limit(limit)]


def _job_from_doc(doc: dict[str, Any]) -> ImportJob:
    values = dict(doc)
    values["id"] = values.pop("_id")
    return ImportJob(**values)
