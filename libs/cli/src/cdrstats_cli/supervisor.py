"""Start, watch and stop every CDR-Stats process of a one-machine run.

Each api/worker/gateway is a child process with its log under <data>/log/. A child
that dies is restarted (at most 5 times a minute); SIGINT/SIGTERM stops them all,
SIGTERM first, SIGKILL after 15 s.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import time
from typing import IO

from cdrstats_cli.config import SERVICES, RunConfig, Secrets

log = logging.getLogger(__name__)

STOP_GRACE_S = 15.0
MAX_RESTARTS_PER_MINUTE = 5


@dataclasses.dataclass
class ProcessSpec:
    name: str
    module: str
    env: dict[str, str]


def process_specs(config: RunConfig, secrets: Secrets, mail_catcher_port: int = 0) -> list[ProcessSpec]:
    """Each process's environment (on top of the supervisor's own, which an operator's settings come from).

    ``mail_catcher_port``: where the local SMTP catcher listens, when the operator set no
    ``CDRSTATS_SMTP_HOST``; notify mails go there.
    """
    common = {
        "CDRSTATS_DATA_DIR": str(config.data_dir),
        "AMQP_URL": config.amqp_url,
        "CDRSTATS_LOG_LEVEL": config.log_level,
        "PYTHONUNBUFFERED": "1",
        **{f"{service.upper()}_GRPC_ADDR": config.grpc_addr(service) for service in SERVICES},
    }
    specs: list[ProcessSpec] = []
    for service in SERVICES:
        api_env = {**common, "CDRSTATS_GRPC_LISTEN": config.grpc_addr(service)}
        if service == "ingest":
            api_env["CDRSTATS_INGEST_HTTP_PORT"] = str(config.ingest_http_port)
            api_env.setdefault("CDRSTATS_INGEST_PUBLIC_URL", f"http://127.0.0.1:{config.ingest_http_port}")
        extra = _service_env(service, config, secrets, mail_catcher_port)
        specs.append(ProcessSpec(f"{service}-api", f"cdrstats_{service}.api", {**api_env, **extra}))
        specs.append(ProcessSpec(f"{service}-worker", f"cdrstats_{service}.worker", {**common, **extra}))
    gateway_env = {
        **common,
        "CDRSTATS_HTTP_PORT": str(config.http_port),
        "CDRSTATS_ADMIN_PASSWORD": secrets.admin_password,
        "CDRSTATS_SECRET_KEY": secrets.secret_key,
        "CDRSTATS_STARTUP_MARKER": str(config.startup_marker),
        # plain HTTP on loopback: a browser would drop a Secure cookie; behind TLS leave it true
        "CDRSTATS_COOKIE_SECURE": "false",
    }
    specs.append(ProcessSpec("gateway", "cdrstats_gateway", gateway_env))
    return specs


def _service_env(service: str, config: RunConfig, secrets: Secrets, mail_catcher_port: int) -> dict[str, str]:
    """Settings only alerting and notify read: links to the gateway, webhook signing, mail."""
    env: dict[str, str] = {}
    if service in ("alerting", "notify"):
        env["CDRSTATS_PUBLIC_URL"] = config.link_url
    if service == "notify":
        env["CDRSTATS_WEBHOOK_SECRET"] = secrets.webhook_secret
        if not config.smtp_host and mail_catcher_port:
            env |= {
                "CDRSTATS_SMTP_HOST": "127.0.0.1",
                "CDRSTATS_SMTP_PORT": str(mail_catcher_port),
                "CDRSTATS_SMTP_SECURITY": "none",
            }
    return env


#: logs hold no secrets (tests/integration/security) but do hold usernames, switch ids and client
#: addresses: readable by the owner and its group (a log shipper), not by every local user
LOG_MODE = 0o640


def open_log(path: str | os.PathLike[str]) -> IO[bytes]:
    """Append to ``path``, created with LOG_MODE; an existing file loses its bits for others."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, LOG_MODE)
    os.fchmod(fd, os.fstat(fd).st_mode & LOG_MODE)
    return os.fdopen(fd, "ab")


class Child:
    def __init__(self, spec: ProcessSpec, log_dir: os.PathLike[str]) -> None:
        self.spec = spec
        self.log_path = os.path.join(log_dir, f"{spec.name}.log")
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts: list[float] = []
        self._log_file: IO[bytes] | None = None

    def start(self) -> None:
        self._log_file = open_log(self.log_path)  # kept open for the child's life
        env = {**os.environ, **self.spec.env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.spec.module],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor only; it stops children in order
        )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


class Supervisor:
    def __init__(self, specs: list[ProcessSpec], log_dir: os.PathLike[str]) -> None:
        os.makedirs(log_dir, exist_ok=True)
        self.children = [Child(spec, log_dir) for spec in specs]
        self.stopping = False

    def start_all(self) -> None:
        for child in self.children:
            child.start()
            log.info(
                "started %s (pid %s), log %s", child.spec.name, child.process and child.process.pid, child.log_path
            )

    def check_children(self) -> None:
        """Restart a child that died; give up (raise) when it keeps dying."""
        now = time.monotonic()
        for child in self.children:
            code = child.exited()
            if code is None or self.stopping:
                continue
            child.restarts = [t for t in child.restarts if now - t < 60] + [now]
            if len(child.restarts) > MAX_RESTARTS_PER_MINUTE:
                raise RuntimeError(f"{child.spec.name} keeps exiting (code {code}); see {child.log_path}")
            log.warning("%s exited with code %s; restarting (log %s)", child.spec.name, code, child.log_path)
            child.close_log()
            child.start()

    def stop_all(self) -> None:
        self.stopping = True
        # the gateway first, then apis and workers
        for child in reversed(self.children):
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s; killing it", child.spec.name, STOP_GRACE_S)
                child.signal(signal.SIGKILL)
                child.process.wait()
            child.close_log()
