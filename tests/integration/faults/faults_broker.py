"""A RabbitMQ node of this test's own, so it can be stopped and started without touching the shared broker.

Debian's ``rabbitmq-server`` script is run directly (not through the ``su rabbitmq`` wrapper) with every
path under a temporary directory: its own node name, AMQP and distribution ports on 127.0.0.1, database,
logs, an empty plugin list, and its own Erlang cookie (``HOME`` is the temporary directory). Messages and
durable queues live in that database, so a restart keeps them, exactly as on a production broker.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import time
import uuid

from cdrstats_common.testing import free_port

BIN = pathlib.Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_S = 60.0


class PrivateBroker:
    def __init__(self, base: pathlib.Path) -> None:
        self.base = base
        self.node = f"cdrstats-faults-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        home = base / "home"
        home.mkdir(parents=True, exist_ok=True)
        for name in ("rabbitmq-env.conf", "enabled_plugins", "rabbitmq.conf"):
            (base / name).write_text("[].\n" if name == "enabled_plugins" else "")
        self.env = {
            **os.environ,
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(base / "node.pid"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_FLAGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"

    @staticmethod
    def available() -> bool:
        return (BIN / "rabbitmq-server").exists() and (BIN / "rabbitmqctl").exists()

    def ctl(self, *args: str, timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "rabbitmqctl"), "-q", "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def start(self) -> float:
        """Start the node and wait until it accepts AMQP; returns the seconds it took."""
        started = time.monotonic()
        subprocess.run([str(BIN / "rabbitmq-server"), "-detached"], env=self.env, check=True, timeout=30)
        deadline = started + START_TIMEOUT_S
        while time.monotonic() < deadline:
            # await_startup fails at once while the node is not registered with epmd yet: poll it
            if self.ctl("await_startup", timeout_s=30).returncode == 0:
                return time.monotonic() - started
            time.sleep(0.5)
        raise AssertionError(f"private RabbitMQ {self.node} did not start in {START_TIMEOUT_S} s; see {self.base}/log")

    def stop(self) -> float:
        """A clean broker shutdown (``rabbitmqctl stop``): connections drop, durable state is kept."""
        started = time.monotonic()
        result = self.ctl("stop", timeout_s=60)
        if result.returncode != 0:
            raise AssertionError(f"rabbitmqctl stop failed: {result.stderr or result.stdout}")
        return time.monotonic() - started

    def queues(self) -> dict[str, int]:
        """Every queue of the default vhost with its message count (ready + unacknowledged)."""
        result = self.ctl("list_queues", "name", "messages", timeout_s=30)
        counts: dict[str, int] = {}
        for line in result.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and parts[1].isdigit():
                counts[parts[0]] = int(parts[1])
        return counts

    def consumed(self, prefix: str = "evt-") -> bool:
        """Every event queue (``prefix``..., not the dead-letter ones) has a consumer again: the workers
        reconnected after a restart."""
        result = self.ctl("list_queues", "name", "consumers", timeout_s=30)
        rows = [line.split("\t") for line in result.stdout.splitlines()]
        queues = [
            (row[0], row[1])
            for row in rows
            if len(row) == 2 and row[0].startswith(prefix) and not row[0].endswith(".dead")
        ]
        return (
            result.returncode == 0 and bool(queues) and all(count.isdigit() and int(count) > 0 for _, count in queues)
        )

    def destroy(self) -> None:
        """Stop the node (if it runs) and remove its files."""
        self.ctl("stop", timeout_s=60)
        shutil.rmtree(self.base, ignore_errors=True)
