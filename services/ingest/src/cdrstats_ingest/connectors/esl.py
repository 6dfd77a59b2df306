"""FreeSWITCH event socket (ESL, inbound mode) client: live call state from CHANNEL_CREATE/ANSWER/HANGUP_COMPLETE.

The protocol: the switch greets with ``Content-Type: auth/request``; we answer
``auth <password>``, then ``event plain CHANNEL_CREATE CHANNEL_ANSWER
CHANNEL_HANGUP_COMPLETE``; each reply is ``command/reply`` with ``Reply-Text: +OK ...``.
Events then come as ``text/event-plain`` messages framed by ``Content-Length``,
whose body is ``Name: percent-encoded value`` lines. Messages are parsed from our own
buffer, so a read timeout (used to notice ``stop``) never loses half a message.

Only A-legs are reported by default: a B-leg the switch originated for a bridge is the
same call. A leg whose ``started`` was published always gets its ``ended``.
"""

from __future__ import annotations

import logging
import socket
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

from cdrstats_ingest.domain import callstate
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig

log = logging.getLogger(__name__)

DEFAULT_PORT = 8021
DEFAULT_PASSWORD = "ClueCon"  # noqa: S105 - the default of FreeSWITCH's event_socket.conf.xml, when none is set
SUBSCRIBE = "event plain CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE"
STATES = {"CHANNEL_CREATE": "started", "CHANNEL_ANSWER": "answered", "CHANNEL_HANGUP_COMPLETE": "ended"}
_STATE_TIMES = {
    "started": "Caller-Channel-Created-Time",
    "answered": "Caller-Channel-Answered-Time",
    "ended": "Caller-Channel-Hangup-Time",
}
MAX_MESSAGE_BYTES = 1 << 20
_OPEN_LEGS_LIMIT = 100_000

Message = tuple[dict[str, str], bytes]  # outer headers, body
Sink = Callable[[dict[str, Any]], None]


class EslError(Exception):
    """The switch refused us or broke the protocol; the connector reconnects after a pause."""


class EslConnection:
    """One authenticated, subscribed event-socket connection."""

    def __init__(self, sock: socket.socket, *, poll_s: float = 1.0) -> None:
        self.sock = sock
        self.sock.settimeout(poll_s)
        self.buffer = bytearray()

    @classmethod
    def open(
        cls, host: str, port: int, password: str, *, timeout_s: float = 10.0, poll_s: float = 1.0
    ) -> EslConnection:
        """Connect, authenticate and subscribe; raises OSError or EslError."""
        sock = socket.create_connection((host, port), timeout=timeout_s)
        connection = cls(sock, poll_s=timeout_s)
        try:
            greeting, _ = connection.read_message()
            if greeting.get("Content-Type") != "auth/request":
                raise EslError(f"expected auth/request, got {greeting.get('Content-Type')!r}")
            connection.command(f"auth {password}")
            connection.command(SUBSCRIBE)
        except BaseException:
            connection.close()
            raise
        connection.sock.settimeout(poll_s)
        return connection

    def command(self, line: str) -> str:
        """Send a command; its ``Reply-Text`` must start with +OK."""
        self.sock.sendall(line.encode() + b"\n\n")
        headers, _ = self.read_message()
        reply = headers.get("Reply-Text", "")
        if headers.get("Content-Type") != "command/reply" or not reply.startswith("+OK"):
            verb = line.split(" ", 1)[0]
            raise EslError(f"{verb} refused: {reply or headers.get('Content-Type', 'no reply')}")
        return reply

    def read_message(self, stop: threading.Event | None = None) -> Message:
        """The next framed message; read timeouts are only raised once ``stop`` is set (or without one)."""
        while True:
            message = _take_message(self.buffer)
            if message is not None:
                return message
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                if stop is None or stop.is_set():
                    raise
                continue
            if not chunk:
                raise ConnectionError("the switch closed the event socket")
            self.buffer += chunk

    def events(self, stop: threading.Event) -> Iterator[dict[str, str]]:
        """Decoded headers of each ``text/event-plain`` event until the switch hangs up or ``stop`` is set."""
        while not stop.is_set():
            try:
                headers, body = self.read_message(stop)
            except TimeoutError:
                return  # stop was set while waiting
            kind = headers.get("Content-Type", "")
            if kind == "text/event-plain":
                yield parse_event(body)
            elif kind in ("text/disconnect-notice", "text/rude-rejection"):
                raise ConnectionError(f"the switch ended the session ({kind})")

    def close(self) -> None:
        self.sock.close()


def _take_message(buffer: bytearray) -> Message | None:
    """Remove and return one complete message from the buffer, or None if it is not all there yet."""
    end = buffer.find(b"\n\n")
    if end < 0:
        if len(buffer) > MAX_MESSAGE_BYTES:
            raise EslError("message headers over 1 MiB")
        return None
    headers = _parse_headers(bytes(buffer[:end]), decode=False)
    length_text = headers.get("Content-Length", "0")
    if not length_text.isdigit() or int(length_text) > MAX_MESSAGE_BYTES:
        raise EslError(f"bad Content-Length {length_text!r}")
    length = int(length_text)
    if len(buffer) < end + 2 + length:
        return None
    body = bytes(buffer[end + 2 : end + 2 + length])
    del buffer[: end + 2 + length]
    return headers, body


def _parse_headers(block: bytes, *, decode: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.decode("utf-8", errors="replace").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            value = value.strip()
            headers[name.strip()] = urllib.parse.unquote(value) if decode else value
    return headers


def parse_event(body: bytes) -> dict[str, str]:
    """The headers of a text/event-plain body (values percent-decoded; an event body after them is ignored)."""
    return _parse_headers(body.split(b"\n\n", 1)[0], decode=True)


class CallStateMapper:
    """ESL events -> ``call_state`` data of one switch; remembers open legs so each gets its end."""

    def __init__(self, switch: SwitchConfig, *, a_legs_only: bool = True) -> None:
        self.switch = switch
        self.a_legs_only = a_legs_only
        self.open_legs: dict[str, None] = {}  # insertion-ordered set

    def map(self, headers: dict[str, str]) -> dict[str, Any] | None:
        state = STATES.get(headers.get("Event-Name", ""))
        uuid = headers.get("Unique-ID", "")
        if state is None or not uuid:
            return None
        published = uuid in self.open_legs  # its start went out: its answer and end must too
        if state == "ended":
            self.open_legs.pop(uuid, None)
        if not published and self.a_legs_only and _is_b_leg(headers):
            return None
        raw = {
            "event": state,
            "uuid": uuid,
            "time": _event_time_us(headers, state),
            "caller_id_number": headers.get("Caller-Caller-ID-Number", ""),
            "destination_number": headers.get("Caller-Destination-Number", ""),
            "accountcode": headers.get("variable_accountcode", ""),
            "direction": _direction(headers),
        }
        try:
            data = callstate.normalise(raw, self.switch)
        except InvalidCdr as exc:
            log.warning("ESL event skipped", extra={"fields": {"switch": self.switch.id, "reason": str(exc)}})
            return None
        if state == "started":
            self.open_legs[uuid] = None
            while len(self.open_legs) > _OPEN_LEGS_LIMIT:
                del self.open_legs[next(iter(self.open_legs))]
        return data


def _is_b_leg(headers: dict[str, str]) -> bool:
    """A leg the switch originated on behalf of another (a bridge's B-leg)."""
    if headers.get("Call-Direction", headers.get("Caller-Direction", "")).lower() != "outbound":
        return False
    return bool(headers.get("variable_originating_leg_uuid") or headers.get("Other-Type") == "originator")


def _event_time_us(headers: dict[str, str], state: str) -> int | str:
    specific = headers.get(_STATE_TIMES[state], "")
    if specific.isdigit() and int(specific) > 0:
        return int(specific)
    return headers.get("Event-Date-Timestamp", "")


def _direction(headers: dict[str, str]) -> str:
    value = headers.get("Call-Direction", headers.get("Caller-Direction", "")).lower()
    return value if value in ("inbound", "outbound") else ""


class Backoff:
    """Reconnect delays: ``initial_s`` doubling up to ``max_s``; reset after a successful connection."""

    def __init__(self, initial_s: float = 1.0, max_s: float = 60.0) -> None:
        self.initial_s, self.max_s = initial_s, max_s
        self.failures = 0

    def next(self) -> float:
        delay = min(self.max_s, self.initial_s * 2**self.failures)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.failures = 0


def address(dsn: str) -> tuple[str, int]:
    """``host:port`` (or ``host``; ``esl://`` accepted) of the switch's event socket."""
    dsn = dsn.strip().removeprefix("esl://").rstrip("/")
    host, sep, port = dsn.rpartition(":")
    if not sep or not port.isdigit():
        return dsn, DEFAULT_PORT
    return host.strip("[]"), int(port)


def run_esl_connector(
    switch: SwitchConfig,
    sink: Sink,
    stop_event: threading.Event,
    *,
    backoff: Backoff | None = None,
    poll_s: float = 1.0,
) -> None:
    """Keep an event-socket session to the switch until ``stop_event``; each call-state event goes to ``sink``.

    ``sink`` gets ``call_state`` data (e.g. ``store.add_call_state``). Lost connections,
    refused logins and protocol errors are logged and retried with backoff.
    """
    backoff = backoff or Backoff()
    host, port = address(switch.connector.dsn)
    password = switch.connector.password or DEFAULT_PASSWORD
    mapper = CallStateMapper(switch)
    fields = {"switch": switch.id, "host": host, "port": port}
    while not stop_event.is_set():
        try:
            connection = EslConnection.open(host, port, password, poll_s=poll_s)
        except (OSError, EslError) as exc:
            log.warning("ESL connect failed", extra={"fields": {**fields, "error": str(exc)}})
        else:
            log.info("ESL connected", extra={"fields": fields})
            backoff.reset()
            try:
                _pump(connection, mapper, sink, stop_event)
            except (OSError, EslError) as exc:
                log.warning("ESL connection lost", extra={"fields": {**fields, "error": str(exc)}})
            finally:
                connection.close()
        if not stop_event.is_set():
            stop_event.wait(backoff.next())


def _pump(connection: EslConnection, mapper: CallStateMapper, sink: Sink, stop: threading.Event) -> None:
    for headers in connection.events(stop):
        data = mapper.map(headers)
        if data is None:
            continue
        try:
            sink(data)
        except Exception:  # a store hiccup loses one live event, never the session
            log.exception("call-state sink failed", extra={"fields": {"switch": mapper.switch.id}})
