"""The back end as real processes for the pipeline tests (notify's far ends are cdrstats_common.testing_receivers)."""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import pathlib
import subprocess
import time
import urllib.request
import uuid
from typing import Any

import grpc
from prometheus_client.parser import text_string_to_metric_families

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats.notify.v1 import notify_pb2_grpc
from cdrstats_cli import demo
from cdrstats_common.cdr import new_cdr
from cdrstats_common.healthcheck import check_grpc
from cdrstats_common.testing import ServiceProcess, free_port, wait_for

SERVICES = ("ingest", "reporting", "alerting", "notify")
SWITCH_KEY = "pipeline-switch-key"
WEBHOOK_SECRET = "pipeline-webhook-secret"
PUBLIC_URL = "http://cdr-stats.test:8080"
ADMIN = alerting_pb2.Scope(admin=True)


class Pipeline:
    """ingest, reporting, alerting and notify (api + worker each) on one vhost, SQLite stores in ``data``."""

    def __init__(self, data: pathlib.Path, amqp_url: str, smtp_port: int, **extra_env: str) -> None:
        self.data = data
        self.grpc = {service: f"127.0.0.1:{free_port()}" for service in SERVICES}
        self.http_port = free_port()
        self.env = {
            "CDRSTATS_DATA_DIR": str(data),
            "AMQP_URL": amqp_url,
            "CDRSTATS_ADMIN_PORT": "0",
            **{f"{service.upper()}_GRPC_ADDR": address for service, address in self.grpc.items()},
            "CDRSTATS_INGEST_HTTP_PORT": str(self.http_port),
            "CDRSTATS_ALARM_INTERVAL_S": "1",
            "CDRSTATS_PUBLIC_URL": PUBLIC_URL,
            "CDRSTATS_SMTP_HOST": "127.0.0.1",
            "CDRSTATS_SMTP_PORT": str(smtp_port),
            "CDRSTATS_SMTP_SECURITY": "none",
            "CDRSTATS_MAIL_FROM": "cdr-stats@pipeline.test",
            "CDRSTATS_WEBHOOK_SECRET": WEBHOOK_SECRET,
            **extra_env,
        }
        self.processes: dict[str, ServiceProcess] = {}
        self.admin_ports: dict[str, int] = {}
        self.channels: list[grpc.Channel] = []

    def start(self) -> None:
        for service in SERVICES:
            for role in ("api", "worker"):
                env = dict(self.env)
                if role == "api":
                    env["CDRSTATS_GRPC_LISTEN"] = self.grpc[service]
                name = f"{service}-{role}"
                self.admin_ports[name] = free_port()
                env["CDRSTATS_ADMIN_PORT"] = str(self.admin_ports[name])
                self.processes[name] = ServiceProcess(f"cdrstats_{service}.{role}", env, str(self.data / f"{name}.log"))
        for service in SERVICES:
            address = self.grpc[service]
            wait_for(lambda a=address: check_grpc(a), timeout_s=60, what=f"{service}-api health")  # type: ignore[misc]
            wait_for(
                lambda a=address: check_grpc(a, "worker"),  # type: ignore[misc]
                timeout_s=60,
                what=f"{service}-worker heartbeat",
            )
        self.ingest.UpsertSwitch(
            ingest_pb2.UpsertSwitchRequest(
                switch=ingest_pb2.Switch(id="fs1", username="fs1", home_country="US", enabled=True),
                password=SWITCH_KEY,
            ),
            timeout=10,
        )

    def _channel(self, service: str) -> grpc.Channel:
        channel = grpc.insecure_channel(self.grpc[service])
        self.channels.append(channel)
        return channel

    @functools.cached_property
    def ingest(self) -> ingest_pb2_grpc.IngestServiceStub:
        return ingest_pb2_grpc.IngestServiceStub(self._channel("ingest"))

    @functools.cached_property
    def alerting(self) -> alerting_pb2_grpc.AlertingServiceStub:
        return alerting_pb2_grpc.AlertingServiceStub(self._channel("alerting"))

    @functools.cached_property
    def notify(self) -> notify_pb2_grpc.NotifyServiceStub:
        return notify_pb2_grpc.NotifyServiceStub(self._channel("notify"))

    def post_call(self, *, answered: bool, start_us: int, destination: str = "+14155550123") -> dict[str, Any]:
        """One finished call POSTed as FreeSWITCH's mod_json_cdr would; returns the receiver's reply."""
        billsec_ms = 42_000 if answered else 0
        cdr = new_cdr(
            switch_id="fs1",
            uuid=str(uuid.uuid4()),
            direction="outbound",
            caller_id_number="+14155550100",
            destination_number=destination,
            accountcode="acme",
            start_time_us=start_us,
            answer_time_us=start_us + 3_000_000 if answered else 0,
            end_time_us=start_us + 3_000_000 + billsec_ms * 1000,
            duration_ms=3_000 + billsec_ms,
            billsec_ms=billsec_ms,
            answered=answered,
            disposition="ANSWERED" if answered else "NO_ANSWER",
            hangup_cause=16 if answered else 19,
            sip_code=200 if answered else 480,
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}/v1/freeswitch/json?uuid={cdr['uuid']}",
            data=json.dumps(demo.freeswitch_json_document(cdr)).encode(),
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(f"fs1:{SWITCH_KEY}".encode()).decode(),
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            reply: dict[str, Any] = json.loads(response.read())
        return reply

    def metrics(self, process: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The process's Prometheus text from its admin port: {(sample name, sorted labels): value}."""
        url = f"http://127.0.0.1:{self.admin_ports[process]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def logs(self) -> str:
        """Every process's log tail, for a failing assertion's message."""
        return "\n".join(f"--- {name}\n{p.log_text()[-3000:]}" for name, p in self.processes.items())

    def stop(self) -> dict[str, int]:
        """SIGTERM to every process at once (each stops in about a second), then collect the exit codes."""
        for channel in self.channels:
            channel.close()
        for process in self.processes.values():
            process.process.terminate()
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):  # stop() below kills it and says so
                process.process.wait(timeout=20)
        return {name: process.stop() for name, process in self.processes.items()}


def now_us() -> int:
    return int(time.time() * 1_000_000)
