"""Alerting store additions, on SQLite, mongomock and a real MongoDB: the last verdict and message kept on the
alarm (and the SQLite migration that adds them to an older database), hit-log paging by check time, and
retention - old hits, evaluations and sent outbox events go in bounded batches, new and pending ones stay."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest

from cdrstats_alerting.destinations_service import DestinationsService
from cdrstats_alerting.domain.alarms import FIRING, Alarm
from cdrstats_alerting.domain.destinations import ListEntry
from cdrstats_alerting.domain.errors import Caller
from cdrstats_alerting.domain.evaluate import Evaluation
from cdrstats_alerting.domain.windows import Span
from cdrstats_alerting.retention import AlertingRetention
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_alerting.store.alarms_interface import StateChange
from cdrstats_common.cdr import new_cdr
from cdrstats_common.testing import MONGODB_URI_VARIABLE, patch_mongomock_bulk_write, real_mongodb_database

T0 = 1_767_000_000_000_000
DAY_US = 86_400_000_000
ADMIN = Caller(admin=True)


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
def store(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AlertingStore]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            opened = open_store(f"sqlite:///{tmp_path}/alerting.db")
        else:
            from cdrstats_alerting.store.mongo import MongoAlertingStore

            database: Any
            if request.param == "mongomock":
                patch_mongomock_bulk_write(monkeypatch)
                database = mongomock.MongoClient()["cdrstats_alerting_test"]
            else:
                if not os.environ.get(MONGODB_URI_VARIABLE):
                    pytest.skip(f"{MONGODB_URI_VARIABLE} not set: no real MongoDB server to test against")
                database = stack.enter_context(real_mongodb_database("cdrstats_alerting_test"))
            opened = MongoAlertingStore(database)
        yield opened
        opened.close()


def make_alarm(**overrides: Any) -> Alarm:
    base = Alarm(
        id="al_1", name="ASR low", metric="asr", window="last_hour", condition="lt", threshold=40.0,
        min_attempts=20, created_us=T0, updated_us=T0,
    )  # fmt: skip
    return dataclasses.replace(base, **overrides)


def evaluation(alarm: Alarm, time_us: int, verdict: str, message: str, value: float = 0.0) -> Evaluation:
    return Evaluation(
        id=f"ev_{time_us:016x}", alarm_id=alarm.id, time_us=time_us, window=Span(time_us - 3_600_000_000, time_us),
        value=value, baseline=None, baseline_window=None, threshold=alarm.threshold, attempts=16, verdict=verdict,
        state_before=alarm.state, state_after=FIRING if verdict == "breach" else alarm.state, message=message,
    )  # fmt: skip


def record(store: AlertingStore, time_us: int, verdict: str, message: str, value: float | None = None) -> Alarm:
    alarm = store.get_alarm("al_1")
    assert alarm is not None
    done = evaluation(alarm, time_us, verdict, message, value or 0.0)
    change = StateChange(done.state_after, alarm.last_triggered_us, time_us + 60_000_000, value)
    assert store.record_evaluation(alarm, done, change)
    stored = store.get_alarm("al_1")
    assert stored is not None
    return stored


def outbound(cdr_id: str, e164: str) -> dict[str, Any]:
    return new_cdr(
        id=cdr_id, uuid=cdr_id, switch_id="sw1", source="api", direction="outbound", destination_number=e164,
        destination_e164=e164, country="GB", start_time_us=T0, end_time_us=T0 + 1_000_000, disposition="NO_ANSWER",
    )  # fmt: skip


def with_rules(store: AlertingStore) -> DestinationsService:
    """Black 447, white 4477 (wins over black), so a batch makes both verdicts."""
    service = DestinationsService(store)
    service.create_entries(
        ADMIN, [ListEntry("", "black", "", "447", "", ""), ListEntry("", "white", "", "4477", "", "")]
    )
    return service


def apply_batch(store: AlertingStore, service: DestinationsService, event: str, black: int, white: int = 0) -> None:
    cdrs = [outbound(f"{event}-w{i}", f"+4477{i:08d}") for i in range(white)]  # checked first: the older ones
    cdrs += [outbound(f"{event}-b{i}", f"+4478{i:08d}") for i in range(black)]
    assert store.apply_cdrs_event(event, cdrs, service.matcher())


# -- the last verdict and message -----------------------------------------------------------------


def test_every_evaluation_leaves_its_verdict_and_message_on_the_alarm(store: AlertingStore) -> None:
    created = store.create_alarm(make_alarm())
    assert (created.last_verdict, created.last_message) == ("", "")
    too_few = "ASR over the last hour: insufficient: 16 attempts, fewer than the minimum 20"
    alarm = record(store, T0 + 1, "insufficient", too_few)
    assert (alarm.last_verdict, alarm.last_message, alarm.last_value) == ("insufficient", too_few, 0.0)
    assert [(a.last_verdict, a.last_message) for a in store.list_alarms()] == [("insufficient", too_few)]

    alarm = record(store, T0 + 2, "ok", "ASR 55 %, not < 40 % over the last hour", 55.0)
    assert (alarm.last_verdict, alarm.last_value) == ("ok", 55.0)
    failed = "ASR over the last hour: error: reporting unavailable"
    alarm = record(store, T0 + 3, "error", failed)
    assert (alarm.last_verdict, alarm.last_message, alarm.last_value) == ("error", failed, 55.0)

    edited = store.update_alarm(dataclasses.replace(alarm, threshold=30.0, updated_us=T0 + 10))
    assert edited is not None and (edited.last_verdict, edited.last_message) == ("error", failed)


def test_an_older_sqlite_database_gets_the_new_alarm_columns(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "alerting.db"
    store = open_store(f"sqlite:///{path}")
    store.create_alarm(make_alarm())
    store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:  # as the first release left it
        conn.execute("ALTER TABLE alarms DROP COLUMN last_verdict")
        conn.execute("ALTER TABLE alarms DROP COLUMN last_message")
        conn.commit()
        assert "last_verdict" not in {row[1] for row in conn.execute("PRAGMA table_info(alarms)")}

    reopened = open_store(f"sqlite:///{path}")
    try:
        kept = reopened.get_alarm("al_1")
        assert kept is not None and (kept.name, kept.last_verdict, kept.last_message) == ("ASR low", "", "")
        assert record(reopened, T0 + 1, "insufficient", "x: insufficient: 3 attempts").last_verdict == "insufficient"
    finally:
        reopened.close()
    open_store(f"sqlite:///{path}").close()  # a third start finds the columns and adds nothing


# -- the hit log: paging by check time ------------------------------------------------------------


def test_hits_page_back_by_check_time_without_gaps_or_repeats(store: AlertingStore) -> None:
    service = with_rules(store)
    apply_batch(store, service, "e1", black=23, white=4)  # one batch: one check each, distinct times
    apply_batch(store, service, "e2", black=9)
    newest = store.recent_hits(["black"], limit=1000)
    assert len(newest) == 32 and len({h.time_us for h in newest}) == 32

    seen: list[str] = []
    before = 0
    while True:
        page = store.recent_hits(["black"], before_us=before, limit=7)
        seen += [h.cdr_id for h in page]
        if len(page) < 7:
            break
        before = page[-1].time_us
    assert seen == [h.cdr_id for h in newest], "every hit once, newest first"
    assert store.recent_hits(["black"], before_us=newest[-1].time_us) == []
    both = store.recent_hits(["black", "white"], before_us=newest[9].time_us, limit=1000)
    assert {h.verdict for h in both} == {"black", "white"} and len(both) == 22 + 4


# -- retention --------------------------------------------------------------------------------------


def test_old_hits_go_in_bounded_batches_and_new_ones_stay(store: AlertingStore) -> None:
    service = with_rules(store)
    apply_batch(store, service, "old", black=6, white=5)
    time.sleep(0.002)
    apply_batch(store, service, "new", black=3, white=1)
    cutoff = min(h.time_us for h in store.recent_hits(["black", "white"], limit=1000) if h.cdr_id.startswith("new"))

    assert store.prune_hits(cutoff, limit=4) == 4  # at most the batch, across verdicts
    assert store.prune_hits(cutoff, limit=4) == 4
    assert store.prune_hits(cutoff, limit=4) == 3
    assert store.prune_hits(cutoff, limit=4) == 0
    left = store.recent_hits(["black", "white", "geo"], limit=1000)
    assert sorted(h.cdr_id for h in left) == ["new-b0", "new-b1", "new-b2", "new-w0"]
    assert store.destination_counts()["hits"] == 4


def test_old_evaluations_go_in_bounded_batches(store: AlertingStore) -> None:
    store.create_alarm(make_alarm())
    for n in range(7):
        record(store, T0 + n, "ok", f"run {n}", float(n))
    assert store.prune_evaluations(T0 + 5, limit=2) == 2
    assert store.prune_evaluations(T0 + 5, limit=10) == 3
    assert [e.time_us for e in store.list_evaluations("al_1")] == [T0 + 6, T0 + 5]


def _mark_sent_at(store: AlertingStore, sent_at: float) -> None:
    """Publish every pending event (to a list: the broker is not what this tests) at ``sent_at``."""

    class Sink:
        def __init__(self) -> None:
            self.types: list[str] = []

        def publish(self, envelope: Any, routing_key: str, headers: dict[str, Any] | None = None) -> None:
            body = json.loads(envelope) if isinstance(envelope, str) else envelope
            self.types.append(body["schema"])

    sink = Sink()
    store.relay_outbox(sink)
    assert sink.types and set(sink.types) == {"cdrstats.destination_alert.v1"}
    conn = getattr(store, "conn", None)
    if conn is not None:
        conn.execute("UPDATE outbox SET sent_at = ? WHERE sent_at IS NOT NULL", (sent_at,))


def test_sent_outbox_events_go_after_a_day_and_pending_ones_stay(store: AlertingStore) -> None:
    service = with_rules(store)
    apply_batch(store, service, "e1", black=3)
    _mark_sent_at(store, time.time() - 2 * 86_400)
    apply_batch(store, service, "e2", black=2)  # still pending
    retention = AlertingRetention(store, hit_days=90, evaluation_days=90)
    pruned = retention.prune()
    assert store.outbox_pending() == 2, "pending events are never pruned"
    if getattr(store, "conn", None) is None:  # MongoDB: sent events expire through the TTL index
        assert pruned["outbox"] == 0
        ttl = store.outbox.coll.index_information()["sent_ttl"]  # type: ignore[attr-defined]
        assert ttl["expireAfterSeconds"] == 86_400
        return
    assert pruned["outbox"] == 3
    conn = store.conn  # type: ignore[attr-defined]
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 2
    _mark_sent_at(store, time.time() - 3600)  # sent an hour ago: kept for now
    assert retention.prune()["outbox"] == 0


def test_the_worker_prunes_by_the_retention_settings(store: AlertingStore) -> None:
    service = with_rules(store)
    apply_batch(store, service, "old", black=7)
    time.sleep(0.002)
    apply_batch(store, service, "new", black=2)
    middle_us = min(h.time_us for h in store.recent_hits(["black"], limit=100) if h.cdr_id.startswith("new")) - 1
    store.create_alarm(make_alarm())
    record(store, middle_us - DAY_US, "ok", "old", 50.0)
    record(store, middle_us + DAY_US, "ok", "new", 51.0)
    pauses: list[float] = []

    def at(now_us: int, hit_days: int, evaluation_days: int) -> AlertingRetention:
        return AlertingRetention(
            store, hit_days=hit_days, evaluation_days=evaluation_days, clock=lambda: now_us / 1e6,
            sleep=pauses.append, batch=3,
        )  # fmt: skip

    kept = at(middle_us + 90 * DAY_US, hit_days=0, evaluation_days=0).prune()
    assert "hits" not in kept and "evaluations" not in kept and store.destination_counts()["hits"] == 9
    pruned = at(middle_us + 90 * DAY_US, hit_days=90, evaluation_days=90).prune()
    assert (pruned["hits"], pruned["evaluations"]) == (7, 1)
    assert len(pauses) == 2, "hits in three batches of at most 3, a pause between two batches"
    assert sorted(h.cdr_id for h in store.recent_hits(["black"], limit=100)) == ["new-b0", "new-b1"]
    assert [e.message for e in store.list_evaluations("al_1")] == ["new"]
    assert at(middle_us + 10 * DAY_US, hit_days=5, evaluation_days=5).prune() == {
        "hits": 2,
        "evaluations": 1,
        "outbox": 0,
    }
