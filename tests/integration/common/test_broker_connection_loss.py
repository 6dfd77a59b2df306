"""A worker whose broker connection is cut while its handlers are busy keeps consuming (issue 8, found by the
fault suite: a RabbitMQ restart left reporting-worker alive, heartbeat and all, with no consumer: the ack of a
handler in flight raised ConnectionResetError, which ended the nameko container but not the process).

The real reporting worker talks to the broker through a TCP relay of this test; while the worker applies a
stream of events the relay cuts every connection with a reset (what a broker restart or a network failure
does to a client), five times. The acks of the handlers in flight then fail on the dead socket; each of
those messages comes back from the broker and is applied once (event ids). The worker must reconnect and go
on: every CDR ends in the roll-ups exactly once, and the process is the same one. And should a container die
all the same, its process exits (code 1) so that the supervisor starts it again, instead of living on idle.
"""

from __future__ import annotations

import contextlib
import pathlib
import select
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import EventPublisher, make_envelope
from cdrstats_common.testing import AMQP_HOST, ServiceProcess, free_port, wait_for
from cdrstats_reporting.store import open_store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
EVENTS, PER_EVENT = 300, 500
CUTS = 5


class Relay:
    """127.0.0.1:<port> -> the broker, on one thread; ``cut()`` resets every connection open through it (RST,
    no AMQP close). One thread owns every socket: a socket closed while another thread sits in ``recv`` on it
    would not go away (nor send its reset) until that ``recv`` returns."""

    def __init__(self) -> None:
        host, port = AMQP_HOST.split(":")
        self.upstream = (host, int(port))
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.port = self.listener.getsockname()[1]
        self.peer: dict[socket.socket, socket.socket] = {}
        self.cuts_requested = 0
        self.cuts_done = 0
        self.closing = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.closing:
            if self.cuts_done < self.cuts_requested:
                self._reset_all()
                self.cuts_done += 1
            readable, _, _ = select.select([self.listener, *self.peer], [], [], 0.05)
            for sock in readable:
                if sock is self.listener:
                    client, _ = self.listener.accept()
                    broker = socket.create_connection(self.upstream)
                    self.peer[client], self.peer[broker] = broker, client
                    continue
                if sock not in self.peer:
                    continue
                try:
                    data = sock.recv(65536)
                    if data:
                        self.peer[sock].sendall(data)
                        continue
                except OSError:
                    pass
                self._drop(sock)
        self._reset_all()
        self.listener.close()

    def _drop(self, sock: socket.socket) -> None:
        other = self.peer.pop(sock, None)
        if other is not None:
            self.peer.pop(other, None)
            other.close()
        sock.close()

    def _reset_all(self) -> None:
        for sock in list(self.peer):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
            sock.close()
        self.peer.clear()

    def cut(self) -> None:
        self.cuts_requested += 1
        wait_for(lambda: self.cuts_done >= self.cuts_requested, timeout_s=10, what="the relay's cut")

    def close(self) -> None:
        self.closing = True
        self.thread.join(timeout=10)


def publish(amqp_url: str) -> None:
    publisher = EventPublisher(amqp_url, "ingest")
    start_us = 1_760_000_000_000_000
    for event in range(EVENTS):
        cdrs = [
            new_cdr(
                id=f"c{event}-{n}",
                uuid=f"u{event}-{n}",
                switch_id="sw",
                accountcode="acme",
                start_time_us=start_us + (event * PER_EVENT + n) * 1_000_000,
                end_time_us=start_us + (event * PER_EVENT + n) * 1_000_000 + 30_000_000,
            )
            for n in range(PER_EVENT)
        ]
        publisher.publish(make_envelope("cdrs_ingested", "ingest", {"cdrs": cdrs}), "cdrs_ingested")
    publisher.close()


def test_handlers_in_flight_when_the_connection_is_cut_do_not_stop_the_worker(
    tmp_path: pathlib.Path, amqp_url: str
) -> None:
    relay = Relay()
    via_relay = amqp_url.replace(AMQP_HOST, f"127.0.0.1:{relay.port}")
    env = {
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "AMQP_URL": via_relay,
        "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{free_port()}",
    }
    worker = ServiceProcess("cdrstats_reporting.worker", env, str(tmp_path / "worker.log"))
    store = open_store(f"sqlite:///{tmp_path}/reporting.db")
    try:
        wait_for(store.worker_alive, timeout_s=60, what="reporting worker heartbeat")
        wait_for(lambda: "worker started" in worker.log_text(), timeout_s=60, what="worker consuming")
        publishing = threading.Thread(target=publish, args=(amqp_url,))
        publishing.start()  # straight to the broker: only the worker's connection is cut
        for _ in range(CUTS):  # while the worker is busy with the stream
            time.sleep(1.5)
            relay.cut()
        publishing.join(timeout=60)
        wait_for(
            lambda: store.status() == (EVENTS * PER_EVENT, EVENTS),
            timeout_s=120,
            interval_s=0.5,
            what=f"all {EVENTS} events applied once",
        )
        assert worker.process.poll() is None, "the worker exited"
    finally:
        status = store.status()
        store.close()
        relay.close()
        log = worker.log_text()
        with contextlib.suppress(RuntimeError):  # a worker that hangs on stop is killed; the asserts say why
            worker.stop()
    assert status == (EVENTS * PER_EVENT, EVENTS)
    assert "thread exited with error" not in log


def test_a_worker_whose_container_dies_exits_to_be_restarted(tmp_path: pathlib.Path, amqp_url: str) -> None:
    app = pathlib.Path(__file__).with_name("dying_container_app.py")
    with open(tmp_path / "app.log", "wb") as log:
        process = subprocess.Popen([sys.executable, str(app), amqp_url], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: b"worker started" in (tmp_path / "app.log").read_bytes(), timeout_s=60, what="app started")
        time.sleep(1)  # the queue is bound once the container runs
        publisher = EventPublisher(amqp_url, "dying-test")
        publisher.publish(make_envelope("poke", "dying-test", {}), "poke")
        publisher.close()
        assert process.wait(timeout=40) == 1, (tmp_path / "app.log").read_text()[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "service container died" in (tmp_path / "app.log").read_text()
