"""The raw CDR store's contract: identity, atomic batches with their events, switches."""

from __future__ import annotations

import json
import pathlib

import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.store import CdrStore, open_store


@pytest.fixture
def store(tmp_path: pathlib.Path) -> CdrStore:
    return open_store(f"sqlite:///{tmp_path}/ingest.db")


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


def outbox_events(store: CdrStore) -> list[dict[str, object]]:
    rows = store.conn.execute("SELECT body FROM outbox ORDER BY seq").fetchall()  # type: ignore[attr-defined]
    return [json.loads(row["body"]) for row in rows]


def test_a_resent_cdr_is_a_duplicate_and_queues_no_event(store: CdrStore) -> None:
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


def test_a_batch_stores_cdrs_and_events_of_at_most_1000(store: CdrStore) -> None:
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
