"""Bulk ingest keeps every rejected record with its raw input; its good neighbours still land."""

from __future__ import annotations

import json

from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import CdrStore


def test_a_rejected_bulk_record_is_kept_with_its_reason_and_raw_record(store: CdrStore) -> None:
    good = new_cdr(uuid="ok-1", start_time_us=1_764_000_000_000_000, end_time_us=1_764_000_001_000_000)
    bad = new_cdr(uuid="bad-1", start_time_us=1_764_000_000_000_000, end_time_us=1_763_000_000_000_000)
    results = IngestService(store).submit(SwitchConfig(id="sw"), [good, bad, good | {"uuid": "ok-2"}], 10)
    assert [r.status for r in results] == ["accepted", "rejected", "accepted"]
    rejected = results[1]
    assert rejected.index == 11 and "end_time_us" in rejected.reason and rejected.reject_id
    kept = store.get_reject(rejected.reject_id)
    assert kept is not None and kept.status == "open"
    assert kept.record.location == "record 11 of a SubmitCdrs stream"
    assert kept.record.switch_id == "sw" and kept.record.reason == rejected.reason
    assert json.loads(kept.record.raw)["uuid"] == "bad-1"
    assert store.cdr_count() == 2
