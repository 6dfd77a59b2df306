"""Slow clients (slowloris): headers or a body sent byte by byte are cut off after the read timeout
(CDRSTATS_HTTP_READ_TIMEOUT_S, 2 s here), while other clients are served meanwhile."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time

import pytest
from bad_input_testkit import READ_TIMEOUT_S, Site, api_cdr, basic

pytestmark = pytest.mark.integration

#: a cut-off comes after the timeout, give or take the watchdog's tick and a loaded machine
LATEST_S = READ_TIMEOUT_S + 2.5
CUT_OFF_MESSAGES = (
    "request body: arriving slower than 500 bytes/s; the connection is closed",
    f"request body: nothing received for {READ_TIMEOUT_S:g} s; the connection is closed",
)


@dataclasses.dataclass
class Outcome:
    label: str
    seconds: float
    answer: bytes

    @property
    def status(self) -> int:
        return int(self.answer.split(b" ", 2)[1]) if self.answer.startswith(b"HTTP/1.1 ") else 0

    @property
    def body(self) -> bytes:
        return self.answer.partition(b"\r\n\r\n")[2]


async def dribble(label: str, port: int, head: bytes, body: bytes, interval_s: float, stop_after_s: float) -> Outcome:
    """Send ``head`` (all of it if ``body``, else byte by byte) then ``body`` byte by byte, for ``stop_after_s``
    at most, never complete; the answer is everything read until the server closes the connection.

    A client still sending when the server closes may get a reset instead of the answer (the server
    closes with bytes unread): body senders go quiet before the cut-off to read the 408 for sure.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    answer = asyncio.ensure_future(reader.read())  # until EOF: the server closes after cutting off
    slow = body or head
    if body:
        writer.write(head)
    try:
        for i in range(len(slow) - 1):
            if answer.done() or time.monotonic() - started > stop_after_s:
                break
            writer.write(slow[i : i + 1])
            await writer.drain()
            await asyncio.sleep(interval_s)
        received = await asyncio.wait_for(answer, 10)
    except ConnectionResetError:
        received = b"(reset)"
    seconds = time.monotonic() - started
    writer.close()
    return Outcome(label, seconds, received)


async def keep_asking(port: int, path: str, until: asyncio.Event) -> list[float]:
    """A normal client meanwhile: one request after the other, each one's answer time."""
    times = []
    while not until.is_set():
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        times.append(time.monotonic() - started)
        await asyncio.sleep(0.1)
    return times


def post_head(
    path: str, length: int, authorization: str, content_type: str = "application/json", method: str = "POST"
) -> bytes:
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_slow_headers_and_bodies_are_cut_off_while_others_are_served(site: Site) -> None:
    switch = site.new_switch("slow")
    body = json.dumps({"switch_id": switch[0], "cdrs": [api_cdr()]}).encode()  # any body: never finished
    admin, push = site.admin["Authorization"], basic(*switch)
    bodies = {
        "ingest json": (site.ingest_port, "POST /v1/freeswitch/json", push, "application/json"),
        "ingest calls": (site.ingest_port, f"POST /v1/switches/{switch[0]}/calls", push, "application/json"),
        "bulk create": (site.gateway_port, "POST /api/v1/cdrs", admin, "application/json"),
        "json api": (site.gateway_port, "PUT /api/v1/mapping-profiles/slow", admin, "application/json"),
        "login form": (site.gateway_port, "POST /login", "", "application/x-www-form-urlencoded"),
        "csv import": (site.gateway_port, f"POST /api/v1/imports?switch_id={switch[0]}", admin, "text/csv"),
    }
    slow_header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200

    async def scenario() -> tuple[list[Outcome], list[float], list[float]]:
        done = asyncio.Event()
        others = [
            asyncio.ensure_future(keep_asking(site.gateway_port, "/login", done)),
            asyncio.ensure_future(keep_asking(site.ingest_port, "/healthz", done)),
        ]
        slow = [
            dribble("gateway headers", site.gateway_port, slow_header, b"", 0.2, 60),
            dribble("ingest headers", site.ingest_port, slow_header, b"", 0.2, 60),
            *(  # 20 bytes/s for 1.5 s, then quiet: cut off for its pace, not (yet) for the silence
                dribble(
                    label, port, post_head(target.split()[1], len(body), auth, ct, target.split()[0]), body, 0.05, 1.5
                )
                for label, (port, target, auth, ct) in bodies.items()
            ),
        ]
        outcomes = await asyncio.gather(*slow)
        done.set()
        gateway_times, ingest_times = await asyncio.gather(*others)
        return list(outcomes), gateway_times, ingest_times

    outcomes, gateway_times, ingest_times = asyncio.run(scenario())
    for outcome in outcomes:
        assert READ_TIMEOUT_S - 0.5 <= outcome.seconds <= LATEST_S, (outcome.label, outcome.seconds)
        if outcome.label.endswith("headers"):
            assert outcome.answer in (b"", b"(reset)"), outcome  # closed: the request never was complete
            continue
        assert outcome.status == 408, (outcome.label, outcome.answer[:400])
        # slower than the pace, or silent since: which one depends on when the handler began to read
        assert any(message in outcome.body.decode() for message in CUT_OFF_MESSAGES), outcome  # JSON or a page
    # meanwhile each normal client was answered, many times and promptly
    for times in (gateway_times, ingest_times):
        assert len(times) >= 5 and max(times) < 1.5, times
    [job] = [j for j in site.api("GET", "/api/v1/imports").json() if j["switch_id"] == switch[0]]
    assert (job["state"], job["error"]) == ("failed", "the upload was cut off: arriving slower than 500 bytes/s")


def test_a_body_that_stops_arriving_is_cut_off(site: Site) -> None:
    body = json.dumps({"switch_id": "x", "cdrs": [api_cdr()]}).encode()
    head = post_head("/api/v1/cdrs", len(body), site.admin["Authorization"])

    async def half_then_silence() -> Outcome:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.gateway_port)
        started = time.monotonic()
        writer.write(head + body[: len(body) // 2])
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        return Outcome("stalled", time.monotonic() - started, answer)

    outcome = asyncio.run(half_then_silence())
    assert outcome.status == 408 and outcome.seconds <= LATEST_S, outcome
    assert json.loads(outcome.body)["message"] == CUT_OFF_MESSAGES[1]


def test_a_slow_but_steady_upload_with_short_pauses_is_accepted(site: Site) -> None:
    """The guard is not over-eager: pauses under the timeout, a fair average rate, the body gets through."""
    switch_id, _ = site.new_switch("steady")
    text = json.dumps({"switch_id": switch_id, "cdrs": [api_cdr()]}).encode()
    body = text[:-1] + b" " * 20_000 + text[-1:]
    head = post_head("/api/v1/cdrs", len(body), site.admin["Authorization"])

    async def in_pieces() -> Outcome:
        reader, writer = await asyncio.open_connection("127.0.0.1", site.gateway_port)
        started = time.monotonic()
        writer.write(head)
        for i in range(0, len(body), len(body) // 4 + 1):
            await asyncio.sleep(READ_TIMEOUT_S * 0.6)
            writer.write(body[i : i + len(body) // 4 + 1])
            await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"}"), 10)
        writer.close()
        return Outcome("steady", time.monotonic() - started, answer)

    outcome = asyncio.run(in_pieces())
    assert outcome.seconds > 2 * READ_TIMEOUT_S  # it really took longer than one timeout in all
    assert outcome.status == 200, outcome.answer[:400]
    assert json.loads(outcome.body)["accepted"] == 1
