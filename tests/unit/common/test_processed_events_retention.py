"""The applied-event log (``processed_events``) is bounded, and bounding it never lets an event apply twice.

Ids older than CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS are pruned in short batches, oldest first, on an
index; an event created before that window is refused by ``consumer.check_fresh`` (the worker's handler
parks it in the dead-letter queue). The property test drives the two together on a real SQLite store:
whenever an event is accepted, its id - if it was applied at any earlier time - is still there.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdrstats_alerting.settings import AlertingSettings
from cdrstats_common import consumer, retention
from cdrstats_common.events import make_envelope
from cdrstats_common.settings import SettingsError
from cdrstats_common.sqlite import connect, migrate, transaction
from cdrstats_notify.settings import NotifySettings
from cdrstats_reporting.settings import ReportingSettings

DAY_S = 86_400.0
NOW_S = 1_780_000_000.0
SETTING = "CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS"


def envelope(created_s: float, event_id: str = "ev-1") -> dict[str, Any]:
    """A real envelope whose ``time`` says it was created at ``created_s``."""
    made = make_envelope("cdrs_ingested", "ingest", {"cdrs": []}, event_id=event_id)
    made["time"] = dt.datetime.fromtimestamp(created_s, dt.UTC).isoformat(timespec="microseconds")
    made["time"] = made["time"].replace("+00:00", "Z")
    return made


@pytest.fixture
def conn(tmp_path: pathlib.Path) -> Iterator[sqlite3.Connection]:
    connection = connect(tmp_path / "consumer.db")
    migrate(connection, consumer.SCHEMA)
    yield connection
    connection.close()


def applied_at(conn: sqlite3.Connection, event_id: str, at_s: float) -> bool:
    """``apply_once`` as a consumer runs it, its record then dated ``at_s`` (the test's past)."""
    ran = consumer.apply_once(conn, event_id, lambda _conn: None)
    conn.execute("UPDATE processed_events SET processed_at = ? WHERE event_id = ?", (at_s, event_id))
    return ran


class ProcessedPruner(retention.Pruner):
    """The services' pruners in small: one log, the SQLite ``processed_events``, no outbox."""

    def __init__(self, conn: sqlite3.Connection, days: int, **options: Any) -> None:
        super().__init__(None, **options)
        self.conn, self.days = conn, days

    def _delete(self, before_us: int, limit: int) -> int:
        with transaction(self.conn):
            return consumer.prune_processed(self.conn, before_us, limit)

    def logs(self) -> tuple[retention.PrunedLog, ...]:
        return (("processed_events", self.days, self._delete),)


# -- the freshness rule ------------------------------------------------------------------------------


def test_an_event_inside_the_window_is_fresh_and_one_outside_is_refused_naming_the_setting() -> None:
    window_edge = NOW_S - 30 * DAY_S + consumer.CLOCK_MARGIN_S
    consumer.check_fresh(envelope(NOW_S), 30, NOW_S)
    consumer.check_fresh(envelope(window_edge + 1), 30, NOW_S)
    with pytest.raises(consumer.StaleEvent) as refused:
        consumer.check_fresh(envelope(window_edge - 1, "ev-old"), 30, NOW_S)
    assert refused.value.event_id == "ev-old" and refused.value.retention_days == 30
    assert "ev-old" in str(refused.value) and f"{SETTING}=30" in str(refused.value)
    with pytest.raises(consumer.StaleEvent):  # a shorter retention refuses younger events
        consumer.check_fresh(envelope(NOW_S - 2 * DAY_S), 1, NOW_S)


def test_no_retention_or_no_readable_time_leaves_the_event_to_its_handler() -> None:
    consumer.check_fresh(envelope(NOW_S - 3650 * DAY_S), 0, NOW_S)  # 0: ids are kept forever
    without_time = {k: v for k, v in envelope(NOW_S - 90 * DAY_S).items() if k != "time"}
    consumer.check_fresh(without_time, 30, NOW_S)
    consumer.check_fresh({**without_time, "time": "last tuesday"}, 30, NOW_S)
    consumer.check_fresh("not an envelope", 30, NOW_S)


# -- pruning the SQLite log ---------------------------------------------------------------------------


def test_old_ids_go_oldest_first_in_bounded_batches_and_young_ones_stay(conn: sqlite3.Connection) -> None:
    for n in range(7):
        applied_at(conn, f"old-{n}", NOW_S - (40 - n) * DAY_S)
    applied_at(conn, "young", NOW_S - DAY_S)
    cutoff_us = int((NOW_S - 30 * DAY_S) * 1_000_000)
    with transaction(conn):
        assert consumer.prune_processed(conn, cutoff_us, 3) == 3
    left = [row[0] for row in conn.execute("SELECT event_id FROM processed_events ORDER BY processed_at")]
    assert left == ["old-3", "old-4", "old-5", "old-6", "young"], "the oldest three went first"

    pauses: list[float] = []
    pruned = ProcessedPruner(conn, 30, clock=lambda: NOW_S, sleep=pauses.append, batch=3).prune()
    assert pruned == {"processed_events": 4} and len(pauses) == 1, "a batch of 3, a pause, then 1 - no outbox"
    assert consumer.processed_count(conn) == 1
    assert not consumer.apply_once(conn, "young", lambda _conn: None), "a young id still stops its redelivery"
    assert ProcessedPruner(conn, 0, clock=lambda: NOW_S + 3650 * DAY_S).prune() == {}, "0 keeps every id"


def test_the_prune_reads_the_processed_at_index_not_the_whole_log(conn: sqlite3.Connection) -> None:
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT rowid FROM processed_events WHERE processed_at < ? ORDER BY processed_at LIMIT ?",
        (NOW_S, 5000),
    ).fetchall()
    details = " ".join(str(row["detail"]) for row in plan)
    assert "USING COVERING INDEX processed_events_at" in details or "USING INDEX processed_events_at" in details
    assert "SCAN processed_events" not in details.replace("USING", "")


def test_a_log_made_before_the_index_gets_it_and_keeps_its_ids(tmp_path: pathlib.Path) -> None:
    old = connect(tmp_path / "old.db")
    migrate(old, consumer.SCHEMA[:1])  # the table as earlier releases made it
    applied_at(old, "ev-kept", NOW_S)
    migrate(old, consumer.SCHEMA)  # what every store runs when it opens
    assert "processed_events_at" in {row[1] for row in old.execute("PRAGMA index_list(processed_events)")}
    assert not consumer.apply_once(old, "ev-kept", lambda _conn: None)
    old.close()


def test_a_pruned_id_is_forgotten_which_is_why_a_stale_event_must_be_refused(conn: sqlite3.Connection) -> None:
    created = NOW_S - 31 * DAY_S
    applied_at(conn, "ev-late", created + 60)
    ProcessedPruner(conn, 30, clock=lambda: NOW_S).prune()
    with pytest.raises(consumer.StaleEvent):  # the worker's handler refuses it before the store is asked ...
        consumer.check_fresh(envelope(created, "ev-late"), 30, NOW_S)
    assert consumer.apply_once(conn, "ev-late", lambda _conn: None), "... as the store alone would apply it again"


# -- the safety property: accepted => not applied twice ------------------------------------------------

HOUR = 3_600.0


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    days=st.integers(min_value=1, max_value=60),
    # hours before (-) or after (+) the edge of the window: the interesting events are near it
    created_from_edge_h=st.one_of(st.floats(min_value=-3, max_value=3), st.floats(min_value=-2000, max_value=2000)),
    # -1: the consumer's clock an hour behind the producer's; then anything up to the retention
    processed_after_h=st.one_of(st.floats(min_value=-1, max_value=0), st.floats(min_value=0, max_value=80 * 24)),
    pruned_ago_h=st.floats(min_value=0, max_value=80 * 24),
)
def test_an_event_the_rule_accepts_still_finds_its_id_after_any_prune(
    days: int, created_from_edge_h: float, processed_after_h: float, pruned_ago_h: float
) -> None:
    """Created at T, applied at P >= T - 1 h (clock skew), pruned at some time Q between P and now: if
    ``check_fresh`` accepts a redelivery now, the id survived every prune and the store says duplicate."""
    created = min(NOW_S - days * DAY_S + created_from_edge_h * HOUR, NOW_S)
    processed = min(created + processed_after_h * HOUR, NOW_S)
    pruned_at = max(processed, NOW_S - pruned_ago_h * HOUR)
    conn = sqlite3.connect(":memory:", isolation_level=None)  # the same SQL, without a file per example
    try:
        migrate(conn, consumer.SCHEMA)
        applied_at(conn, "ev", processed)
        for clock in (pruned_at, NOW_S):  # a prune in between and one right now
            ProcessedPruner(conn, days, clock=lambda at=clock: at, sleep=lambda _s: None).prune()
        try:
            consumer.check_fresh(envelope(created, "ev"), days, NOW_S)
        except consumer.StaleEvent:
            return  # refused: parked in the dead-letter queue, never applied
        assert not consumer.apply_once(conn, "ev", lambda _conn: None), "accepted, and its id was pruned"
    finally:
        conn.close()


# -- one setting, read by every consuming service -------------------------------------------------------

Reader = Callable[[Mapping[str, str]], Any]
SERVICES: list[Reader] = [ReportingSettings.from_env, AlertingSettings.from_env, NotifySettings.from_env]


@pytest.mark.parametrize("read", SERVICES, ids=["reporting", "alerting", "notify"])
def test_every_consumer_reads_the_one_setting(read: Reader, tmp_path: pathlib.Path) -> None:
    base = {"CDRSTATS_DATA_DIR": str(tmp_path)}
    assert read(base).processed_event_retention_days == 30
    assert read({**base, SETTING: "0"}).processed_event_retention_days == 0
    assert read({**base, SETTING: "7"}).processed_event_retention_days == 7
    for bad in ("-1", "a month", "40000"):
        with pytest.raises(SettingsError) as caught:
            read({**base, SETTING: bad})
        assert [p for p in caught.value.problems if p.startswith(SETTING)], bad
