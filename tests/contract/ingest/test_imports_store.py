"""Contract of the rejects store, mapping profiles and import jobs: SQLite and MongoDB (mongomock, or real)."""

from __future__ import annotations

import os
import pathlib
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import mongomock
import pymongo
import pytest

from cdrstats_ingest.store.interface import ImportJob, RejectRecord
from cdrstats_ingest.store.mongo_imports import MongoImportsMixin
from cdrstats_ingest.store.sqlite import SqliteCdrStore


class _MongoImportsStore(MongoImportsMixin):
    """Just the mixin over a database, as MongoCdrStore composes it."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.lock = threading.Lock()
        self.migrate_imports()


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Any]:
    if request.param == "sqlite":
        sqlite_store = SqliteCdrStore.open(f"sqlite:///{tmp_path}/ingest.db")
        yield sqlite_store
        sqlite_store.close()
    elif request.param == "mongomock":
        yield _MongoImportsStore(mongomock.MongoClient()["cdrstats_ingest_imports"])
    else:
        url = os.environ.get("CDRSTATS_TEST_MONGODB_URI")
        if not url:
            pytest.skip("CDRSTATS_TEST_MONGODB_URI is not set")
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(url)
        name = f"cdrstats_imports_{uuid.uuid4().hex[:8]}"
        yield _MongoImportsStore(client[name])
        client.drop_database(name)
        client.close()


def reject(n: int, switch_id: str = "sw1") -> RejectRecord:
    return RejectRecord(
        switch_id=switch_id,
        source="asterisk_csv",
        reason=f"line {n}: start: expected YYYY-MM-DD HH:MM:SS",
        raw=f'"acme","100","200",line {n}',
        location=f"line {n} of Master.csv",
        parser='{"format": "asterisk_csv"}',
    )


def test_rejects_keep_raw_input_and_come_back_newest_first(store: Any) -> None:
    ids = store.add_rejects([reject(1), reject(2), reject(3, "sw2")])
    assert len(ids) == 3 and ids == sorted(ids)
    listed = store.list_rejects()
    assert [r.id for r in listed] == ids[::-1]
    assert listed[2].record == reject(1)
    assert listed[2].status == "open" and listed[2].received_time_us > 1_600_000_000_000_000
    assert [r.id for r in store.list_rejects("sw1")] == ids[1::-1]
    assert store.count_rejects("sw2") == 1 and store.rejects_open() == 3
    assert store.add_rejects([]) == []


def test_rejects_page_by_keyset(store: Any) -> None:
    ids = store.add_rejects([reject(n) for n in range(7)])
    first = store.list_rejects(limit=3)
    second = store.list_rejects(before_id=first[-1].id, limit=3)
    third = store.list_rejects(before_id=second[-1].id, limit=3)
    assert [r.id for r in first + second + third] == ids[::-1]


def test_a_reimported_reject_leaves_the_open_list(store: Any) -> None:
    first, second = store.add_rejects([reject(1), reject(2)])
    assert store.mark_reject_reimported(first, "CDR1") is True
    assert store.mark_reject_reimported("nope") is False
    assert [r.id for r in store.list_rejects()] == [second]
    assert [r.id for r in store.list_rejects(include_reimported=True)] == [second, first]
    done = store.get_reject(first)
    assert done.status == "reimported" and done.cdr_id == "CDR1"
    assert store.rejects_open() == 1 and store.count_rejects(include_reimported=True) == 2
    assert store.get_reject("missing") is None


def test_mapping_profiles_save_replace_list_delete(store: Any) -> None:
    store.save_mapping_profile("carrier-b", {"name": "carrier-b", "delimiter": ";"})
    store.save_mapping_profile("carrier-a", {"name": "carrier-a", "delimiter": ","})
    store.save_mapping_profile("carrier-b", {"name": "carrier-b", "delimiter": "|"})
    assert [p["name"] for p in store.list_mapping_profiles()] == ["carrier-a", "carrier-b"]
    assert store.get_mapping_profile("carrier-b") == {"name": "carrier-b", "delimiter": "|"}
    assert store.delete_mapping_profile("carrier-a") is True
    assert store.delete_mapping_profile("carrier-a") is False
    assert store.get_mapping_profile("carrier-a") is None


def test_import_jobs_record_progress_and_outcome(store: Any) -> None:
    job = ImportJob(id="J1", switch_id="sw1", format="asterisk_csv", file_name="Master.csv", started_at=1.0)
    store.save_import_job(job)
    job.lines, job.accepted, job.rejected, job.status, job.finished_at = 10, 9, 1, "done", 2.0
    store.save_import_job(job)
    store.save_import_job(ImportJob(id="J2", switch_id="sw1", format="generic_csv"))
    assert store.get_import_job("J1") == job
    assert [j.id for j in store.list_import_jobs()] == ["J2", "J1"]
    assert store.get_import_job("J3") is None
