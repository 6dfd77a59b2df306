"""The AlarmStore contract: definitions, state guarded by version, evaluations with their outbox event in
one transaction, CIC runs advanced once per event and exact under any arrival order."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import random
from collections.abc import Iterator
from typing import Any

import kombu
import mongomock
import pytest

from cdrstats_alerting.domain import cic
from cdrstats_alerting.domain.alarms import FIRING, OK, Alarm, AlarmScope
from cdrstats_alerting.domain.evaluate import Evaluation
from cdrstats_alerting.domain.windows import Span
from cdrstats_alerting.service import AlertingService
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_alerting.store.alarms_interface import StateChange
from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import EventPublisher, event_exchange, make_envelope
from cdrstats_common.metrics import cic as brute_cic
from cdrstats_common.testing import MONGODB_URI_VARIABLE, patch_mongomock_bulk_write, real_mongodb_database

T0 = 1_767_000_000_000_000


def _mongo_store(database: Any) -> AlertingStore:
    from cdrstats_alerting.store.mongo import MongoAlertingStore

    return MongoAlertingStore(database)


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
def store(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AlertingStore]:
    """SQLite, MongoDB on mongomock, and a real MongoDB when CDRSTATS_TEST_MONGODB_URI is set."""
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            opened = open_store(f"sqlite:///{tmp_path}/alerting.db")
        else:
            pytest.importorskip("cdrstats_alerting.store.mongo")
            if request.param == "mongomock":
                patch_mongomock_bulk_write(monkeypatch)
                database = mongomock.MongoClient()["cdrstats_alerting_test"]
            else:
                if not os.environ.get(MONGODB_URI_VARIABLE):
                    pytest.skip(f"{MONGODB_URI_VARIABLE} not set: no real MongoDB server to test against")
                database = stack.enter_context(real_mongodb_database("cdrstats_alerting_test"))
            opened = _mongo_store(database)
        yield opened
        opened.close()


def make_alarm(**overrides: Any) -> Alarm:
    base = Alarm(
        id="al_1", owner="", name="ASR low", metric="asr", window="last_hour", condition="lt", threshold=40.0,
        emails=("noc@example.com",), webhooks=("https://hooks.example.com/x",), created_us=T0, updated_us=T0,
    )  # fmt: skip
    return dataclasses.replace(base, **overrides)


def make_evaluation(alarm: Alarm, time_us: int, **overrides: Any) -> Evaluation:
    base = Evaluation(
        id=f"ev_{time_us:016x}", alarm_id=alarm.id, time_us=time_us, window=Span(time_us - 3_600_000_000, time_us),
        value=31.5, baseline=None, baseline_window=None, threshold=alarm.threshold, attempts=12, verdict="breach",
        state_before=alarm.state, state_after=FIRING, message="ASR 31.5 % < 40 %", link="/cdrs?from=x",
    )  # fmt: skip
    return dataclasses.replace(base, **overrides)


def outbox_bodies(store: AlertingStore) -> list[dict[str, Any]]:
    conn = getattr(store, "conn", None)
    if conn is not None:
        return [json.loads(row[0]) for row in conn.execute("SELECT body FROM outbox ORDER BY seq")]
    return [json.loads(doc["body"]) for doc in store.outbox.coll.find().sort("_id", 1)]  # type: ignore[attr-defined]


# -- definitions --------------------------------------------------------------------------------


def test_create_get_list_update_delete(store: AlertingStore) -> None:
    alarm = store.create_alarm(make_alarm(scope=AlarmScope("country", "GB"), hangup_cause=0, min_attempts=5))
    assert store.get_alarm("al_1") == alarm
    store.create_alarm(make_alarm(id="al_2", owner="customer:1", name="A first"))
    assert [a.id for a in store.list_alarms()] == ["al_2", "al_1"]  # by name
    assert [a.id for a in store.list_alarms("customer:1")] == ["al_2"]
    assert store.list_alarms("customer:9") == []
    assert store.get_alarm("nope") is None

    changed = make_alarm(name="ASR very low", threshold=20.0, emails=(), updated_us=T0 + 5, state=OK)
    saved = store.update_alarm(changed)
    assert saved is not None and (saved.name, saved.threshold, saved.emails, saved.updated_us) == (
        "ASR very low", 20.0, (), T0 + 5,
    )  # fmt: skip
    assert store.update_alarm(make_alarm(id="gone")) is None
    assert store.delete_alarm("al_1") is True
    assert store.delete_alarm("al_1") is False
    assert store.get_alarm("al_1") is None


def test_due_alarms_and_update_makes_due_now(store: AlertingStore) -> None:
    alarm = store.create_alarm(make_alarm())
    store.create_alarm(make_alarm(id="al_off", enabled=False))
    assert [a.id for a in store.due_alarms(T0)] == ["al_1"]  # new alarms are due at once
    change = StateChange(state_after=FIRING, last_triggered_us=T0, next_due_us=T0 + 60_000_000, last_value=31.5)
    assert store.record_evaluation(alarm, make_evaluation(alarm, T0), change)
    assert store.due_alarms(T0 + 59_999_999) == []
    assert [a.id for a in store.due_alarms(T0 + 60_000_000)] == ["al_1"]
    fired = store.get_alarm("al_1")
    assert fired is not None
    store.update_alarm(dataclasses.replace(fired, threshold=30.0, updated_us=T0 + 10))
    kept = store.get_alarm("al_1")
    assert kept is not None and (kept.state, kept.last_triggered_us, kept.last_value) == (FIRING, T0, 31.5)
    assert [a.id for a in store.due_alarms(T0 + 1)] == ["al_1"]
    assert len(store.list_evaluations("al_1")) == 1  # history is kept


# -- evaluations, state and the outbox ----------------------------------------------------------


def test_an_evaluation_its_state_change_and_its_event_commit_together(store: AlertingStore) -> None:
    alarm = store.create_alarm(make_alarm())
    evaluation = make_evaluation(alarm, T0 + 1, published=True)
    data = {"alarm": {"id": alarm.id}, "state": FIRING}
    change = StateChange(FIRING, T0 + 1, T0 + 60, 31.5, "alarm_triggered", data)
    assert store.record_evaluation(alarm, evaluation, change) is True
    stored = store.get_alarm(alarm.id)
    assert stored is not None
    assert (stored.state, stored.last_triggered_us, stored.last_evaluated_us, stored.last_value) == (
        FIRING, T0 + 1, T0 + 1, 31.5,
    )  # fmt: skip
    assert store.list_evaluations(alarm.id) == [evaluation]
    bodies = outbox_bodies(store)
    assert [(b["schema"], b["source"], b["data"]) for b in bodies] == [
        ("cdrstats.alarm_triggered.v1", "alerting", data)
    ]
    assert store.outbox_pending() == 1
    counts = store.alarm_counts()
    assert counts == {"alarms": 1, "firing": 1, "last_evaluation_us": T0 + 1}


@pytest.mark.parametrize("stale", ["updated", "state", "evaluated", "deleted"])
def test_a_stale_evaluation_writes_nothing(store: AlertingStore, stale: str) -> None:
    alarm = store.create_alarm(make_alarm())
    if stale == "updated":
        store.update_alarm(dataclasses.replace(alarm, threshold=10.0, updated_us=T0 + 1))
    elif stale in ("state", "evaluated"):  # another evaluation, with or without a transition, came first
        other = StateChange(FIRING if stale == "state" else OK, T0, T0 + 60)
        assert store.record_evaluation(alarm, make_evaluation(alarm, T0, id="ev_other"), other)
    else:
        store.delete_alarm(alarm.id)
    change = StateChange(FIRING, T0 + 2, T0 + 60, 31.5, "alarm_triggered", {"x": 1})
    assert store.record_evaluation(alarm, make_evaluation(alarm, T0 + 2), change) is False
    assert [e.id for e in store.list_evaluations(alarm.id)] == (["ev_other"] if stale in ("state", "evaluated") else [])
    assert outbox_bodies(store) == []


def test_evaluations_newest_first_since_limit_prune_and_baseline(store: AlertingStore) -> None:
    alarm = store.create_alarm(make_alarm())
    current = alarm
    for n in range(5):
        evaluation = make_evaluation(
            current, T0 + n, verdict="ok", state_after=OK, baseline=float(n) if n % 2 else None,
            baseline_window=Span(T0 - 10, T0 - 5) if n % 2 else None,
        )  # fmt: skip
        last_value = float(n) if n < 3 else None  # None: nothing measured, the last value stays
        assert store.record_evaluation(current, evaluation, StateChange(OK, 0, T0 + n, last_value))
        current = store.get_alarm(alarm.id) or current
    assert (current.last_value, current.last_evaluated_us) == (2.0, T0 + 4)
    listed = store.list_evaluations(alarm.id)
    assert [e.time_us for e in listed] == [T0 + 4, T0 + 3, T0 + 2, T0 + 1, T0]
    assert (listed[1].baseline, listed[1].baseline_window) == (3.0, Span(T0 - 10, T0 - 5))
    assert (listed[0].baseline, listed[0].baseline_window) == (None, None)
    assert [e.time_us for e in store.list_evaluations(alarm.id, since_us=T0 + 3)] == [T0 + 4, T0 + 3]
    assert len(store.list_evaluations(alarm.id, limit=2)) == 2
    assert store.prune_evaluations(T0 + 2) == 2
    assert len(store.list_evaluations(alarm.id)) == 3
    store.delete_alarm(alarm.id)
    assert store.list_evaluations(alarm.id) == []


# -- CIC runs -------------------------------------------------------------------------------------


def apply(store: AlertingStore, cdrs: list[dict[str, Any]], event_id: str | None = None) -> bool:
    envelope = make_envelope("cdrs_ingested", "ingest", {"cdrs": cdrs}, event_id=event_id)
    return AlertingService(store).apply_cdrs_event(envelope)


def attempt(n: int, start_s: int, answered: bool, **fields: Any) -> dict[str, Any]:
    start = T0 + start_s * 1_000_000
    return new_cdr(
        id=f"c{n:05d}", uuid=f"u{n}", start_time_us=start, end_time_us=start + 1_000_000,
        answer_time_us=start + 1 if answered else 0, billsec_ms=900 if answered else 0, **fields,
    )  # fmt: skip


def test_cic_runs_are_exact_under_random_arrival_order(store: AlertingStore) -> None:
    store.set_tenant("customer:1", ["a1"])
    store.create_alarm(make_alarm(id="al_cic", metric="cic", window="", condition="gt", threshold=3,
                                  scope=AlarmScope("prefix", "44")))  # fmt: skip
    rng = random.Random(7)
    cdrs = [
        attempt(n, rng.randint(0, 200), rng.random() < 0.25, switch_id=rng.choice(["sw1", "sw2"]),
                accountcode=rng.choice(["a1", "b1"]), destination_e164=rng.choice(["+4420", "+331"]))
        for n in range(300)
    ]  # fmt: skip
    shuffled = list(cdrs)
    rng.shuffle(shuffled)
    for index in range(0, len(shuffled), 37):
        assert apply(store, shuffled[index : index + 37])
    tenants = {"a1": "customer:1"}
    for key in ["|all|", "|switch|sw1", "|switch|sw2", "|accountcode|a1", "customer:1|all|", "|prefix|44"]:
        members = sorted((c for c in cdrs if key in cic.cdr_scope_keys(c, tenants, [("", "44")])), key=cic.order_key)
        run = brute_cic(bool(c["answer_time_us"]) for c in members)
        first = members[-run]["start_time_us"] if run else 0
        assert store.cic_run(key) == cic.Run(run, first), key
    assert store.cic_run("|prefix|33") == cic.Run(0, 0)  # no alarm names it: not tracked


def test_cic_event_applies_once_and_late_answered_cuts_the_run(store: AlertingStore) -> None:
    run = [attempt(n, n, False) for n in range(1, 6)]
    assert apply(store, run, event_id="00000000-0000-4000-8000-000000000001")
    assert not apply(store, run, event_id="00000000-0000-4000-8000-000000000001")  # redelivered
    assert store.cic_run("|all|") == cic.Run(5, T0 + 1_000_000)
    apply(store, [attempt(9, 3, True)])  # late, started at 3 s
    assert store.cic_run("|all|") == cic.Run(2, T0 + 4_000_000)
    apply(store, [attempt(10, 2, True), attempt(11, 1, False)])  # older: no change
    assert store.cic_run("|all|").length == 2
    apply(store, [attempt(3, 3, False)])  # c00003 again: it now lies before the answered c00009
    assert store.cic_run("|all|").length == 2
    apply(store, [attempt(12, 6, True)])
    assert store.cic_run("|all|") == cic.Run(0, 0)


def test_a_long_run_keeps_its_newest_members_and_counts_the_rest(
    store: AlertingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cic, "MAX_RUN_MEMBERS", 4)
    apply(store, [attempt(n, n, False) for n in range(1, 8)])
    assert store.cic_run("|all|") == cic.Run(7, T0 + 4_000_000)  # 7 in a row, the 4 newest kept
    apply(store, [attempt(n, n, False) for n in range(8, 10)])
    assert store.cic_run("|all|") == cic.Run(9, T0 + 6_000_000)
    apply(store, [attempt(20, 7, True)])  # answered after 7 s: 8 and 9 remain
    assert store.cic_run("|all|") == cic.Run(2, T0 + 8_000_000)


# -- relaying (a real RabbitMQ vhost) and, on MongoDB, recovery of a writer that died --------------


def drain(amqp_url: str, queue: kombu.Queue) -> list[tuple[str, dict[str, Any]]]:
    received: list[tuple[str, dict[str, Any]]] = []
    with kombu.Connection(amqp_url) as connection:
        bound = queue(connection.channel())
        while (message := bound.get(no_ack=True)) is not None:
            received.append((message.delivery_info["routing_key"], json.loads(message.body)))
    return received


def test_the_relay_publishes_alarm_events_in_order(store: AlertingStore, amqp_url: str) -> None:
    queue = kombu.Queue("a1-alarm-events", exchange=event_exchange("alerting"), routing_key="#", durable=False)
    with kombu.Connection(amqp_url) as connection:
        queue(connection.channel()).declare()
    alarm = store.create_alarm(make_alarm())
    data = {"alarm": {"id": alarm.id}}
    assert store.record_evaluation(
        alarm, make_evaluation(alarm, T0), StateChange(FIRING, T0, T0, 31.5, "alarm_triggered", data)
    )
    fired = store.get_alarm(alarm.id)
    assert fired is not None
    change = StateChange(OK, T0, T0, None, "alarm_cleared", data)
    assert store.record_evaluation(fired, make_evaluation(fired, T0 + 1, state_after=OK), change)
    publisher = EventPublisher(amqp_url, "alerting")
    try:
        assert store.relay_outbox(publisher) == 2
        assert store.relay_outbox(publisher) == 0
    finally:
        publisher.close()
    received = drain(amqp_url, queue)
    assert [(key, body["schema"]) for key, body in received] == [
        ("alarm_triggered", "cdrstats.alarm_triggered.v1"),
        ("alarm_cleared", "cdrstats.alarm_cleared.v1"),
    ]
    assert store.outbox_pending() == 0


def test_mongo_recovers_staged_alarm_events_by_their_transition(store: AlertingStore) -> None:
    outbox = getattr(store, "outbox", None)
    if outbox is None:
        pytest.skip("SQLite commits the event with its state change: nothing to recover")
    alarm = store.create_alarm(make_alarm())
    change = StateChange(FIRING, T0, T0, 31.5, "alarm_triggered", {"alarm": {"id": alarm.id}})
    assert store.record_evaluation(alarm, make_evaluation(alarm, T0, id="ev_done"), change)
    # two writers that died after staging: one after its state change reached the alarm, one before
    done = outbox.stage("alarm_triggered", {"n": 1}, {"alarm_id": alarm.id, "evaluation_id": "ev_done"})
    lost = outbox.stage("alarm_triggered", {"n": 2}, {"alarm_id": alarm.id, "evaluation_id": "ev_never"})
    outbox.coll.update_many({"_id": {"$in": [done, lost]}}, {"$set": {"created_at": 0.0}})
    assert outbox.recover_staged(store._event_committed) == 1  # type: ignore[attr-defined]
    states = {doc["_id"]: doc["state"] for doc in outbox.coll.find()}
    assert states.get(done) == "pending" and lost not in states
