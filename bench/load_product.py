"""The product under bench_load.py: `cdrstats run` in its own data dir, ports and vhost; its processes.

Start-up, the admin REST calls the bench needs (switches, API tokens), the ingest and
reporting counters over gRPC, and per-process memory and CPU from /proc.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import grpc
from load_traffic import Switch, User

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats.reporting.v1 import reporting_pb2, reporting_pb2_grpc
from cdrstats_common.testing import free_port, wait_for

#: (home country, account codes) of the bench's switches, in turn; acme is the demo customer's code
SWITCH_PROFILES = (
    ("US", ("acme", "globex")),
    ("GB", ("initech",)),
    ("FR", ("umbrella", "hooli")),
    ("US", ("acme", "stark")),
)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _grpc_base() -> int:
    """Four consecutive free ports (`cdrstats run` puts ingest, reporting, alerting, notify there)."""
    while True:
        base = free_port()
        if not any(_busy(base + i) for i in range(4)):
            return base


class Product:
    """`python -m cdrstats_cli.main run` with demo data; the process is the supervisor of every service."""

    def __init__(self, data_dir: pathlib.Path, amqp_url: str, log_level: str) -> None:
        self.data_dir = data_dir
        http_port, ingest_port, grpc_base = free_port(), free_port(), _grpc_base()
        self.gateway_url = f"http://127.0.0.1:{http_port}"
        self.ingest_url = f"http://127.0.0.1:{ingest_port}"
        self.ingest_addr = f"127.0.0.1:{grpc_base}"
        self.reporting_addr = f"127.0.0.1:{grpc_base + 1}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CDRSTATS_")},
            "CDRSTATS_DATA_DIR": str(data_dir),
            "CDRSTATS_HTTP_PORT": str(http_port),
            "CDRSTATS_INGEST_HTTP_PORT": str(ingest_port),
            "CDRSTATS_GRPC_PORT_BASE": str(grpc_base),
            "CDRSTATS_LOG_LEVEL": log_level,
            "AMQP_URL": amqp_url,
            "PYTHONUNBUFFERED": "1",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self._reporting: reporting_pb2_grpc.ReportingServiceStub | None = None

    def start(self, timeout_s: float = 900) -> float:
        """Seconds until the gateway's /healthz answers 200 (demo data loaded and counted)."""
        started = time.monotonic()
        with open(self.data_dir / "run-stdout.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cdrstats_cli.main", "run"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(self._healthy, timeout_s=timeout_s, interval_s=0.5, what="gateway /healthz 200 after the demo load")
        return time.monotonic() - started

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise SystemExit(f"cdrstats run exited ({self.process.returncode}); see {self.data_dir}/run-stdout.log")
        try:
            with urllib.request.urlopen(f"{self.gateway_url}/healthz", timeout=5) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> int:
        if self.process is None:
            return 0
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    @property
    def secrets(self) -> dict[str, str]:
        return dict(json.loads((self.data_dir / "secrets.json").read_text()))

    # -- REST calls as admin ------------------------------------------------------------------

    def _call(self, method: str, path: str, user: str, password: str, body: Any = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the local gateway
            self.gateway_url + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Content-Type": "application/json",
                "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def register_switches(self, count: int) -> list[Switch]:
        """``count`` FreeSWITCH switches through POST /api/v1/switches, each with its own generated key."""
        admin = self.secrets["admin_password"]
        made = []
        for i in range(count):
            home, accounts = SWITCH_PROFILES[i % len(SWITCH_PROFILES)]
            body = {"id": f"load-fs-{i + 1:02d}", "name": f"Load FreeSWITCH {i + 1}", "type": "freeswitch"}
            reply = self._call(
                "POST", "/api/v1/switches", "admin", admin, {**body, "enabled": True, "home_country": home}
            )
            credentials = reply["credentials"]
            made.append(Switch(credentials["username"], credentials["password"], home, accounts))
        return made

    def users(self, count: int, *, with_tokens: bool) -> list[User]:
        """Admin and the demo customer in turn; API users get a bearer token each (POST /api/v1/tokens)."""
        secrets = self.secrets
        logins = (
            ("admin", "admin", secrets["admin_password"]),
            ("customer", "acme", secrets["demo_customer_password"]),
        )
        users = []
        for i in range(count):
            label, username, password = logins[i % 2]
            token = ""
            if with_tokens:
                token = self._call("POST", "/api/v1/tokens", username, password, {"name": f"load-{i}"})["token"]
            users.append(User(label, username, password, token))
        return users

    # -- counters over gRPC -------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """Ingest's stored CDRs and pending outbox, reporting's applied CDRs (read first: never ahead of stored)."""
        with grpc.insecure_channel(self.ingest_addr) as ingest, grpc.insecure_channel(self.reporting_addr) as reporting:
            applied = reporting_pb2_grpc.ReportingServiceStub(reporting).GetStatus(
                reporting_pb2.GetStatusRequest(), timeout=10
            )
            stored = ingest_pb2_grpc.IngestServiceStub(ingest).GetStatus(ingest_pb2.GetStatusRequest(), timeout=10)
        return {
            "cdrs_stored": stored.cdrs_stored,
            "outbox_pending": stored.outbox_pending,
            "cdrs_applied": applied.cdrs_applied,
        }

    def applied(self) -> int:
        """Reporting's applied-CDR count, on one channel kept open (the lag poll calls it every 10 ms)."""
        if self._reporting is None:
            self._reporting = reporting_pb2_grpc.ReportingServiceStub(grpc.insecure_channel(self.reporting_addr))
        return int(self._reporting.GetStatus(reporting_pb2.GetStatusRequest(), timeout=10).cdrs_applied)

    def api_total(self, path: str) -> int:
        return int(self._call("GET", path, "admin", self.secrets["admin_password"])["total"])

    # -- processes --------------------------------------------------------------------------------

    def processes(self) -> dict[str, int]:
        """Process name -> pid: the supervisor and its children (named as in <data>/log/)."""
        assert self.process is not None
        found = {"supervisor (cdrstats run)": self.process.pid}
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != self.process.pid or b"-m" not in cmdline:
                continue
            module = cmdline[cmdline.index(b"-m") + 1].decode()
            found[module.removeprefix("cdrstats_").replace(".", "-")] = int(entry.name)
        return found


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB."""
    values = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> bool:
    """Restart VmHWM from the current RSS (Linux >= 4.0), so the peak covers the load window only."""
    try:
        pathlib.Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK
