"""Test helpers shared by the services' tests: RabbitMQ vhosts, free ports, processes, MongoDB."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

AMQP_HOST = "127.0.0.1:5672"


#: test listeners take ports below Linux's ephemeral range (32768-60999 by default), where the
#: outgoing connections of the processes a test starts (to RabbitMQ, to each other) never land
_TEST_PORTS = (20_000, 32_000)
#: ports this test process has handed out: each goes to one listener only
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free on 127.0.0.1 now, outside the ephemeral range, never handed out before by this process
    (tests start up to nine processes with two or three listeners each; a repeated port would clash)."""
    rng = random.Random()
    while True:
        port = rng.randrange(*_TEST_PORTS)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port


@contextlib.contextmanager
def rabbitmq_vhost(prefix: str = "cdrstats-test") -> Iterator[str]:
    """A fresh vhost for guest, deleted afterwards; yields its AMQP URL."""
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True, timeout=60)
    try:
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        yield f"amqp://guest:guest@{AMQP_HOST}/{name}"
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60)


class ServiceProcess:
    """A service entrypoint (``python -m module``) run as a real child process for a test."""

    def __init__(self, module: str, env: dict[str, str], log_path: str) -> None:
        import os
        import sys

        self.module = module
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM, then wait; returns the exit code (SIGKILL and an error if it hangs)."""
        import signal

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                self._log.close()
                raise RuntimeError(f"{self.module} did not stop within {timeout_s} s") from None
        self._log.close()
        return int(self.process.returncode)

    def log_text(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()


def wait_for(predicate: object, timeout_s: float = 20.0, interval_s: float = 0.1, what: str = "condition") -> None:
    """Poll ``predicate()`` until it is truthy; AssertionError naming ``what`` on timeout."""
    import time

    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return
        except Exception as exc:  # noqa: BLE001 - a service still starting may refuse connections
            last_error = exc
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last error: {last_error!r})")


# -- MongoDB in tests: mongomock here, a real server when CDRSTATS_TEST_MONGODB_URI is set ---------------

MONGODB_URI_VARIABLE = "CDRSTATS_TEST_MONGODB_URI"


def patch_mongomock_bulk_write(monkeypatch: Any) -> None:
    """STACK.md pitfall 8: pymongo >= 4.11 passes ``sort`` to mongomock's bulk builder, which does not take it."""
    from mongomock.collection import BulkOperationBuilder

    original = BulkOperationBuilder.add_update

    def add_update(self: Any, *args: Any, sort: Any = None, **kwargs: Any) -> Any:
        return original(self, *args, **kwargs)

    monkeypatch.setattr(BulkOperationBuilder, "add_update", add_update)


@contextlib.contextmanager
def real_mongodb_database(prefix: str) -> Iterator[Any]:
    """A fresh database on the server of CDRSTATS_TEST_MONGODB_URI, dropped afterwards."""
    import pymongo

    client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
        os.environ[MONGODB_URI_VARIABLE], serverSelectionTimeoutMS=5000
    )
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        yield client[name]
    finally:
        client.drop_database(name)
        client.close()


# -- memory: the peak RSS of this process over a block of a test -----------------------------------


class PeakRss:
    """How far this process's peak RSS (VmHWM) rose over a ``with`` block, in MiB (Linux >= 4.0).

    The peak is restarted from the current RSS on entry (``/proc/self/clear_refs``), so memory held
    only for a moment inside the block (e.g. argon2's buffers) is counted.
    """

    def __init__(self) -> None:
        self.start_kib = 0
        self.growth_mib = 0.0

    @staticmethod
    def _peak_kib() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(line for line in status if line.startswith("VmHWM:"))
        return int(line.split()[1])

    def __enter__(self) -> PeakRss:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
            refs.write("5")
        self.start_kib = self._peak_kib()
        return self

    def __exit__(self, *exc: object) -> None:
        self.growth_mib = (self._peak_kib() - self.start_kib) / 1024


def queue_exists(connection: Any, name: str) -> bool:
    """Whether the broker of ``connection`` (a kombu Connection) has queue ``name`` (a passive declare)."""
    channel = connection.channel()
    try:
        channel.queue_declare(queue=name, passive=True)
        return True
    except Exception:  # noqa: BLE001 - amqp raises NotFound and closes the channel
        return False
    finally:
        with contextlib.suppress(Exception):  # the channel is already closed after NotFound
            channel.close()
