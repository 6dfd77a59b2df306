"""ingest api + worker as real processes: a FreeSWITCH POST becomes a cdrs_ingested event on RabbitMQ."""

from __future__ import annotations

import base64
import json
import pathlib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator

import grpc
import kombu
import pytest

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_cli import demo
from cdrstats_common.cdr import new_cdr
from cdrstats_common.healthcheck import check_grpc
from cdrstats_common.testing import ServiceProcess, free_port, wait_for

pytestmark = pytest.mark.integration
SWITCH_KEY = "s3cret-key"


class Ingest:
    def __init__(self, tmp_path: pathlib.Path, amqp_url: str) -> None:
        self.http_port, self.grpc_port = free_port(), free_port()
        self.env = {
            "CDRSTATS_DATA_DIR": str(tmp_path),
            "AMQP_URL": amqp_url,
            "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{self.grpc_port}",
            "CDRSTATS_INGEST_HTTP_PORT": str(self.http_port),
            "CDRSTATS_INGEST_MAX_BODY_BYTES": "65536",
        }
        self.logs = tmp_path
        self.api_admin_port, self.worker_admin_port = free_port(), free_port()
        self.api = ServiceProcess(
            "cdrstats_ingest.api",
            {**self.env, "CDRSTATS_ADMIN_PORT": str(self.api_admin_port)},
            str(tmp_path / "api.log"),
        )
        self.worker: ServiceProcess | None = None
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")
        self.stub = ingest_pb2_grpc.IngestServiceStub(self.channel)
        wait_for(lambda: check_grpc(f"127.0.0.1:{self.grpc_port}"), what="ingest api health")
        self.stub.UpsertSwitch(
            ingest_pb2.UpsertSwitchRequest(
                switch=ingest_pb2.Switch(id="fs1", username="fs1", home_country="US", enabled=True),
                password=SWITCH_KEY,
            )
        )

    def start_worker(self, amqp_url: str | None = None) -> None:
        env = {**self.env, "CDRSTATS_ADMIN_PORT": str(self.worker_admin_port)}
        if amqp_url:
            env["AMQP_URL"] = amqp_url
        self.worker = ServiceProcess("cdrstats_ingest.worker", env, str(self.logs / "worker.log"))
        worker = self.worker
        wait_for(
            lambda: "worker started" in worker.log_text().split("stopping on signal")[-1], what="ingest worker start"
        )

    def status(self) -> ingest_pb2.IngestStatus:
        return self.stub.GetStatus(ingest_pb2.GetStatusRequest(), timeout=5)

    def post(
        self,
        body: bytes,
        *,
        user: str = "fs1",
        password: str = SWITCH_KEY,
        content_type: str = "application/json",
        query: str = "",
    ) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/v1/freeswitch/json{query}",
            data=body,
            method="POST",
            headers={
                "Content-Type": content_type,
                "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def close(self) -> None:
        self.channel.close()
        codes = [self.api.stop()] + ([self.worker.stop()] if self.worker else [])
        assert codes == [0] * len(codes), f"unclean exit: {codes}"


@pytest.fixture
def ingest(tmp_path: pathlib.Path, amqp_url: str) -> Iterator[Ingest]:
    service = Ingest(tmp_path, amqp_url)
    yield service
    service.close()


def cdr_document(**overrides: object) -> dict[str, object]:
    values: dict[str, object] = {
        "switch_id": "fs1",
        "uuid": str(uuid.uuid4()),
        "call_id": "abc@10.0.0.1",
        "direction": "outbound",
        "caller_id_number": "+14155550100",
        "caller_id_name": "Sales",
        "destination_number": "+442071838750",
        "accountcode": "acme",
        "start_time_us": 1_764_000_000_000_000,
        "answer_time_us": 1_764_000_003_000_000,
        "end_time_us": 1_764_000_063_000_000,
        "duration_ms": 63_000,
        "billsec_ms": 60_000,
        "pdd_ms": 2_000,
        "hangup_cause": 16,
        "sip_code": 200,
        "read_codec": "PCMA",
        "write_codec": "PCMA",
    }
    values.update(overrides)
    return demo.freeswitch_json_document(new_cdr(**values))


def bind_queue(amqp_url: str) -> tuple[kombu.Connection, kombu.SimpleQueue]:
    connection = kombu.Connection(amqp_url)
    exchange = kombu.Exchange("ingest.events", type="topic", durable=True)
    queue = kombu.Queue("test-cdrs", exchange=exchange, routing_key="cdrs_ingested", durable=False, auto_delete=True)
    return connection, connection.SimpleQueue(queue)


def test_post_is_stored_once_and_published(ingest: Ingest, amqp_url: str) -> None:
    connection, queue = bind_queue(amqp_url)
    ingest.start_worker()
    document = cdr_document()
    body = json.dumps(document).encode()
    status, reply = ingest.post(body)
    assert status == 200 and reply["status"] == "accepted"
    status, again = ingest.post(body)
    assert status == 200 and again == {"status": "duplicate", "id": reply["id"]}
    # the cdr= form body of mod_json_cdr's encode=true is the same leg
    form = ("cdr=" + urllib.parse.quote(body.decode(), safe="")).encode()
    status, third = ingest.post(form, content_type="application/x-www-form-urlencoded")
    assert status == 200 and third["status"] == "duplicate"

    message = queue.get(timeout=10)
    envelope = message.payload
    message.ack()
    assert envelope["schema"] == "cdrstats.cdrs_ingested.v1" and envelope["source"] == "ingest"
    [cdr] = envelope["data"]["cdrs"]
    assert cdr["id"] == reply["id"] and cdr["uuid"] == document["variables"]["uuid"]
    assert (cdr["billsec_ms"], cdr["country"], cdr["accountcode"]) == (60_000, "GB", "acme")
    with pytest.raises(queue.Empty):
        queue.get(timeout=1)  # the duplicates published nothing
    wait_for(lambda: ingest.status().outbox_pending == 0, what="outbox drained")
    assert ingest.status().cdrs_stored == 1
    queue.close()
    connection.release()


@pytest.mark.parametrize(
    ("body", "credentials", "status", "error", "mentions"),
    [
        (b"{not json", ("fs1", SWITCH_KEY), 400, "invalid_cdr", "JSON"),
        (b"[1, 2]", ("fs1", SWITCH_KEY), 400, "invalid_cdr", "object"),
        (None, ("fs1", "wrong"), 401, "bad_credentials", "fs1"),
        (None, ("ghost", SWITCH_KEY), 401, "unknown_switch", "ghost"),
        (b"{" + b'"a":"' + b"x" * 70_000 + b'"}', ("fs1", SWITCH_KEY), 413, "too_large", "65536"),
    ],
)
def test_bad_input_is_refused_with_a_reason(
    ingest: Ingest, body: bytes | None, credentials: tuple[str, str], status: int, error: str, mentions: str
) -> None:
    payload = body if body is not None else json.dumps(cdr_document()).encode()
    code, reply = ingest.post(payload, user=credentials[0], password=credentials[1])
    assert (code, reply["error"]) == (status, error)
    assert mentions in str(reply["message"])
    assert ingest.status().cdrs_stored == 0


def test_missing_uuid_and_start_are_named(ingest: Ingest) -> None:
    document = cdr_document()
    variables = document["variables"]
    assert isinstance(variables, dict)
    del variables["uuid"]
    for section in document["callflow"]:  # type: ignore[attr-defined]
        section["caller_profile"].pop("uuid")
    code, reply = ingest.post(json.dumps(document).encode())
    assert code == 400 and "uuid" in str(reply["message"])
    document = cdr_document()
    del document["variables"]["start_uepoch"]  # type: ignore[attr-defined]
    code, reply = ingest.post(json.dumps(document).encode())
    assert code == 400 and "start" in str(reply["message"])
    assert ingest.status().cdrs_stored == 0


def test_broker_down_keeps_accepting_and_relays_later(ingest: Ingest, amqp_url: str) -> None:
    ingest.start_worker(amqp_url=f"amqp://guest:guest@127.0.0.1:{free_port()}/")  # nothing listens there
    for _ in range(3):
        status, _reply = ingest.post(json.dumps(cdr_document()).encode())
        assert status == 200
    assert ingest.status().outbox_pending == 1 * 3
    assert ingest.worker is not None and ingest.worker.stop() == 0
    connection, queue = bind_queue(amqp_url)
    ingest.start_worker()
    received = [queue.get(timeout=10).payload for _ in range(3)]
    assert sorted(len(e["data"]["cdrs"]) for e in received) == [1, 1, 1]
    wait_for(lambda: ingest.status().outbox_pending == 0, what="outbox drained after the broker came back")
    queue.close()
    connection.release()


def admin_get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metric(text: str, name: str) -> float:
    """The value of one sample line (name with labels, exactly as exposed)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not exposed")


def test_admin_ports_expose_health_and_metrics(ingest: Ingest) -> None:
    ingest.start_worker()
    body = json.dumps(cdr_document()).encode()
    assert ingest.post(body)[0] == 200
    assert ingest.post(body)[0] == 200
    assert ingest.post(b"{broken")[0] == 400
    status, text = admin_get(ingest.api_admin_port, "/metrics")
    assert status == 200
    for result, count in (("accepted", 1), ("duplicate", 1), ("rejected", 1)):
        assert metric(text, f'cdrstats_cdrs_total{{result="{result}",source="freeswitch_json"}}') == count
    assert admin_get(ingest.api_admin_port, "/healthz") == (200, "ok\n")
    assert admin_get(ingest.api_admin_port, "/nope")[0] == 404

    def relayed() -> bool:
        text = admin_get(ingest.worker_admin_port, "/metrics")[1]
        published = 'cdrstats_events_published_total{event_type="cdrs_ingested"}'
        return published in text and metric(text, published) == 1 and metric(text, "cdrstats_outbox_pending") == 0

    wait_for(relayed, what="the worker's metrics showing the relayed event")
    wait_for(lambda: admin_get(ingest.worker_admin_port, "/healthz")[0] == 200, what="worker /healthz")
