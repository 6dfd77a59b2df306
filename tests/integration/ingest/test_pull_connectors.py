"""Pull connectors against the real PostgreSQL and MariaDB of this machine, with the switches' real schemas.

Each test creates its own database, fills it as the switch would, polls it into a real
SQLite store, "restarts" (a new connector on the same store) and checks: every row once,
new rows picked up, the source schema untouched.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import threading
import zoneinfo
from collections.abc import Callable, Iterator

import mongomock
import pytest
from bson import ObjectId
from pull_databases import SourceDb, read_sample, source_database

from cdrstats_common.testing import ServiceProcess, free_port, wait_for
from cdrstats_ingest.connectors.asterisk_db import AsteriskCdrSource
from cdrstats_ingest.connectors.base import Poller
from cdrstats_ingest.connectors.errors import ConnectorError
from cdrstats_ingest.connectors.freeswitch_mongodb import FreeswitchMongoSource
from cdrstats_ingest.connectors.kamailio import KamailioAccSource
from cdrstats_ingest.domain.switch import ConnectorSettings, SwitchConfig
from cdrstats_ingest.store.mongo_connectors import MongoConnectorsMixin
from cdrstats_ingest.store.sqlite import SqliteCdrStore

pytestmark = pytest.mark.integration
SAMPLES = pathlib.Path("/work/shared/samples/kamailio")
DIALECTS = ["postgresql", "mysql"]


@pytest.fixture(params=DIALECTS)
def source(request: pytest.FixtureRequest) -> Iterator[SourceDb]:
    with source_database(request.param) as db:
        yield db


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[SqliteCdrStore]:
    store = SqliteCdrStore.open(f"sqlite:///{tmp_path}/ingest.db")
    yield store
    store.close()


def kamailio_switch(dsn: str, **connector: object) -> SwitchConfig:
    settings = {
        "type": "kamailio_acc",
        "dsn": dsn,
        "table": "acc_cdrs",
        "columns": (("start_time", "start_ts"), ("end_time", "end_ts")),
        "enrich_from_acc": True,
        **connector,
    }
    return SwitchConfig(id="kam1", type="kamailio", home_country="US", connector=ConnectorSettings(**settings))  # type: ignore[arg-type]


def load_kamailio(db: SourceDb) -> list[dict[str, object]]:
    db.run_script(f"kamailio_{db.dialect}.sql")
    db.run_script("kamailio_extra.sql")
    db.insert("acc", read_sample(SAMPLES / "acc_200calls.csv"))
    db.insert("missed_calls", read_sample(SAMPLES / "missed_calls_200calls.csv"))
    return read_sample(SAMPLES / "acc_cdrs_200calls.csv")


def cdrs_by_call_id(store: SqliteCdrStore) -> dict[str, dict[str, object]]:
    with store.lock:
        ids = [row[0] for row in store.conn.execute("SELECT id FROM cdrs ORDER BY id")]
    cdrs = [store.get_cdr(cdr_id) for cdr_id in ids]
    return {str(cdr["call_id"]): cdr for cdr in cdrs if cdr is not None}


def test_kamailio_acc_every_row_once_across_restarts(source: SourceDb, store: SqliteCdrStore) -> None:
    rows = load_kamailio(source)
    source.insert("acc_cdrs", rows[:150])
    before = source.schema_snapshot()
    switch = kamailio_switch(source.dsn)

    first = Poller(switch, KamailioAccSource(switch), store, batch_size=64)
    result = first.poll()
    first.close()
    assert (result.error, result.accepted, result.duplicates, result.rejected) == ("", 150, 0, 0)
    assert result.batches == 3  # 64 + 64 + 22: bounded batches in key order

    source.insert("acc_cdrs", rows[150:])
    restarted = Poller(switch, KamailioAccSource(switch), store, batch_size=64)  # a new process, same store
    result = restarted.poll()
    assert (result.error, result.accepted, result.duplicates) == ("", 50, 0)
    assert restarted.poll().accepted == 0
    restarted.close()
    assert store.cdr_count() == 200
    state = store.get_connector_state("kam1")
    assert state is not None and state.watermark["id"] == 200 and state.total_accepted == 200
    assert state.last_error == "" and state.last_success_at > 0

    cdrs = cdrs_by_call_id(store)
    assert sum(1 for c in cdrs.values() if c["answered"]) == 135
    failed = cdrs["46-23885@127.0.0.1"]  # acc logged 500, missed_calls the 503 sent upstream
    assert (failed["sip_code"], failed["hangup_cause"], failed["answered"]) == (503, 41, False)
    assert (failed["extra"]["acc_sip_code"], failed["extra"]["missed_calls_sip_code"]) == ("500", "503")
    assert failed["extra"]["sip_reason"] == "Service Unavailable"
    answered = cdrs["9-23885@127.0.0.1"]  # start_ts 1795712792.254, answer 1795712792.648325, end_ts ...93.527
    assert answered["start_time_us"] == 1795712792_254000
    assert answered["answer_time_us"] == 1795712792_648325
    assert answered["end_time_us"] == 1795712793_527000
    assert (answered["duration_ms"], answered["billsec_ms"], answered["pdd_ms"]) == (1273, 878, 394)
    assert (answered["destination_e164"], answered["country"]) == ("+61289993150", "AU")
    assert answered["source"] == "kamailio_acc" and answered["uuid"] == "9-23885@127.0.0.1"
    busy = cdrs["4-23885@127.0.0.1"]
    assert (busy["sip_code"], busy["disposition"], busy["duration_ms"]) == (486, "BUSY", 0)
    assert source.schema_snapshot() == before  # read only: not a column, default or index changed


def test_kamailio_crash_before_watermark_reimports_nothing(source: SourceDb, store: SqliteCdrStore) -> None:
    rows = load_kamailio(source)
    source.insert("acc_cdrs", rows[:40])
    switch = kamailio_switch(source.dsn)
    poller = Poller(switch, KamailioAccSource(switch), store)
    assert poller.poll().accepted == 40
    # the CDRs were stored but the process died before the watermark was written
    store.set_watermark("kam1", poller.source.fingerprint, {"id": 10})
    result = poller.poll()
    poller.close()
    assert (result.accepted, result.duplicates) == (0, 30)
    assert store.cdr_count() == 40


def test_kamailio_whole_second_local_times_and_rejects(source: SourceDb, store: SqliteCdrStore) -> None:
    """Core columns only (no precise extras): local times in the switch's zone; a bad row is kept as a reject."""
    rows = load_kamailio(source)
    bad = {**rows[1], "sip_code": "x9"}
    source.insert("acc_cdrs", [rows[0], bad, rows[2]])
    switch = SwitchConfig(
        id="kam1",
        home_country="US",
        time_zone="America/New_York",
        # Kamailio's own acc_cdrs columns only: no answer time is logged
        connector=ConnectorSettings(type="kamailio_acc", dsn=source.dsn, columns=(("answer_time", ""),)),
    )
    poller = Poller(switch, KamailioAccSource(switch), store)
    result = poller.poll()
    poller.close()
    assert (result.error, result.accepted, result.rejected) == ("", 2, 1)
    cdrs = cdrs_by_call_id(store)
    answered = cdrs[rows[2]["callid"]]  # 2026-11-26 17:06:32 .. 17:06:33 EST, duration 1.273
    assert answered["start_time_us"] == 1795730792_000000
    assert answered["end_time_us"] == 1795730793_000000
    # without an answer time the billable time is the whole duration, ring time included
    assert (answered["duration_ms"], answered["billsec_ms"], answered["answer_time_us"]) == (1273, 1273, 0)
    assert answered["answered"] and answered["pdd_ms"] == -1
    (reject,) = store.list_rejects("kam1")
    assert reject.record.location == "kamailio acc_cdrs id 2"
    assert "sip_code" in reject.record.reason and '"sip_code": "x9"' in reject.record.raw


def test_kamailio_id_committed_late_is_not_skipped(source: SourceDb, store: SqliteCdrStore) -> None:
    """Id 3 commits after id 4 was read: the gap is re-asked, so the late row still lands."""
    rows = load_kamailio(source)
    source.insert("acc_cdrs", [{"id": i, **rows[i - 1]} for i in (1, 2, 4)])
    switch = kamailio_switch(source.dsn)
    poller = Poller(switch, KamailioAccSource(switch), store)
    assert poller.poll().accepted == 3
    state = store.get_connector_state("kam1")
    assert state is not None and list(state.watermark["pending"]) == ["3"]
    source.insert("acc_cdrs", [{"id": 3, **rows[2]}])
    assert poller.poll().accepted == 1
    state = store.get_connector_state("kam1")
    assert state is not None and state.watermark == {"id": 4}
    poller.close()


def test_connector_session_cannot_write(source: SourceDb) -> None:
    load_kamailio(source)
    switch = kamailio_switch(source.dsn)
    connector = KamailioAccSource(switch)
    with pytest.raises(ConnectorError, match="only read"):
        connector.db.query("DELETE FROM acc_cdrs")
    # even past that guard, the session itself is read-only
    conn = connector.db._connection()
    with pytest.raises(Exception, match=r"(?i)read.only"), conn.cursor() as cursor:
        cursor.execute("INSERT INTO acc_cdrs (callid) VALUES ('x')")
    connector.close()


def test_kamailio_bad_configuration_is_reported_not_raised(source: SourceDb, store: SqliteCdrStore) -> None:
    load_kamailio(source)
    switch = kamailio_switch(source.dsn, columns=(("caller_id_number", "no_such_column"),))
    poller = Poller(switch, KamailioAccSource(switch), store)
    result = poller.poll()
    assert "no_such_column" in result.error and result.accepted == 0
    state = store.get_connector_state("kam1")
    assert state is not None and "no_such_column" in state.last_error and state.last_success_at == 0


# -- Asterisk cdr table ------------------------------------------------------------------------
NOW = dt.datetime(2026, 11, 26, 12, 0, 0)  # the switch's local time in these tests (America/New_York)
ZONE = zoneinfo.ZoneInfo("America/New_York")


def asterisk_row(uniqueid: str, start: dt.datetime, ring_s: int, talk_s: int, **values: object) -> dict[str, object]:
    answer = start + dt.timedelta(seconds=ring_s) if talk_s else None
    end = start + dt.timedelta(seconds=ring_s + talk_s)
    return {
        "accountcode": "acme",
        "src": "1001",
        "dst": "+442079460000",
        "dcontext": "from-internal",
        "clid": '"Alice" <1001>',
        "channel": "PJSIP/1001-00000001",
        "dstchannel": "PJSIP/trunk-00000002",
        "lastapp": "Dial",
        "lastdata": "PJSIP/trunk",
        "start": start,
        "answer": answer,
        "end": end,
        "duration": ring_s + talk_s,
        "billsec": talk_s,
        "disposition": "ANSWERED" if talk_s else "NO ANSWER",
        "amaflags": "3",
        "userfield": "",
        "uniqueid": uniqueid,
        "linkedid": uniqueid,
        "peeraccount": "",
        "sequence": 1,
        **values,
    }


def calldate_row(row: dict[str, object], *, aware: bool) -> dict[str, object]:
    """The older layout; PostgreSQL's calldate is a timestamptz, written with the switch's zone."""
    keep = (
        "clid",
        "src",
        "dst",
        "dcontext",
        "channel",
        "dstchannel",
        "lastapp",
        "lastdata",
        "duration",
        "billsec",
        "disposition",
        "accountcode",
        "uniqueid",
        "userfield",
    )
    start = row["start"]
    assert isinstance(start, dt.datetime)
    return {"calldate": start.replace(tzinfo=ZONE) if aware else start, **{k: row[k] for k in keep}, "amaflags": 3}


def asterisk_switch(dsn: str, clock_at: dt.datetime) -> tuple[SwitchConfig, Callable[[], float]]:
    switch = SwitchConfig(
        id="ast1",
        type="asterisk",
        home_country="US",
        time_zone="America/New_York",
        connector=ConnectorSettings(type="asterisk_db", dsn=dsn),
    )
    return switch, lambda: clock_at.replace(tzinfo=ZONE).timestamp()


@pytest.mark.parametrize("layout", ["start_answer_end", "calldate"])
def test_asterisk_cdr_keyset_on_end_time(source: SourceDb, store: SqliteCdrStore, layout: str) -> None:
    """Rows arrive in end order; a long call that started first but ended last is still read, once."""
    prefix = "asterisk_calldate" if layout == "calldate" else "asterisk"
    source.run_script(f"{prefix}_{source.dialect}.sql")
    aware = source.dialect == "postgresql"

    def shape(row: dict[str, object]) -> dict[str, object]:
        return calldate_row(row, aware=aware) if layout == "calldate" else row

    t0 = NOW - dt.timedelta(hours=1)
    first = [
        asterisk_row("1700000000.1", t0, 5, 60),
        asterisk_row("1700000000.2", t0 + dt.timedelta(seconds=10), 20, 0),
        # two CDRs ending in the same second: the uniqueid breaks the tie
        asterisk_row("1700000000.3", t0 + dt.timedelta(seconds=30), 5, 40),
        asterisk_row("1700000000.4", t0 + dt.timedelta(seconds=40), 5, 30),
    ]
    source.insert("cdr", [shape(row) for row in first])
    before = source.schema_snapshot()
    switch, clock = asterisk_switch(source.dsn, NOW)
    poller = Poller(switch, AsteriskCdrSource(switch, clock=clock), store, batch_size=1)
    result = poller.poll()
    assert (result.error, result.accepted, result.duplicates, result.batches) == ("", 4, 0, 5)
    poller.close()

    # a call that started before all of them but ended after, written now; and one still settling
    late = [
        asterisk_row("1699999999.9", t0 - dt.timedelta(minutes=30), 3, 3000),
        asterisk_row("1700000001.1", NOW - dt.timedelta(seconds=60), 1, 30),
    ]
    source.insert("cdr", [shape(row) for row in late])
    restarted = Poller(switch, AsteriskCdrSource(switch, clock=clock), store, batch_size=2)
    result = restarted.poll()
    restarted.close()
    assert (result.error, result.accepted, result.duplicates) == ("", 1, 0)  # the fresh one ended < 120 s ago
    later_switch, later = asterisk_switch(source.dsn, NOW + dt.timedelta(minutes=5))
    again = Poller(later_switch, AsteriskCdrSource(later_switch, clock=later), store)
    assert again.poll().accepted == 1
    assert again.poll().accepted == 0
    again.close()
    assert store.cdr_count() == 6

    cdrs = {c["uuid"]: c for c in (store.get_cdr(i) for i in _cdr_ids(store)) if c is not None}
    uuid = "1700000000.1-1" if layout == "start_answer_end" else "1700000000.1"
    call = cdrs[uuid]
    assert call["start_time_us"] == int(t0.replace(tzinfo=ZONE).timestamp()) * 1_000_000
    assert (call["duration_ms"], call["billsec_ms"], call["answered"], call["hangup_cause"]) == (65000, 60000, True, 16)
    assert (call["caller_id_name"], call["accountcode"], call["country"]) == ("Alice", "acme", "GB")
    assert source.schema_snapshot() == before


def _cdr_ids(store: SqliteCdrStore) -> list[str]:
    with store.lock:
        return [row[0] for row in store.conn.execute("SELECT id FROM cdrs ORDER BY id")]


# -- FreeSWITCH mod_cdr_mongodb (mongomock; no MongoDB server here) ---------------------------------
FS_SAMPLE = pathlib.Path("/work/shared/samples/freeswitch/json_cdr_answered_plain.json")


def test_freeswitch_mongodb_resumes_by_object_id(store: SqliteCdrStore) -> None:
    client: mongomock.MongoClient[dict[str, object]] = mongomock.MongoClient()
    collection = client["freeswitch"]["cdr"]
    sample = json.loads(FS_SAMPLE.read_text())
    base = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)

    def leg(n: int) -> dict[str, object]:
        oid = ObjectId.from_datetime(base + dt.timedelta(seconds=n))
        return {**sample, "_id": oid, "variables": {**sample["variables"], "uuid": f"leg-{n}"}}

    collection.insert_many(
        [leg(n) for n in range(5)] + [{"_id": ObjectId.from_datetime(base + dt.timedelta(seconds=5)), "variables": []}]
    )
    switch = SwitchConfig(
        id="fs1",
        home_country="US",
        connector=ConnectorSettings(type="freeswitch_mongodb", dsn="mongodb://127.0.0.1/freeswitch", table="cdr"),
    )
    clock = lambda: (base + dt.timedelta(minutes=1)).timestamp()  # noqa: E731
    poller = Poller(switch, FreeswitchMongoSource(switch, client=client, clock=clock), store, batch_size=2)
    result = poller.poll()
    assert (result.error, result.accepted, result.rejected, result.batches) == ("", 5, 1, 4)  # 2+2+2, then empty
    (reject,) = store.list_rejects("fs1")
    assert reject.record.location.startswith("mongodb cdr _id ") and "variables" in reject.record.reason

    collection.insert_one(leg(7))
    again = Poller(switch, FreeswitchMongoSource(switch, client=client, clock=clock), store)  # restart
    result = again.poll()
    assert (result.accepted, result.duplicates, result.rejected) == (1, 0, 0)
    assert store.cdr_count() == 6
    cdr = store.get_cdr(_cdr_ids(store)[0])
    assert cdr is not None and cdr["source"] == "mongo_import" and cdr["extra"]["mongodb_id"]


def test_mongo_connector_state_matches_sqlite(store: SqliteCdrStore) -> None:
    """The MongoDB mixin keeps the same state as the SQLite one (mongomock)."""

    class MongoState(MongoConnectorsMixin):
        def __init__(self) -> None:
            self.db = mongomock.MongoClient()["ingest"]
            self.lock = threading.Lock()

    for state_store in (MongoState(), store):
        assert state_store.get_connector_state("s1") is None
        state_store.set_watermark("s1", "kamailio_acc pg", {"id": 7, "pending": {"5": 1.5}})
        state_store.record_poll("s1", accepted=3, duplicates=1)
        state_store.record_poll("s1", error="OperationalError: down")
        state = state_store.get_connector_state("s1")
        assert state is not None
        assert (state.source, state.watermark, state.total_accepted) == (
            "kamailio_acc pg",
            {"id": 7, "pending": {"5": 1.5}},
            3,
        )
        assert state.last_error == "OperationalError: down" and state.last_success_at > 0
        assert [s.switch_id for s in state_store.list_connector_states()] == ["s1"]


# -- the worker process (nameko/eventlet) schedules the connectors ------------------------------------
def test_worker_polls_switches_it_finds_in_the_registry(
    source: SourceDb, tmp_path: pathlib.Path, amqp_url: str
) -> None:
    """PostgreSQL through tpool, MariaDB through green sockets: the worker polls, new rows follow."""
    rows = load_kamailio(source)
    source.insert("acc_cdrs", rows[:20])
    store = SqliteCdrStore.open(f"sqlite:///{tmp_path}/ingest.db")
    env = {"CDRSTATS_DATA_DIR": str(tmp_path), "AMQP_URL": amqp_url, "CDRSTATS_ADMIN_PORT": str(free_port())}
    store.upsert_switch(kamailio_switch(source.dsn, poll_interval_s=1), None)
    worker = ServiceProcess("cdrstats_ingest.worker", env, str(tmp_path / "worker.log"))
    try:
        wait_for(lambda: store.cdr_count() == 20, timeout_s=40, what="20 CDRs pulled by the worker")
        source.insert("acc_cdrs", rows[20:30])
        wait_for(lambda: store.cdr_count() == 30, timeout_s=20, what="10 more CDRs pulled")
        state = store.get_connector_state("kam1")
        assert state is not None and state.last_error == "" and state.watermark["id"] == 30
    finally:
        worker.stop()
        store.close()
