"""Alarm RPCs over a real grpc.aio server with the real servicer and SQLite store: CRUD under the tenant
rules, TestAlarm (stores and publishes nothing), ListEvaluations, GetStatus, error codes. The metric
source is the brute force over CDRs; ``ReportingMetricSource`` is checked against a real reporting
server over a real roll-up store."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from cdrstats.alerting.v1 import alerting_pb2 as pb
from cdrstats.alerting.v1 import alerting_pb2_grpc
from cdrstats.reporting.v1 import reporting_pb2_grpc
from cdrstats_alerting.api import AlertingServicer
from cdrstats_alerting.domain.alarms import MetricUnavailable
from cdrstats_alerting.metric_client import ReportingMetricSource
from cdrstats_alerting.metric_source import CdrListMetricSource, MetricQuery
from cdrstats_alerting.service import AlertingService
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import make_envelope
from cdrstats_common.testing import free_port
from cdrstats_reporting.api import ReportingServicer
from cdrstats_reporting.service import ReportingService
from cdrstats_reporting.store.sqlite import SqliteRollupStore

HOUR = 3_600_000_000
NOW = 1_767_258_000_000_000  # 2026-01-01 09:00:00 UTC, an hour start
ADMIN = pb.Scope(admin=True)
ONE = pb.Scope(tenant="customer:1")
TWO = pb.Scope(tenant="customer:2")


def calls() -> list[dict[str, Any]]:
    """In the last hour: a1 (customer:1) 1 of 4 answered, b1 (customer:2) 3 of 3 answered."""
    made = []
    for n, (code, answered) in enumerate(
        [("a1", True), ("a1", False), ("a1", False), ("a1", False)] + [("b1", True)] * 3
    ):
        start = NOW - HOUR + n * 60_000_000
        made.append(
            new_cdr(
                id=f"c{n}", uuid=f"u{n}", switch_id="sw1", accountcode=code, country="GB", start_time_us=start,
                answer_time_us=start + 5 if answered else 0, billsec_ms=30_000 if answered else 0,
                end_time_us=start + 31_000_000, hangup_cause=16 if answered else 17, destination_e164="+442071234567",
            )
        )  # fmt: skip
    return made


@pytest.fixture
def store(tmp_path: pathlib.Path) -> AlertingStore:
    opened = open_store(f"sqlite:///{tmp_path}/alerting.db")
    opened.set_tenant("customer:1", ["a1", "a2"])
    opened.set_tenant("customer:2", ["b1"])
    return opened


async def _serve(servicer: AlertingServicer) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    alerting_pb2_grpc.add_AlertingServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


@pytest.fixture
async def stub(store: AlertingStore) -> AsyncIterator[alerting_pb2_grpc.AlertingServiceStub]:
    servicer = AlertingServicer(store, CdrListMetricSource(calls()), public_url="https://cdr.example.com")
    server, port = await _serve(servicer)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield alerting_pb2_grpc.AlertingServiceStub(channel)
    finally:
        await server.stop(None)
        store.close()


def asr_alarm(**fields: Any) -> pb.Alarm:
    values: dict[str, Any] = {
        "name": "ASR low", "metric": "asr", "window": "last_hour", "condition": "lt", "threshold": 50,
        "enabled": True, "emails": ["noc@example.com"],
    }  # fmt: skip
    values.update(fields)
    return pb.Alarm(**values)


async def expect(code: grpc.StatusCode, call: Any) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await call
    assert excinfo.value.code() == code, excinfo.value.details()
    return str(excinfo.value.details())


async def test_crud_and_tenant_rules(stub: alerting_pb2_grpc.AlertingServiceStub) -> None:
    admin = await stub.CreateAlarm(pb.SaveAlarmRequest(scope=ADMIN, alarm=asr_alarm(owner="customer:2")))
    assert admin.id and admin.owner == "" and admin.state == "OK" and admin.created_us > 0
    mine = await stub.CreateAlarm(
        pb.SaveAlarmRequest(
            scope=ONE, alarm=asr_alarm(name="mine", scope=pb.AlarmScope(kind="accountcode", value="a2"))
        )
    )
    assert mine.owner == "customer:1"
    assert [a.id for a in (await stub.ListAlarms(pb.ListAlarmsRequest(scope=ADMIN))).alarms] == [admin.id, mine.id]
    assert [a.id for a in (await stub.ListAlarms(pb.ListAlarmsRequest(scope=ONE))).alarms] == [mine.id]
    assert list((await stub.ListAlarms(pb.ListAlarmsRequest(scope=TWO))).alarms) == []
    assert (await stub.GetAlarm(pb.AlarmRef(scope=ADMIN, id=mine.id))) == mine

    # other tenants' alarms are never confirmed
    for call in (
        stub.GetAlarm(pb.AlarmRef(scope=TWO, id=mine.id)),
        stub.GetAlarm(pb.AlarmRef(scope=ONE, id=admin.id)),
        stub.UpdateAlarm(pb.SaveAlarmRequest(scope=TWO, alarm=asr_alarm(id=mine.id))),
        stub.DeleteAlarm(pb.AlarmRef(scope=TWO, id=mine.id)),
        stub.ListEvaluations(pb.ListEvaluationsRequest(scope=TWO, alarm_id=mine.id)),
        stub.GetAlarm(pb.AlarmRef(scope=ADMIN, id="al_missing")),
    ):
        await expect(grpc.StatusCode.NOT_FOUND, call)

    updated = await stub.UpdateAlarm(
        pb.SaveAlarmRequest(scope=ONE, alarm=asr_alarm(id=mine.id, name="mine, renamed", threshold=20, state="FIRING"))
    )
    assert (updated.name, updated.threshold, updated.owner, updated.state) == ("mine, renamed", 20, "customer:1", "OK")
    assert updated.created_us == mine.created_us and updated.updated_us > mine.updated_us
    assert (await stub.DeleteAlarm(pb.AlarmRef(scope=ONE, id=mine.id))).deleted
    await expect(grpc.StatusCode.NOT_FOUND, stub.GetAlarm(pb.AlarmRef(scope=ADMIN, id=mine.id)))


async def test_bad_requests_name_the_field(stub: alerting_pb2_grpc.AlertingServiceStub) -> None:
    foreign = asr_alarm(scope=pb.AlarmScope(kind="accountcode", value="b1"))
    details = await expect(
        grpc.StatusCode.INVALID_ARGUMENT, stub.CreateAlarm(pb.SaveAlarmRequest(scope=ONE, alarm=foreign))
    )
    assert details.startswith("alarm.scope.value: expected one of the tenant's account codes (a1, a2), got 'b1'")
    admin_ok = await stub.CreateAlarm(pb.SaveAlarmRequest(scope=ADMIN, alarm=foreign))  # admins may scope any code
    assert admin_ok.scope.value == "b1"
    details = await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.CreateAlarm(pb.SaveAlarmRequest(scope=ADMIN, alarm=asr_alarm(condition="falls_by_pct"))),
    )
    assert details.startswith("alarm.baseline: expected one of previous_window, same_window_last_week")
    details = await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.CreateAlarm(pb.SaveAlarmRequest(scope=ADMIN, alarm=asr_alarm(webhooks=["mailto:x@example.com"]))),
    )
    assert details.startswith("alarm.webhooks[0]: expected an http(s) URL")
    await expect(grpc.StatusCode.PERMISSION_DENIED, stub.ListAlarms(pb.ListAlarmsRequest(scope=pb.Scope())))
    await expect(
        grpc.StatusCode.INVALID_ARGUMENT,
        stub.ListEvaluations(pb.ListEvaluationsRequest(scope=ADMIN, alarm_id=admin_ok.id, limit=5001)),
    )


async def test_test_alarm_evaluates_within_the_tenant_and_stores_nothing(
    stub: alerting_pb2_grpc.AlertingServiceStub, store: AlertingStore
) -> None:
    tenant = await stub.TestAlarm(pb.TestAlarmRequest(scope=ONE, alarm=asr_alarm(), now_us=NOW))
    assert (tenant.value, tenant.attempts, tenant.verdict, tenant.state_after) == (25.0, 4, "breach", "FIRING")
    assert tenant.id and not tenant.published
    assert tenant.message == "ASR 25 % < 50 % over the last hour"
    assert tenant.link == "https://cdr.example.com/cdrs?from=2026-01-01T08%3A00%3A00Z&to=2026-01-01T09%3A00%3A00Z"
    everyone = await stub.TestAlarm(pb.TestAlarmRequest(scope=ADMIN, alarm=asr_alarm(), now_us=NOW))
    assert (everyone.value, everyone.attempts, everyone.verdict) == (100 * 4 / 7, 7, "ok")
    relative = asr_alarm(condition="falls_by", baseline="previous_window", threshold=10)
    base = await stub.TestAlarm(pb.TestAlarmRequest(scope=ADMIN, alarm=relative, now_us=NOW))
    assert (base.verdict, base.has_baseline) == ("insufficient", False)  # nothing in the hour before
    assert (base.baseline_start_us, base.baseline_end_us) == (0, 0)

    saved = await stub.CreateAlarm(pb.SaveAlarmRequest(scope=ONE, alarm=asr_alarm()))
    tested = await stub.TestAlarm(pb.TestAlarmRequest(scope=ONE, alarm=asr_alarm(id=saved.id), now_us=NOW))
    assert tested.alarm_id == saved.id and tested.verdict == "breach"
    assert (await stub.GetAlarm(pb.AlarmRef(scope=ONE, id=saved.id))).state == "OK"
    assert list((await stub.ListEvaluations(pb.ListEvaluationsRequest(scope=ONE, alarm_id=saved.id))).evaluations) == []
    assert store.outbox_pending() == 0
    await expect(
        grpc.StatusCode.NOT_FOUND, stub.TestAlarm(pb.TestAlarmRequest(scope=TWO, alarm=asr_alarm(id=saved.id)))
    )


async def test_evaluations_and_status_after_the_timer(
    stub: alerting_pb2_grpc.AlertingServiceStub, store: AlertingStore
) -> None:
    saved = await stub.CreateAlarm(pb.SaveAlarmRequest(scope=ONE, alarm=asr_alarm()))
    worker = AlertingService(store, CdrListMetricSource(calls()), clock=lambda: NOW / 1e6)
    assert await asyncio.to_thread(worker.evaluate_due) == 1
    assert await asyncio.to_thread(worker.evaluate_due) == 0  # not due again within the minute
    listed = (await stub.ListEvaluations(pb.ListEvaluationsRequest(scope=ONE, alarm_id=saved.id))).evaluations
    assert [(e.verdict, e.state_before, e.state_after, e.published) for e in listed] == [
        ("breach", "OK", "FIRING", True)
    ]
    alarm = await stub.GetAlarm(pb.AlarmRef(scope=ONE, id=saved.id))
    assert (alarm.state, alarm.last_evaluated_us, alarm.last_triggered_us, alarm.last_value) == ("FIRING", NOW, NOW, 25)
    status = await stub.GetStatus(pb.GetStatusRequest())
    assert (status.alarms, status.firing, status.last_evaluation_us) == (1, 1, NOW)


async def test_test_alarm_without_reporting_is_unavailable(store: AlertingStore) -> None:
    server, port = await _serve(AlertingServicer(store, None))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = alerting_pb2_grpc.AlertingServiceStub(channel)
            await expect(
                grpc.StatusCode.UNAVAILABLE, stub.TestAlarm(pb.TestAlarmRequest(scope=ADMIN, alarm=asr_alarm()))
            )
            cic = pb.Alarm(name="cic", metric="cic", condition="gt", threshold=3)
            answer = await stub.TestAlarm(pb.TestAlarmRequest(scope=ADMIN, alarm=cic, now_us=NOW))
            assert (answer.verdict, answer.value) == ("ok", 0)  # CIC is alerting's own: no reporting needed
    finally:
        await server.stop(None)
        store.close()


async def test_reporting_metric_source_against_a_real_reporting_server(tmp_path: pathlib.Path) -> None:
    rollups = SqliteRollupStore.open(tmp_path / "reporting.db")
    reporting = ReportingService(rollups, clock=lambda: NOW)
    reporting.apply_cdrs_event(make_envelope("cdrs_ingested", "ingest", {"cdrs": calls()}))
    server = grpc.aio.server()
    reporting_pb2_grpc.add_ReportingServiceServicer_to_server(ReportingServicer(reporting), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    source = ReportingMetricSource(f"127.0.0.1:{port}", timeout_s=10)
    brute = CdrListMetricSource(calls())
    try:
        for metric in ("asr", "acd", "ner", "attempts", "minutes", "pdd_ms", "cause_share", "concurrent_peak"):
            for allowed in (None, ("a1", "a2")):
                query = MetricQuery(
                    metric, NOW - HOUR, NOW, allowed_accountcodes=allowed, switch_id="sw1",
                    hangup_cause=17 if metric == "cause_share" else 0,
                )  # fmt: skip
                got = await asyncio.to_thread(source.query, query)
                want = brute.query(query)
                if metric == "concurrent_peak":  # its reply carries no stats: the evaluator asks attempts apart
                    assert got.value == want.value == 1.0
                    continue
                assert (got.value, got.attempts, got.answered, got.pdd_count) == pytest.approx(
                    (want.value, want.attempts, want.answered, want.pdd_count)
                ), metric
        refused = MetricQuery("asr", NOW - HOUR, NOW, allowed_accountcodes=("a1",), accountcodes=("b1",))
        with pytest.raises(MetricUnavailable, match="PERMISSION_DENIED"):
            await asyncio.to_thread(source.query, refused)
    finally:
        source.close()
        await server.stop(None)
        rollups.close()
    down = ReportingMetricSource(f"127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(MetricUnavailable, match="UNAVAILABLE"):
        await asyncio.to_thread(down.query, MetricQuery("asr", NOW - HOUR, NOW))
    down.close()
