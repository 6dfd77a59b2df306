"""The outbox relays in order and survives a broker failure; consumers apply each event once."""

from __future__ import annotations

import json
import pathlib
import sqlite3
from typing import Any

import pytest

from cdrstats_common import consumer, outbox
from cdrstats_common.sqlite import connect, migrate, transaction


class FlakyPublisher:
    """A real in-memory publisher that fails after ``fail_after`` messages, like a broker going away."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail_after = fail_after

    def publish(self, envelope: dict[str, Any] | str, routing_key: str, headers: dict[str, Any] | None = None) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise ConnectionError("broker gone")
        self.sent.append((routing_key, json.loads(envelope) if isinstance(envelope, str) else envelope))


@pytest.fixture
def conn(tmp_path: pathlib.Path) -> sqlite3.Connection:
    connection = connect(tmp_path / "svc.db")
    migrate(connection, [*outbox.SCHEMA, *consumer.SCHEMA, "CREATE TABLE counts (n INTEGER)"])
    connection.execute("INSERT INTO counts VALUES (0)")
    return connection


def queue_events(conn: sqlite3.Connection, count: int) -> list[str]:
    with transaction(conn):
        return [outbox.add_event(conn, "svc", "thing_happened", {"n": i}) for i in range(count)]


def test_events_are_relayed_in_order_and_marked_sent(conn: sqlite3.Connection) -> None:
    ids = queue_events(conn, 250)
    publisher = FlakyPublisher()
    assert outbox.OutboxRelay(conn, publisher, batch_size=100).relay_all() == 250
    assert [envelope["id"] for _, envelope in publisher.sent] == ids
    assert {key for key, _ in publisher.sent} == {"thing_happened"}
    assert publisher.sent[0][1]["schema"] == "cdrstats.thing_happened.v1"
    assert outbox.pending_count(conn) == 0
    assert outbox.OutboxRelay(conn, publisher).relay_all() == 0


def test_a_broker_failure_keeps_the_rest_pending(conn: sqlite3.Connection) -> None:
    ids = queue_events(conn, 10)
    failing = FlakyPublisher(fail_after=4)
    with pytest.raises(ConnectionError):
        outbox.OutboxRelay(conn, failing).relay_all()
    assert outbox.pending_count(conn) == 6
    recovered = FlakyPublisher()
    outbox.OutboxRelay(conn, recovered).relay_all()
    assert [e["id"] for _, e in failing.sent + recovered.sent] == ids  # each once, in order


def test_an_event_rolled_back_with_its_effect_is_never_sent(conn: sqlite3.Connection) -> None:
    with pytest.raises(RuntimeError), transaction(conn):
        outbox.add_event(conn, "svc", "thing_happened", {})
        raise RuntimeError("the state change failed")
    assert outbox.pending_count(conn) == 0


def increment(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE counts SET n = n + 1")


def test_an_event_is_applied_once(conn: sqlite3.Connection) -> None:
    assert consumer.apply_once(conn, "evt-1", increment) is True
    assert consumer.apply_once(conn, "evt-1", increment) is False
    assert consumer.apply_once(conn, "evt-2", increment) is True
    assert conn.execute("SELECT n FROM counts").fetchone()[0] == 2


def test_a_failed_effect_does_not_record_the_event(conn: sqlite3.Connection) -> None:
    def broken(c: sqlite3.Connection) -> None:
        increment(c)
        raise ValueError("bad event")

    with pytest.raises(ValueError):
        consumer.apply_once(conn, "evt-1", broken)
    assert conn.execute("SELECT n FROM counts").fetchone()[0] == 0
    assert consumer.apply_once(conn, "evt-1", increment) is True  # a later redelivery still applies
