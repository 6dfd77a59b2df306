"""The ESL client against a real TCP server on 127.0.0.1 speaking FreeSWITCH's event-socket protocol."""

from __future__ import annotations

import dataclasses
import queue
import socket
import socketserver
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from cdrstats_common.testing import wait_for
from cdrstats_ingest.connectors.esl import (
    Backoff,
    CallStateMapper,
    EslConnection,
    EslError,
    address,
    parse_event,
    run_esl_connector,
)
from cdrstats_ingest.domain.switch import ConnectorSettings, SwitchConfig

PASSWORD = "s3cret"
A_UUID = "6b8f3c0e-7d2a-4b6e-8c8e-1b2f4a9d7e01"
B_UUID = "9a0d2e57-3c41-4f88-b7a6-55e0c3d1f2aa"
T0 = 1714557600120033


def channel_event(name: str, uuid: str = A_UUID, **headers: str) -> dict[str, str]:
    values = {
        "Event-Name": name,
        "Core-UUID": "0d6c4a3e-5b7d-4c1e-9a51-2f0e8f1d0c11",
        "Event-Date-Local": "2024-05-01 10:00:00",
        "Event-Date-Timestamp": str(T0 + 5),
        "Unique-ID": uuid,
        "Call-Direction": "inbound",
        "Caller-Direction": "inbound",
        "Caller-Caller-ID-Name": "Alice Smith",
        "Caller-Caller-ID-Number": "+14155550100",
        "Caller-Destination-Number": "2125550123",
        "Caller-Channel-Name": "sofia/internal/1001@203.0.113.5",
        "Caller-Channel-Created-Time": str(T0),
        "Caller-Channel-Answered-Time": "0",
        "Caller-Channel-Hangup-Time": "0",
        "variable_accountcode": "acme",
    }
    values.update(headers)
    return values


def frame_event(headers: dict[str, str], body: str = "") -> bytes:
    """How mod_event_socket frames an ``event plain`` event: percent-encoded values, Content-Length framed."""
    lines = "".join(f"{name}: {urllib.parse.quote(value, safe='')}\n" for name, value in headers.items())
    if body:
        lines += f"Content-Length: {len(body.encode())}\n\n{body}"
    else:
        lines += "\n"
    data = lines.encode()
    return f"Content-Length: {len(data)}\nContent-Type: text/event-plain\n\n".encode() + data


def reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


@dataclasses.dataclass
class Script:
    """What each accepted connection sends after the subscription (then it closes, or holds if ``hold``)."""

    sessions: list[list[bytes]]
    hold: bool = True


class FakeSwitch(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), EslHandler)
        self.script = script
        self.commands: list[str] = []
        self.connections = 0
        self.release = threading.Event()


class EslHandler(socketserver.BaseRequestHandler):
    server: FakeSwitch

    def read_command(self, stream: Any) -> str:
        lines = []
        while True:
            line = stream.readline()
            if not line:
                raise ConnectionError("client went away")
            if line in (b"\n", b"\r\n"):
                return " ".join(lines)
            lines.append(line.decode().strip())

    def handle(self) -> None:
        server = self.server
        index = server.connections
        server.connections += 1
        stream = self.request.makefile("rb")
        self.request.sendall(b"Content-Type: auth/request\n\n")
        try:
            auth = self.read_command(stream)
            server.commands.append(auth)
            if auth != f"auth {PASSWORD}":
                self.request.sendall(reply("-ERR invalid"))
                return
            self.request.sendall(reply("+OK accepted"))
            subscribe = self.read_command(stream)
            server.commands.append(subscribe)
            self.request.sendall(reply("+OK event listener enabled plain"))
            sessions = server.script.sessions
            for chunk in sessions[index] if index < len(sessions) else []:
                self.request.sendall(chunk)
            if server.script.hold and index >= len(sessions) - 1:
                server.release.wait(10)
        except ConnectionError:
            return


@pytest.fixture
def switch_server() -> Iterator[Any]:
    servers: list[FakeSwitch] = []

    def start(script: Script) -> FakeSwitch:
        server = FakeSwitch(script)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def switch_for(server: FakeSwitch, password: str = PASSWORD) -> SwitchConfig:
    host, port = server.server_address[:2]
    connector = ConnectorSettings(type="freeswitch_esl", dsn=f"{host}:{port}", password=password)
    return SwitchConfig(id="fs-edge-01", home_country="US", connector=connector)


class Runner:
    """run_esl_connector in a thread, its events in a queue."""

    def __init__(self, switch: SwitchConfig) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=run_esl_connector,
            args=(switch, self.events.put, self.stop),
            kwargs={"backoff": Backoff(0.05, 0.2), "poll_s": 0.05},
            daemon=True,
        )
        self.thread.start()

    def take(self, count: int) -> list[dict[str, Any]]:
        return [self.events.get(timeout=5) for _ in range(count)]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        assert not self.thread.is_alive(), "the connector did not stop"


def test_a_call_becomes_started_answered_ended(switch_server: Any) -> None:
    answered = T0 + 4_382_084
    hangup = T0 + 21_810_379
    session = [
        frame_event(channel_event("CHANNEL_CREATE")),
        frame_event(channel_event("HEARTBEAT", **{"Event-Info": "System Ready"})),  # not subscribed: ignored
        frame_event(channel_event("CHANNEL_ANSWER", **{"Caller-Channel-Answered-Time": str(answered)})),
        frame_event(
            channel_event("CHANNEL_HANGUP_COMPLETE", **{"Caller-Channel-Hangup-Time": str(hangup)}),
            body="+OK body after the headers\n",
        ),
    ]
    server = switch_server(Script([session]))
    runner = Runner(switch_for(server))
    try:
        events = runner.take(3)
    finally:
        runner.close()
    assert server.commands == [f"auth {PASSWORD}", "event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE"]
    assert [(e["event"], e["time_us"]) for e in events] == [("started", T0), ("answered", answered), ("ended", hangup)]
    assert events[0] == {
        "switch_id": "fs-edge-01",
        "uuid": A_UUID,
        "event": "started",
        "time_us": T0,
        "caller_id_number": "+14155550100",
        "destination_number": "2125550123",
        "destination_e164": "+12125550123",
        "country": "US",
        "accountcode": "acme",
        "direction": "inbound",
    }


def test_messages_split_across_reads_and_reconnect_after_the_switch_hangs_up(switch_server: Any) -> None:
    whole = frame_event(channel_event("CHANNEL_CREATE", uuid="leg-1"))
    first = [whole[:7], whole[7:40], whole[40:], b"Content-Type: text/disconnect-notice\nContent-Length: 0\n\n"]
    second = [frame_event(channel_event("CHANNEL_CREATE", uuid="leg-2"))]
    server = switch_server(Script([first, second]))
    runner = Runner(switch_for(server))
    try:
        events = runner.take(2)
    finally:
        runner.close()
    assert [e["uuid"] for e in events] == ["leg-1", "leg-2"]
    assert server.connections == 2


def test_wrong_password_is_retried_with_backoff_and_publishes_nothing(switch_server: Any) -> None:
    server = switch_server(Script([[frame_event(channel_event("CHANNEL_CREATE"))]]))
    runner = Runner(switch_for(server, password="wrong"))
    try:
        wait_for(lambda: server.connections >= 3, timeout_s=5, what="three login attempts")
    finally:
        runner.close()
    assert set(server.commands) == {"auth wrong"}
    assert runner.events.empty()


def test_unreachable_switch_is_retried_until_stopped() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    switch = SwitchConfig(id="x", connector=ConnectorSettings(type="freeswitch_esl", dsn=f"127.0.0.1:{port}"))
    runner = Runner(switch)
    runner.close()
    assert runner.events.empty()


def test_b_legs_are_skipped_unless_their_start_went_out() -> None:
    mapper = CallStateMapper(SwitchConfig(id="fs", home_country="US"))
    b_leg = {"Call-Direction": "outbound", "variable_originating_leg_uuid": A_UUID}
    assert mapper.map(channel_event("CHANNEL_CREATE", uuid=B_UUID, **b_leg)) is None
    assert mapper.map(channel_event("CHANNEL_HANGUP_COMPLETE", uuid=B_UUID, **b_leg)) is None
    # an API-originated outbound call has no A-leg: it is the call
    started = mapper.map(channel_event("CHANNEL_CREATE", uuid="api-leg", **{"Call-Direction": "outbound"}))
    assert started is not None and started["direction"] == "outbound"
    # the originator showed up only after the start went out: the leg still gets its end
    ended = mapper.map(
        channel_event("CHANNEL_HANGUP_COMPLETE", uuid="api-leg", **{**b_leg, "Other-Type": "originator"})
    )
    assert ended is not None and ended["event"] == "ended"
    all_legs = CallStateMapper(SwitchConfig(id="fs"), a_legs_only=False)
    assert all_legs.map(channel_event("CHANNEL_CREATE", uuid=B_UUID, **b_leg)) is not None


def test_events_without_a_usable_time_or_uuid_are_skipped() -> None:
    mapper = CallStateMapper(SwitchConfig(id="fs"))
    assert mapper.map(channel_event("CHANNEL_CREATE", uuid="")) is None
    no_time = channel_event("CHANNEL_CREATE", **{"Caller-Channel-Created-Time": "0", "Event-Date-Timestamp": "soon"})
    assert mapper.map(no_time) is None
    fallback = channel_event("CHANNEL_ANSWER")  # Answered-Time 0: the event's own timestamp
    assert mapper.map(fallback)["time_us"] == T0 + 5  # type: ignore[index]


def test_parse_event_decodes_values() -> None:
    body = b"Event-Name: CHANNEL_CREATE\nCaller-Caller-ID-Name: Jos%C3%A9%20%2B%20Co\nX: a%3Ab\n\nbody: not-a-header\n"
    assert parse_event(body) == {"Event-Name": "CHANNEL_CREATE", "Caller-Caller-ID-Name": "José + Co", "X": "a:b"}


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [("10.0.0.5:8022", ("10.0.0.5", 8022)), ("fs1", ("fs1", 8021)), ("esl://[::1]:8021", ("::1", 8021))],
)
def test_address(dsn: str, expected: tuple[str, int]) -> None:
    assert address(dsn) == expected


def test_a_protocol_violation_is_an_error(switch_server: Any) -> None:
    bad = b"Content-Length: lots\nContent-Type: text/event-plain\n\n"
    server = switch_server(Script([[bad]]))
    host, port = server.server_address[:2]
    connection = EslConnection.open(host, port, PASSWORD, poll_s=0.05)
    try:
        with pytest.raises(EslError, match="bad Content-Length"):
            next(connection.events(threading.Event()))
    finally:
        connection.close()
