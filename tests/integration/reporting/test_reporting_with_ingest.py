"""Reporting against a real ingest api process: rebuild from ReplayCdrs, and reports that agree with search."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import random
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_cli import demo
from cdrstats_common.cdr import new_cdr
from cdrstats_common.healthcheck import check_grpc
from cdrstats_common.metrics import Totals
from cdrstats_common.testing import ServiceProcess, free_port, wait_for
from cdrstats_reporting import convert
from cdrstats_reporting.ingest_client import IngestClient
from cdrstats_reporting.queries import ReportQueries, selection
from cdrstats_reporting.rebuild import replay_into
from cdrstats_reporting.store import open_store

pytestmark = pytest.mark.integration

ZONE = "Europe/Paris"
BASE_US = int(dt.datetime(2025, 10, 24, 12, tzinfo=dt.UTC).timestamp()) * 1_000_000  # the DST change is on the 26th


@pytest.fixture
def ingest(tmp_path: pathlib.Path) -> Iterator[str]:
    port = free_port()
    env = {
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
        "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{port}",
        "CDRSTATS_INGEST_HTTP_PORT": str(free_port()),
        "CDRSTATS_ADMIN_PORT": str(free_port()),
    }
    api = ServiceProcess("cdrstats_ingest.api", env, str(tmp_path / "ingest-api.log"))
    address = f"127.0.0.1:{port}"
    try:
        wait_for(lambda: check_grpc(address), what="ingest api health")
        with grpc.insecure_channel(address) as channel:
            stub = ingest_pb2_grpc.IngestServiceStub(channel)
            for switch in ("s1", "s2"):
                stub.UpsertSwitch(ingest_pb2.UpsertSwitchRequest(switch=ingest_pb2.Switch(id=switch, type="other")))
            rng = random.Random(9)
            reply = demo.submit(channel, [make_cdr(rng, n) for n in range(400)])
            assert reply.accepted == 400, reply
        yield address
    finally:
        api.stop()


def make_cdr(rng: random.Random, index: int) -> dict[str, Any]:
    start = BASE_US + rng.randrange(0, 4 * 86_400) * 1_000_000
    answered = rng.random() < 0.6
    billsec = rng.randrange(1_000, 900_000) if answered else 0
    number = rng.choice(["+33612345678", "+33140000000", "+14155550100", "+442079460000"])
    return new_cdr(
        uuid=f"u{index}",
        switch_id=rng.choice(["s1", "s2"]),
        source="api",
        accountcode=rng.choice(["a", "b"]),
        direction="outbound",
        destination_number=number,
        start_time_us=start,
        answer_time_us=start + 2_000_000 if answered else 0,
        end_time_us=start + 2_000_000 + billsec * 1000,
        duration_ms=2_000 + billsec,
        billsec_ms=billsec,
        answered=answered,
        disposition="ANSWERED" if answered else "NO_ANSWER",
        hangup_cause=16 if answered else 19,
    )


def by_day(cdrs: list[dict[str, Any]]) -> dict[str, Totals]:
    zone = zoneinfo.ZoneInfo(ZONE)
    out: dict[str, Totals] = {}
    for cdr in cdrs:
        day = dt.datetime.fromtimestamp(cdr["start_time_us"] / 1e6, tz=dt.UTC).astimezone(zone).date().isoformat()
        out.setdefault(day, Totals()).add_cdr(cdr)
    return out


def test_rebuild_and_reports_agree_with_search(ingest: str, tmp_path: pathlib.Path) -> None:
    url = f"sqlite:///{tmp_path}/reporting.db"
    client = IngestClient(ingest)
    try:
        raw = [cdr for batch in client.replay("", 64) for cdr in batch]
        assert len(raw) == 400
        assert replay_into(url, ZONE, client.replay("", 64), lambda _: None) == 400
        assert replay_into(url, ZONE, client.replay("", 64), lambda _: None) == 400  # safe to rerun
        store = open_store(url, ZONE)
        assert store.status() == (400, len(range(0, 400, 64)))
        # events the worker finds queued after the rebuild skip the replayed CDRs
        assert store.apply_batch("queued-event", raw[:10]) is True
        assert store.status()[0] == 400

        queries = ReportQueries(store, clock=lambda: BASE_US, search=client)
        admin = selection(True, [])
        report = queries.daily_report(admin, "2025-10-24", "2025-10-28")
        assert {b.label: b.totals for b in report.buckets if b.totals.attempts} == by_day(raw)

        # a filter with roll-up dimensions, answered from roll-ups and from search: the same numbers
        query = ingest_pb2.CdrQuery(switch_ids=["s1"], accountcode=ingest_pb2.TextFilter(op="equals", value="a"))
        filters, search_query = convert.split_query(query, admin)
        assert search_query is None
        from_rollups = queries.daily_report(filters, "2025-10-24", "2025-10-28")
        from_search = queries.daily_report(admin, "2025-10-24", "2025-10-28", search_query=query)
        assert from_search.source == "search"
        assert [b.totals for b in from_rollups.buckets] == [b.totals for b in from_search.buckets]

        # a filter roll-ups lack goes to search, scoped: a customer never sees another code
        mobile = ingest_pb2.CdrQuery(destination_number=ingest_pb2.TextFilter(op="begins", value="+336"))
        customer = selection(False, ["b"])
        filters, search_query = convert.split_query(mobile, customer)
        assert search_query is not None
        report = queries.daily_report(filters, "2025-10-24", "2025-10-28", search_query)
        expected = by_day([c for c in raw if c["accountcode"] == "b" and c["destination_e164"].startswith("+336")])
        assert {b.label: b.totals for b in report.buckets if b.totals.attempts} == expected
        store.close()
    finally:
        client.close()

    # the command an operator runs (worker stopped)
    env = {
        **os.environ,
        "CDRSTATS_REPORTING_STORE_URL": url,
        "CDRSTATS_TIME_ZONE": "Asia/Kolkata",  # a zone change is what a rebuild is for
        "INGEST_GRPC_ADDR": ingest,
    }
    run = subprocess.run(
        [sys.executable, "-m", "cdrstats_cli.main", "reporting", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "rebuilt: 400 CDRs applied" in run.stdout
    assert open_store(url, "Asia/Kolkata").status()[0] == 400
