"""``cdrstats_destination_hits_total{verdict}`` counts the hits the worker's event handling newly logs: a
redelivered event, or a CDR re-sent in another event, counts nothing (real SQLite store and matcher)."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import prometheus_client
import pytest

from cdrstats_alerting.domain.destinations import GeoRule, ListEntry
from cdrstats_alerting.domain.errors import Caller
from cdrstats_alerting.service import AlertingService
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import make_envelope

METRIC = "cdrstats_destination_hits_total"
ADMIN = Caller(admin=True)


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[AlertingStore]:
    opened = open_store(f"sqlite:///{tmp_path}/alerting.db")
    yield opened
    opened.close()


def counts() -> dict[str, float]:
    registry = prometheus_client.REGISTRY
    return {v: registry.get_sample_value(METRIC, {"verdict": v}) or 0.0 for v in ("black", "geo", "white")}


def call(cdr_id: str, e164: str, country: str) -> dict[str, Any]:
    return new_cdr(
        id=cdr_id, uuid=cdr_id, switch_id="sw1", direction="outbound", destination_number=e164,
        destination_e164=e164, country=country, start_time_us=1_767_000_000_000_000,
        end_time_us=1_767_000_001_000_000,
    )  # fmt: skip


def test_only_newly_logged_hits_count_by_verdict(store: AlertingStore) -> None:
    service = AlertingService(store)
    rules = service.destinations
    rules.create_entries(ADMIN, [ListEntry("", "black", "", "447", "", ""), ListEntry("", "white", "", "4477", "", "")])
    rules.save_geo_rule(ADMIN, GeoRule("", "", "", "forbid", ("IR",)))
    calls = [
        *(call(f"b{i}", f"+4478{i:08d}", "GB") for i in range(3)),
        *(call(f"w{i}", f"+4477{i:08d}", "GB") for i in range(2)),
        call("g0", "+989121234567", "IR"),
        call("none", "+33123456789", "FR"),
    ]
    before = counts()
    first = make_envelope("cdrs_ingested", "ingest", {"cdrs": calls})
    assert service.apply_cdrs_event(first)
    after = counts()
    assert {v: after[v] - before[v] for v in after} == {"black": 3, "geo": 1, "white": 2}

    assert not service.apply_cdrs_event(first)  # redelivered
    resent = make_envelope("cdrs_ingested", "ingest", {"cdrs": [calls[0], call("b9", "+447899999999", "GB")]})
    assert service.apply_cdrs_event(resent)  # b0 is in the log already: only b9 counts
    final = counts()
    assert {v: final[v] - after[v] for v in final} == {"black": 1, "geo": 0, "white": 0}
    exposed = prometheus_client.generate_latest().decode()
    assert "# HELP cdrstats_destination_hits_total" in exposed and 'verdict="black"' in exposed
