"""ingest api + worker as real processes: XML and JSON legs and call state end up on a real RabbitMQ vhost."""

from __future__ import annotations

import base64
import json
import pathlib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import kombu
import pytest

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_common.healthcheck import check_grpc
from cdrstats_common.testing import ServiceProcess, free_port, rabbitmq_vhost, wait_for
from cdrstats_ingest.store import open_store

pytestmark = pytest.mark.integration
DATA = pathlib.Path(__file__).resolve().parents[2] / "unit" / "ingest" / "data"
A_UUID = "6b8f3c0e-7d2a-4b6e-8c8e-1b2f4a9d7e01"
B_UUID = "9a0d2e57-3c41-4f88-b7a6-55e0c3d1f2aa"
KEYS = {"fs1": "key-one", "fs2": "key-two"}


class Ingest:
    """The api and worker processes of one test, with their own data dir and vhost."""

    def __init__(self, tmp_path: pathlib.Path, amqp_url: str) -> None:
        self.http_port, grpc_port = free_port(), free_port()
        self.store_url = f"sqlite:///{tmp_path / 'ingest.db'}"
        env = {
            "CDRSTATS_DATA_DIR": str(tmp_path),
            "AMQP_URL": amqp_url,
            "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{grpc_port}",
            "CDRSTATS_INGEST_HTTP_PORT": str(self.http_port),
        }
        self.api = ServiceProcess(
            "cdrstats_ingest.api", {**env, "CDRSTATS_ADMIN_PORT": str(free_port())}, str(tmp_path / "api.log")
        )
        self.worker = ServiceProcess(
            "cdrstats_ingest.worker", {**env, "CDRSTATS_ADMIN_PORT": str(free_port())}, str(tmp_path / "worker.log")
        )
        self.channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        self.stub = ingest_pb2_grpc.IngestServiceStub(self.channel)
        wait_for(lambda: check_grpc(f"127.0.0.1:{grpc_port}"), what="ingest api health")
        wait_for(lambda: "worker started" in self.worker.log_text(), what="ingest worker start")
        for switch_id, key in KEYS.items():
            self.stub.UpsertSwitch(
                ingest_pb2.UpsertSwitchRequest(
                    switch=ingest_pb2.Switch(id=switch_id, username=switch_id, home_country="US", enabled=True),
                    password=key,
                ),
                timeout=10,
            )

    def post(self, path: str, body: bytes, content_type: str, user: str = "fs1") -> tuple[int, dict[str, Any]]:
        auth = base64.b64encode(f"{user}:{KEYS[user]}".encode()).decode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}",
            data=body,
            method="POST",
            headers={"Content-Type": content_type, "Authorization": f"Basic {auth}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def close(self) -> None:
        self.channel.close()
        codes = [self.api.stop(), self.worker.stop()]
        assert codes == [0, 0], f"unclean exit: {codes}"


@pytest.fixture(scope="module")
def module_amqp_url() -> Iterator[str]:
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory, module_amqp_url: str) -> Iterator[Ingest]:
    """One api + worker pair for the module: starting them is most of each test's time."""
    service = Ingest(tmp_path_factory.mktemp("ingest"), module_amqp_url)
    yield service
    service.close()


@pytest.fixture
def events(module_amqp_url: str) -> Iterator[kombu.SimpleQueue]:
    """A queue bound to ingest.events for both event types (declared before anything is published)."""
    connection = kombu.Connection(module_amqp_url)
    exchange = kombu.Exchange("ingest.events", type="topic", durable=True)
    bindings = [kombu.binding(exchange, routing_key=key) for key in ("cdrs_ingested", "call_state")]
    queue = connection.SimpleQueue(kombu.Queue("test-push", bindings=bindings, durable=False, auto_delete=True))
    yield queue
    queue.close()
    connection.release()


def take(queue: kombu.SimpleQueue, count: int) -> list[dict[str, Any]]:
    received = []
    for _ in range(count):
        message = queue.get(timeout=15)
        received.append(message.payload)
        message.ack()
    return received


def json_b_leg() -> dict[str, Any]:
    """The sample A-leg turned into its B-leg, values percent-encoded as a default switch sends them."""
    doc: dict[str, Any] = json.loads((DATA / "json_cdr_answered_plain.json").read_text())
    variables = doc["variables"]
    variables.update(uuid=B_UUID, direction="outbound", originating_leg_uuid=A_UUID, callee_id_number="+12125550123")
    doc["variables"] = {k: urllib.parse.quote(v, safe="") for k, v in variables.items()}
    doc["channel_data"]["direction"] = "outbound"
    del doc["callflow"][0]["caller_profile"]["originatee"]
    return doc


def test_xml_json_and_call_state_are_published(ingest: Ingest, events: kombu.SimpleQueue) -> None:
    xml = (DATA / "xml_cdr_b_leg.xml").read_text()
    encoded = "cdr=" + urllib.parse.quote(xml, safe="")  # encode=true
    status, reply = ingest.post(
        f"/v1/freeswitch/xml?uuid={B_UUID}", encoded.encode(), "application/x-www-form-urlencoded"
    )
    assert (status, reply["status"]) == (200, "accepted")

    leg = json.dumps(json_b_leg()).encode()
    status, reply = ingest.post(f"/v1/freeswitch/json?uuid={B_UUID}", leg, "application/json", user="fs2")
    assert (status, reply["status"]) == (200, "accepted")

    call = {
        "event": "started",
        "uuid": A_UUID,
        "time": "2024-05-01T10:00:00.120033Z",
        "destination_number": "2125550123",
    }
    status, reply = ingest.post("/v1/switches/fs1/calls", json.dumps(call).encode(), "application/json")
    assert (status, reply) == (200, {"accepted": 1, "rejected": []})

    received = {(e["schema"], (e["data"].get("cdrs") or [e["data"]])[0]["switch_id"]): e for e in take(events, 3)}
    xml_cdr = received[("cdrstats.cdrs_ingested.v1", "fs1")]["data"]["cdrs"][0]
    assert (xml_cdr["source"], xml_cdr["uuid"], xml_cdr["linked_id"]) == ("freeswitch_xml", B_UUID, A_UUID)
    assert (xml_cdr["billsec_ms"], xml_cdr["country"], xml_cdr["extra"]["export_vars"]) == (17428, "US", "'A&B' <>")
    json_cdr = received[("cdrstats.cdrs_ingested.v1", "fs2")]["data"]["cdrs"][0]
    assert (json_cdr["source"], json_cdr["uuid"], json_cdr["linked_id"]) == ("freeswitch_json", B_UUID, A_UUID)
    assert (json_cdr["direction"], json_cdr["caller_id_number"]) == ("outbound", "+14155550100")
    state = received[("cdrstats.call_state.v1", "fs1")]["data"]
    assert state == {
        "switch_id": "fs1",
        "uuid": A_UUID,
        "event": "started",
        "time_us": 1714557600120033,
        "caller_id_number": "",
        "destination_number": "2125550123",
        "destination_e164": "+12125550123",
        "country": "US",
        "accountcode": "",
        "direction": "",
    }


def test_refusals_publish_nothing_and_keep_the_bad_cdr(ingest: Ingest, events: kombu.SimpleQueue) -> None:
    status, reply = ingest.post("/v1/freeswitch/xml", b"cdr=%3Ccdr%3E%3Cbroken", "application/x-www-form-urlencoded")
    assert (status, reply["error"]) == (400, "invalid_cdr")
    call = json.dumps({"event": "ended", "uuid": "x"}).encode()
    status, reply = ingest.post("/v1/switches/fs1/calls", call, "application/json", user="fs2")
    assert (status, reply["error"]) == (403, "forbidden")
    with pytest.raises(events.Empty):
        events.get(timeout=2)
    store = open_store(ingest.store_url)  # the api's own SQLite file, read from here
    try:
        rejects = store.list_rejects("fs1")
    finally:
        store.close()
    assert [(r.record.source, r.record.raw) for r in rejects] == [("freeswitch_xml", "cdr=%3Ccdr%3E%3Cbroken")]
    assert "not well-formed XML" in rejects[0].record.reason
