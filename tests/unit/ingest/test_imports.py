"""The ImportFile use-case on a real SQLite store: batches, duplicates, rejects kept, job record, retry."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from collections.abc import Iterator

import pytest

from cdrstats_ingest.domain.errors import InvalidCdr, NotFound
from cdrstats_ingest.domain.files.generic_csv import MappingProfile
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.imports import FileImports, make_format
from cdrstats_ingest.store.sqlite import SqliteCdrStore

ROOT = pathlib.Path(__file__).resolve().parents[3]
SWITCH = SwitchConfig(id="pbx", type="asterisk", home_country="FR", time_zone="Europe/Paris")
GOOD = (
    '"acme","0145678901","0612345678","from-trunk","""Jean"" <0145678901>","SIP/carrier-1","SIP/1001-2","Dial",'
    '"SIP/1001,30","2024-03-05 14:02:11","2024-03-05 14:02:15","2024-03-05 14:03:16",65,61,"ANSWERED",'
    '"DOCUMENTATION","{uid}",""'
)


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[SqliteCdrStore]:
    store = SqliteCdrStore.open(f"sqlite:///{tmp_path}/ingest.db")
    store.upsert_switch(SWITCH, None)
    yield store
    store.close()


def master_csv(count: int, bad_every: int = 0) -> bytes:
    lines = []
    for n in range(count):
        line = GOOD.format(uid=f"1709643731.{n}")
        if bad_every and n % bad_every == 0:
            line = line.replace('"ANSWERED"', '"HUNG"')
        lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode()


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def test_a_file_lands_in_batches_with_rejects_kept(store: SqliteCdrStore) -> None:
    data = master_csv(25, bad_every=10) + b'"x","\xff"\n'
    imports = FileImports(store, batch_size=4)
    outcome = imports.run(SWITCH, make_format("asterisk_csv"), chunked(data, 100), file_name="Master.csv")
    job = outcome.job
    assert (job.lines, job.accepted, job.duplicates, job.rejected) == (26, 22, 0, 4)
    assert [r.index for r in outcome.rejects] == [1, 11, 21, 26]
    assert outcome.rejects[0].reason.startswith("disposition: unknown disposition 'HUNG'")
    assert outcome.rejects[3].reason == "not UTF-8 (byte 0xff at column 6)"
    assert store.cdr_count() == 22
    stored = store.get_import_job(job.id)
    assert stored is not None and stored.status == "done" and stored.bytes_read == len(data)
    kept = store.get_reject(outcome.rejects[0].reject_id)
    assert kept is not None and kept.record.location == "line 1 of Master.csv" and '"HUNG"' in kept.record.raw

    again = imports.run(SWITCH, make_format("asterisk_csv"), [data], file_name="Master.csv").job
    assert (again.accepted, again.duplicates, again.rejected) == (0, 22, 4)


def test_retrying_a_reject_with_a_correction_imports_it_once(store: SqliteCdrStore) -> None:
    imports = FileImports(store)
    outcome = imports.run(SWITCH, make_format("asterisk_csv"), [master_csv(2, bad_every=2)])
    reject_id = outcome.rejects[0].reject_id
    same = imports.retry_reject(reject_id)
    assert same.status == "rejected" and "HUNG" in same.reason
    fixed = store.get_reject(reject_id).record.raw.replace('"HUNG"', '"BUSY"')  # type: ignore[union-attr]
    result = imports.retry_reject(reject_id, fixed)
    assert result.status == "accepted" and store.get_cdr(result.id)["disposition"] == "BUSY"  # type: ignore[index]
    assert store.get_reject(reject_id).status == "reimported"  # type: ignore[union-attr]
    assert store.rejects_open() == 0
    with pytest.raises(NotFound):
        imports.retry_reject("nope")


def test_generic_csv_reject_retry_remembers_mapping_and_header(store: SqliteCdrStore) -> None:
    imports = FileImports(store)
    profile = imports.save_profile(
        MappingProfile(name="p", delimiter=";", columns=(("start_time", "Start"), ("destination_number", "To")))
    )
    data = b"To;Start\n0612345678;2024-03-05 10:00:00\n0612345679;yesterday\n"
    outcome = imports.run(SWITCH, make_format("generic_csv", profile), [data])
    assert (outcome.job.accepted, outcome.job.rejected) == (1, 1)
    result = imports.retry_reject(outcome.rejects[0].reject_id, "0612345679;2024-03-05 11:00:00")
    assert result.status == "accepted"
    assert store.get_cdr(result.id)["destination_number"] == "0612345679"  # type: ignore[index]


def test_an_unusable_header_fails_the_job(store: SqliteCdrStore) -> None:
    profile = MappingProfile(columns=(("start_time", "Start"),))
    imports = FileImports(store)
    with pytest.raises(InvalidCdr, match="line 1: header: start_time: no column 'Start'"):
        imports.run(SWITCH, make_format("generic_csv", profile), [b"Begin,To\n"], file_name="x.csv")
    (job,) = store.list_import_jobs()
    assert job.status == "failed" and "no column 'Start'" in job.error


def test_profiles_and_formats_are_checked(store: SqliteCdrStore) -> None:
    imports = FileImports(store)
    with pytest.raises(InvalidCdr, match="format: unknown format 'xls'"):
        make_format("xls")
    with pytest.raises(InvalidCdr, match=r"mapping\.name"):
        imports.save_profile(MappingProfile(columns=(("start_time", "1"),)))
    with pytest.raises(NotFound):
        imports.delete_profile("missing")


def test_memory_stays_flat_while_a_large_file_streams() -> None:
    """bench/bench_import.py in a subprocess: peak RSS after the first tenth vs. at the end of a 6 MB file."""
    completed = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_import.py"), "6", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    result = json.loads(completed.stdout)
    assert result["accepted"] == result["lines"] > 20_000
    assert result["peak_rss_mb_at_end"] - result["peak_rss_mb_after_first_tenth"] < 15, result
