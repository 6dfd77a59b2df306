"""The raw CDR store's contract: identity, atomic batches with their events, switches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.store import CdrStore


def make_cdr(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "switch_id": "sw1",
        "source": "api",
        "uuid": "u-1",
        "accountcode": "acme",
        "start_time_us": 1_700_000_000_000_000,
        "end_time_us": 1_700_000_060_000_000,
        "duration_ms": 60_000,
        "extra": {"sip_user_agent": "FreeSWITCH"},
    }
    values.update(overrides)
    return new_cdr(**values)


Events = Callable[[CdrStore], list[dict[str, Any]]]
Publisher = Any  # conftest.CapturePublisher: records (routing key, envelope)


def test_a_resent_cdr_is_a_duplicate_and_queues_no_event(store: CdrStore, outbox_events: Events) -> None:
    first = store.add_cdrs([make_cdr()])
    again = store.add_cdrs([make_cdr(accountcode="changed")])
    assert first.statuses == ["accepted"] and again.statuses == ["duplicate"]
    assert again.ids == first.ids
    assert store.cdr_count() == 1
    assert store.get_cdr(first.ids[0])["accountcode"] == "acme"  # type: ignore[index]
    assert len(outbox_events(store)) == 1


def test_same_uuid_on_another_switch_is_another_cdr(store: CdrStore) -> None:
    outcome = store.add_cdrs([make_cdr(), make_cdr(switch_id="sw2")])
    assert outcome.statuses == ["accepted", "accepted"]


def test_a_batch_stores_cdrs_and_events_of_at_most_1000(store: CdrStore, outbox_events: Events) -> None:
    outcome = store.add_cdrs([make_cdr(uuid=f"u-{i}") for i in range(2500)] + [make_cdr(uuid="u-7")])
    assert outcome.accepted == 2500 and outcome.duplicates == 1
    events = outbox_events(store)
    assert [len(e["data"]["cdrs"]) for e in events] == [1000, 1000, 500]  # type: ignore[index]
    assert events[0]["schema"] == "cdrstats.cdrs_ingested.v1" and events[0]["source"] == "ingest"
    sent_ids = [c["id"] for e in events for c in e["data"]["cdrs"]]  # type: ignore[index]
    assert sent_ids == outcome.ids[:2500]
    assert store.outbox_pending() == 3


def test_ids_sort_in_arrival_order(store: CdrStore) -> None:
    outcome = store.add_cdrs([make_cdr(uuid=f"u-{i}") for i in range(50)])
    assert outcome.ids == sorted(outcome.ids)


def test_get_cdr_round_trips_every_field(store: CdrStore) -> None:
    cdr = make_cdr(answered=True, mos=4.2, hangup_cause=16, pdd_ms=-1, extra={"a": "b", "c": "%2B1"})
    cdr_id = store.add_cdrs([cdr]).ids[0]
    assert store.get_cdr(cdr_id) == {**cdr, "id": cdr_id}
    assert store.get_cdr("nope") is None


def test_a_failed_batch_stores_nothing(store: CdrStore) -> None:
    bad = make_cdr(uuid="u-2")
    del bad["start_time_us"]
    with pytest.raises(KeyError):
        store.add_cdrs([make_cdr(), bad])
    assert store.cdr_count() == 0 and store.outbox_pending() == 0


def test_switch_password_kept_when_not_given(store: CdrStore) -> None:
    config = SwitchConfig(id="demo", username="demo", remove_prefixes=("9", "0011"))
    store.upsert_switch(config, "hash-1")
    store.upsert_switch(SwitchConfig(id="demo", username="demo", home_country="GB"), None)
    stored = store.find_switch_by_username("demo")
    assert stored is not None and stored.password_hash == "hash-1" and stored.config.home_country == "GB"
    store.upsert_switch(config, "hash-2")
    again = store.get_switch("demo")
    assert again is not None and again.password_hash == "hash-2" and again.config.remove_prefixes == ("9", "0011")
    assert [s.id for s in store.list_switches()] == ["demo"]


def test_relay_publishes_every_event_once_in_order(store: CdrStore, capture_publisher: Publisher) -> None:
    first = store.add_cdrs([make_cdr(uuid=f"a-{i}") for i in range(1500)])
    store.add_call_state({"switch_id": "sw1", "uuid": "live-1", "event": "started", "time_us": 1})
    second = store.add_cdrs([make_cdr(uuid="b-1")])
    assert store.relay_outbox(capture_publisher) == 4
    assert [key for key, _ in capture_publisher.sent] == [
        "cdrs_ingested",
        "cdrs_ingested",
        "call_state",
        "cdrs_ingested",
    ]
    published = [
        c["id"] for key, body in capture_publisher.sent if key == "cdrs_ingested" for c in body["data"]["cdrs"]
    ]
    assert published == first.ids + second.ids
    assert capture_publisher.sent[2][1]["data"]["uuid"] == "live-1"
    assert capture_publisher.sent[2][1]["schema"] == "cdrstats.call_state.v1"
    assert store.outbox_pending() == 0
    assert store.relay_outbox(capture_publisher) == 0 and len(capture_publisher.sent) == 4


def test_events_the_broker_did_not_confirm_stay_pending_and_go_next_time(
    store: CdrStore, make_publisher: Callable[..., Publisher]
) -> None:
    for i in range(5):
        store.add_cdrs([make_cdr(uuid=f"u-{i}")])
    failing = make_publisher(fail_after=2)
    with pytest.raises(ConnectionError):
        store.relay_outbox(failing)
    assert store.outbox_pending() == 3
    healthy = make_publisher()
    assert store.relay_outbox(healthy) == 3
    uuids = [body["data"]["cdrs"][0]["uuid"] for _, body in failing.sent + healthy.sent]
    assert uuids == [f"u-{i}" for i in range(5)]


def test_deleted_switch_keeps_its_cdrs(store: CdrStore) -> None:
    store.upsert_switch(SwitchConfig(id="sw1", username="sw1"), "hash")
    store.upsert_switch(SwitchConfig(id="pull-a"), None)  # no user: two such switches don't collide on ""
    store.upsert_switch(SwitchConfig(id="pull-b"), None)
    cdr_id = store.add_cdrs([make_cdr()]).ids[0]
    assert store.delete_switch("sw1") is True
    assert store.delete_switch("sw1") is False
    assert store.get_switch("sw1") is None and store.find_switch_by_username("sw1") is None
    assert [s.id for s in store.list_switches()] == ["pull-a", "pull-b"]
    assert store.get_cdr(cdr_id) is not None
    assert store.find_switch_by_username("") is None


def test_removing_a_username_frees_it(store: CdrStore) -> None:
    store.upsert_switch(SwitchConfig(id="a", username="shared"), "hash-a")
    store.upsert_switch(SwitchConfig(id="a"), None)
    store.upsert_switch(SwitchConfig(id="b", username="shared"), "hash-b")
    found = store.find_switch_by_username("shared")
    assert found is not None and found.config.id == "b"


def test_worker_heartbeat(store: CdrStore) -> None:
    assert store.worker_alive() is False
    store.beat()
    assert store.worker_alive() is True


def test_data_survives_reopening_and_migrations_are_idempotent(store_factory: Callable[[], CdrStore]) -> None:
    first = store_factory()
    outcome = first.add_cdrs([make_cdr()])
    first.upsert_switch(SwitchConfig(id="sw1", username="sw1"), "hash")
    second = store_factory()
    assert second.add_cdrs([make_cdr()]).statuses == ["duplicate"]
    assert second.get_cdr(outcome.ids[0]) is not None and second.cdr_count() == 1
    assert second.outbox_pending() == 1
    stored = second.get_switch("sw1")
    assert stored is not None and stored.password_hash == "hash"
