"""The whole product as ``cdrstats run`` starts it, with handles to break it: kill -9 one child, stop it all.

Children are found by their parent (this run's supervisor) and their module, so other runs on the machine
are never touched. After a kill the supervisor starts the child again; ``kill`` returns once the new one
answers its health check (an api's gRPC health, a worker's fresh heartbeat after a new "worker started"
line, ingest's HTTP receiver, the gateway's HTTP port: its /healthz is readiness, 503 while reporting lags).
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from cdrstats_common.healthcheck import check_grpc, check_http
from cdrstats_common.testing import free_port, wait_for

SERVICES = ("ingest", "reporting", "alerting", "notify")
CHILDREN = (*(f"{s}-{role}" for s in SERVICES for role in ("api", "worker")), "gateway")
RECOVER_TIMEOUT_S = 90.0


def _grpc_base() -> int:
    """Four consecutive free ports (``cdrstats run`` puts the services' gRPC ports side by side)."""
    while True:
        base = free_port()
        if base + 4 < 32_000 and all(_free(base + i) for i in range(1, 4)):
            return base


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Product:
    def __init__(self, data_dir: pathlib.Path, amqp_url: str, smtp_port: int, **env: str) -> None:
        self.data_dir = data_dir
        self.http_port, self.ingest_port, self.grpc_base = free_port(), free_port(), _grpc_base()
        self.admin_password = secrets.token_urlsafe(12)
        self.env = {
            **os.environ,
            "CDRSTATS_DATA_DIR": str(data_dir),
            "CDRSTATS_HTTP_PORT": str(self.http_port),
            "CDRSTATS_INGEST_HTTP_PORT": str(self.ingest_port),
            "CDRSTATS_GRPC_PORT_BASE": str(self.grpc_base),
            "AMQP_URL": amqp_url,
            "CDRSTATS_DEMO": "0",
            "CDRSTATS_ADMIN_PASSWORD": self.admin_password,
            "CDRSTATS_SMTP_HOST": "127.0.0.1",
            "CDRSTATS_SMTP_PORT": str(smtp_port),
            "CDRSTATS_SMTP_SECURITY": "none",
            "CDRSTATS_MAIL_FROM": "cdr-stats@faults.test",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""  # an API token once the test made one: argon2 checks basic auth on every call

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def grpc_addr(self, service: str) -> str:
        return f"127.0.0.1:{self.grpc_base + SERVICES.index(service)}"

    # -- the whole run ------------------------------------------------------------------------------
    def start(self, *, ready: bool = True) -> float:
        """Start ``cdrstats run``; wait until /healthz says ready (everything caught up) or, with ``ready``
        False, until every process answers (under load the gateway is not "ready" while reporting lags)."""
        logs = self.log_sizes()
        started = time.monotonic()
        with open(self.data_dir / "run-stdout.log", "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cdrstats_cli.main", "run"], env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        up = self._gateway_ready if ready else lambda: self.all_healthy(logs)
        wait_for(up, timeout_s=180, interval_s=0.3, what="the product's processes")
        return time.monotonic() - started

    def stop(self) -> tuple[int, float]:
        """SIGINT, as Ctrl-C: the supervisor stops every child in order. Returns (exit code, seconds)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=90)
        self.process = None
        return code, time.monotonic() - started

    def _gateway_ready(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.output()
        return check_http(f"{self.url}/healthz")

    def gateway_answers(self) -> bool:
        """The gateway serves HTTP (its /healthz may still say 503: not caught up yet)."""
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=3):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False

    def output(self) -> str:
        return (self.data_dir / "run-stdout.log").read_text(errors="replace")[-4000:]

    def log(self, child: str) -> pathlib.Path:
        return self.data_dir / "log" / f"{child}.log"

    # -- children -----------------------------------------------------------------------------------
    def children(self) -> dict[str, int]:
        """{child name: pid} of this run's supervisor's children."""
        assert self.process is not None
        found: dict[str, int] = {}
        for entry in pathlib.Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) != self.process.pid or b"-m" not in argv:
                continue
            module = argv[argv.index(b"-m") + 1].decode()
            name = "gateway" if module == "cdrstats_gateway" else module.removeprefix("cdrstats_").replace(".", "-")
            found[name] = int(entry.name)
        return found

    def kill(self, child: str) -> float:
        """kill -9 ``child``; returns the seconds until its successor answers its health check."""
        old = self.children()[child]
        log_size = self.log(child).stat().st_size
        started = time.monotonic()
        os.kill(old, signal.SIGKILL)
        wait_for(
            lambda: self.children().get(child, old) != old, timeout_s=30, interval_s=0.1, what=f"{child} restarted"
        )
        wait_for(lambda: self.healthy(child, log_size), timeout_s=RECOVER_TIMEOUT_S, interval_s=0.2, what=child)
        return time.monotonic() - started

    def healthy(self, child: str, log_from: int = 0) -> bool:
        if child == "gateway":
            return self.gateway_answers()
        service, role = child.split("-")
        if role == "worker":
            with open(self.log(child), "rb") as handle:
                handle.seek(log_from)
                if b"worker started" not in handle.read():
                    return False
            return check_grpc(self.grpc_addr(service), "worker")
        if not check_grpc(self.grpc_addr(service)):
            return False
        return service != "ingest" or check_http(f"http://127.0.0.1:{self.ingest_port}/healthz")

    def all_healthy(self, log_from: dict[str, int] | None = None) -> bool:
        """Every child answers; workers must have logged "worker started" after ``log_from`` (their log sizes)."""
        return all(self.healthy(child, (log_from or {}).get(child, 0)) for child in CHILDREN)

    def log_sizes(self) -> dict[str, int]:
        return {child: self.log(child).stat().st_size if self.log(child).exists() else 0 for child in CHILDREN}

    # -- REST as the admin --------------------------------------------------------------------------
    def api(self, method: str, path: str, body: Any = None, *, timeout_s: float = 30.0) -> Any:
        auth = (
            "Bearer " + self.token
            if self.token
            else "Basic " + base64.b64encode(f"admin:{self.admin_password}".encode()).decode()
        )
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": auth, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                text = response.read()
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None
        return json.loads(text) if text else None
