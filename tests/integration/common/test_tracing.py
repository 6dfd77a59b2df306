"""One trace across real processes: FreeSWITCH POST -> ingest api -> outbox relay -> AMQP -> reporting worker,
and on to the e-mail: -> alerting worker (black list hit) -> its outbox relay -> notify worker -> SMTP send.

The processes export with the standard OTLP exporter (``OTEL_*`` variables) to a real
OTLP/gRPC collector run by this test, which keeps the spans in memory.
"""

from __future__ import annotations

import base64
import json
import pathlib
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats.notify.v1 import notify_pb2, notify_pb2_grpc
from cdrstats_cli import demo
from cdrstats_common.cdr import new_cdr
from cdrstats_common.healthcheck import check_grpc
from cdrstats_common.testing import ServiceProcess, free_port, wait_for
from cdrstats_common.testing_receivers import SmtpCapture

pytestmark = pytest.mark.integration


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP trace receiver keeping every span with its process's service name."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        with self.lock:
            for resource_spans in request.resource_spans:
                attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            {
                                "service": attributes.get("service.name", ""),
                                "process": attributes.get("cdrstats.process", ""),
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_id": span.parent_span_id.hex(),
                            }
                        )
        return trace_service_pb2.ExportTraceServiceResponse()

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.spans)


@pytest.fixture
def collector() -> Iterator[tuple[Collector, int]]:
    servicer = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield servicer, port
    server.stop(0)


def post(http_port: int, document: dict[str, Any]) -> dict[str, Any]:
    """POST one mod_json_cdr document to ingest's receiver as switch fs1."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{http_port}/v1/freeswitch/json",
        data=json.dumps(document).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(b"fs1:k3y-for-tracing").decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        reply: dict[str, Any] = json.loads(response.read())
    return reply


def chain(spans: Collector, leaf: str) -> list[dict[str, Any]] | None:
    """The first span named ``leaf`` and its ancestors, leaf first (as far as they have arrived)."""
    recorded = spans.snapshot()
    found = [s for s in recorded if s["name"] == leaf]
    if not found:
        return None
    by_id = {s["span_id"]: s for s in recorded}
    path = [found[0]]
    while path[-1]["parent_id"] in by_id:
        path.append(by_id[path[-1]["parent_id"]])
    return path


def test_one_posted_cdr_is_one_trace_through_ingest_amqp_and_reporting(
    tmp_path: pathlib.Path, amqp_url: str, collector: tuple[Collector, int]
) -> None:
    spans, collector_port = collector
    grpc_port, http_port = free_port(), free_port()
    env = {
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "AMQP_URL": amqp_url,
        "CDRSTATS_INGEST_HTTP_PORT": str(http_port),
        "CDRSTATS_ADMIN_PORT": "0",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector_port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    processes = [
        ServiceProcess(
            "cdrstats_ingest.api", {**env, "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{grpc_port}"}, str(tmp_path / "i.log")
        ),
        ServiceProcess("cdrstats_ingest.worker", env, str(tmp_path / "iw.log")),
        ServiceProcess(
            "cdrstats_reporting.worker",
            {**env, "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{free_port()}"},
            str(tmp_path / "rw.log"),
        ),
    ]
    try:
        wait_for(lambda: check_grpc(f"127.0.0.1:{grpc_port}"), what="ingest api health")
        for worker in processes[1:]:
            wait_for(lambda w=worker: "worker started" in w.log_text(), what="worker start")  # type: ignore[misc]
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            ingest_pb2_grpc.IngestServiceStub(channel).UpsertSwitch(
                ingest_pb2.UpsertSwitchRequest(
                    switch=ingest_pb2.Switch(id="fs1", username="fs1", enabled=True), password="k3y-for-tracing"
                )
            )
        document = demo.freeswitch_json_document(
            new_cdr(
                switch_id="fs1",
                uuid=str(uuid.uuid4()),
                destination_number="+442071838750",
                start_time_us=1_764_000_000_000_000,
                end_time_us=1_764_000_010_000_000,
                duration_ms=10_000,
                hangup_cause=17,
            )
        )
        assert post(http_port, document)["status"] == "accepted"

        wait_for(
            lambda: (chain(spans, "reporting.on_cdrs_ingested") or [{}])[-1].get("process") == "api",
            timeout_s=30,
            what="the whole trace",
        )
        path = chain(spans, "reporting.on_cdrs_ingested")
        assert path is not None
        assert [(s["service"], s["process"]) for s in path] == [
            ("cdrstats-reporting", "worker"),
            ("cdrstats-ingest", "worker"),
            ("cdrstats-ingest", "api"),
        ]
        assert path[1]["name"] == "cdrs_ingested publish"
        assert path[2]["parent_id"] == ""  # the switch's request is the root
        assert len({s["trace_id"] for s in path}) == 1
    finally:
        codes = [process.stop() for process in processes]
    assert codes == [0, 0, 0]


@pytest.fixture
def mailbox() -> Iterator[SmtpCapture]:
    with SmtpCapture() as smtp:
        yield smtp


def test_a_black_listed_call_is_one_trace_from_the_post_to_the_email(
    tmp_path: pathlib.Path, amqp_url: str, collector: tuple[Collector, int], mailbox: SmtpCapture
) -> None:
    spans, collector_port = collector
    grpc_ports = {service: free_port() for service in ("ingest", "alerting", "notify")}
    http_port = free_port()
    env = {
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "AMQP_URL": amqp_url,
        "CDRSTATS_INGEST_HTTP_PORT": str(http_port),
        "CDRSTATS_ADMIN_PORT": "0",
        **{f"{service.upper()}_GRPC_ADDR": f"127.0.0.1:{port}" for service, port in grpc_ports.items()},
        "CDRSTATS_SMTP_HOST": "127.0.0.1",
        "CDRSTATS_SMTP_PORT": str(mailbox.port),
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector_port}",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    processes = []
    for service, port in grpc_ports.items():
        api_env = {**env, "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{port}"}
        processes.append(ServiceProcess(f"cdrstats_{service}.api", api_env, str(tmp_path / f"{service}-api.log")))
        processes.append(ServiceProcess(f"cdrstats_{service}.worker", env, str(tmp_path / f"{service}-worker.log")))
    try:
        for service, port in grpc_ports.items():
            wait_for(lambda p=port: check_grpc(f"127.0.0.1:{p}"), timeout_s=60, what=f"{service} api")  # type: ignore[misc]
            wait_for(lambda p=port: check_grpc(f"127.0.0.1:{p}", "worker"), timeout_s=60, what=f"{service} worker")  # type: ignore[misc]
        with (
            grpc.insecure_channel(f"127.0.0.1:{grpc_ports['ingest']}") as ingest,
            grpc.insecure_channel(f"127.0.0.1:{grpc_ports['alerting']}") as alerting,
            grpc.insecure_channel(f"127.0.0.1:{grpc_ports['notify']}") as notify,
        ):
            ingest_pb2_grpc.IngestServiceStub(ingest).UpsertSwitch(
                ingest_pb2.UpsertSwitchRequest(
                    switch=ingest_pb2.Switch(id="fs1", username="fs1", home_country="GB", enabled=True),
                    password="k3y-for-tracing",
                )
            )
            alerting_pb2_grpc.AlertingServiceStub(alerting).CreateListEntries(
                alerting_pb2.CreateListEntriesRequest(
                    scope=alerting_pb2.Scope(admin=True),
                    entries=[alerting_pb2.ListEntry(list="black", prefix="4490", note="premium rate")],
                    **{"global": True},  # a Python keyword: the field is set by name
                )
            )
            notify_pb2_grpc.NotifyServiceStub(notify).SaveContacts(
                notify_pb2.SaveContactsRequest(
                    scope=notify_pb2.Scope(admin=True),
                    contacts=notify_pb2.Contacts(owner="", emails=["fraud@example.com"]),
                )
            )
        document = demo.freeswitch_json_document(
            new_cdr(
                switch_id="fs1",
                uuid=str(uuid.uuid4()),
                direction="outbound",
                destination_number="+449098765432",
                start_time_us=1_764_000_000_000_000,
                end_time_us=1_764_000_010_000_000,
                duration_ms=10_000,
                hangup_cause=17,
            )
        )
        assert post(http_port, document)["status"] == "accepted"

        def whole() -> bool:
            return (chain(spans, "smtp send") or [{}])[-1].get("process") == "api"

        try:
            wait_for(whole, timeout_s=45, what="the trace from the POST to the e-mail")
        except AssertionError as exc:
            logs = "\n".join(f"--- {p.module}\n{p.log_text()[-2000:]}" for p in processes)
            raise AssertionError(
                f"{exc}\nspan names: {sorted({s['name'] for s in spans.snapshot()})}\n{logs}"
            ) from None
        path = chain(spans, "smtp send")
        assert path is not None
        assert [(s["service"], s["process"]) for s in path] == [
            ("cdrstats-notify", "worker"),  # smtp send
            ("cdrstats-notify", "worker"),  # notify.on_destination_alert
            ("cdrstats-alerting", "worker"),  # destination_alert publish
            ("cdrstats-alerting", "worker"),  # alerting.on_cdrs_ingested
            ("cdrstats-ingest", "worker"),  # cdrs_ingested publish
            ("cdrstats-ingest", "api"),  # the switch's POST
        ], path
        assert [s["name"] for s in path[1:5]] == [
            "notify.on_destination_alert",
            "destination_alert publish",
            "alerting.on_cdrs_ingested",
            "cdrs_ingested publish",
        ]
        assert path[-1]["parent_id"] == ""  # the switch's request is the root
        assert len({s["trace_id"] for s in path}) == 1
        assert [mail.recipients for mail in mailbox.mails] == [("fraud@example.com",)]
    finally:
        codes = [process.stop() for process in processes]
    assert codes == [0] * len(processes)
