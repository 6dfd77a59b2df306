"""The load of bench_load.py: switches posting FreeSWITCH JSON, UI users, API users, baseline probes.

Everything runs as coroutines on one asyncio loop with aiohttp clients, so the
generator costs one process (its CPU time is reported: it shares the machine's cores
with the product). Every request is timed from send to the last body byte; a non-2xx
answer (redirects are not followed: a page that sends the user to /login is an
error), a timeout or a connection error counts as an error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Container, Sequence
from typing import Any

import aiohttp

from cdrstats_cli import demo

#: (label, path) a logged-in user cycles through: the main pages
UI_PAGES = (
    ("page dashboard", "/dashboard"),
    ("page CDR search", "/cdrs?answered=yes&country=GB"),
    ("page report daily", "/reports/daily"),
    ("page report countries", "/reports/countries"),
    ("page alarms", "/alarms"),
)
#: (label, path) an API client cycles through
API_CALLS = (
    ("api cdrs page", "/api/v1/cdrs?page_size=25"),
    ("api cdrs search+total", "/api/v1/cdrs?answered=yes&country=US&total=true"),
    ("api dashboard", "/api/v1/reports/dashboard"),
    ("api report daily", "/api/v1/reports/daily"),
    ("api report destinations", "/api/v1/reports/destinations"),
)
#: the baselines: the smallest request each server answers without calling another service
GATEWAY_BASELINE = "baseline gateway GET /login"
INGEST_BASELINE = "baseline ingest GET /healthz"
#: the gateway's "caught up" health (every service serving, every stored CDR counted): 503 is an answer, not an error
READINESS = "gateway GET /healthz (caught up)"
READINESS_STATUSES = (200, 503)
LOGIN_FORM = "login GET /login (before the window)"
LOGIN_POST = "login POST /login (before the window)"
OK_STATUSES = range(200, 300)
INGEST_POST = "ingest POST /v1/freeswitch/json"
MAX_ERROR_SAMPLES = 20


@dataclasses.dataclass(frozen=True)
class Switch:
    id: str
    key: str
    home: str
    accounts: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class User:
    label: str  # "admin" or "customer"
    username: str
    password: str
    token: str = ""  # API users: a bearer token


@dataclasses.dataclass
class Recorder:
    """Latencies (ms) per request label, errors, and accepted CDRs per switch and second."""

    started: float = dataclasses.field(default_factory=time.perf_counter)
    latencies: dict[str, list[float]] = dataclasses.field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[str]] = dataclasses.field(default_factory=lambda: defaultdict(Counter))
    error_counts: Counter[str] = dataclasses.field(default_factory=Counter)
    error_samples: list[str] = dataclasses.field(default_factory=list)
    accepted: Counter[str] = dataclasses.field(default_factory=Counter)
    duplicates: int = 0
    accepted_per_second: Counter[int] = dataclasses.field(default_factory=Counter)
    last_post_done: float = 0.0
    lag_s: float = -1.0  # last POST answered -> reporting counts every accepted CDR
    slowest: dict[str, tuple[float, float]] = dataclasses.field(default_factory=dict)  # label -> (ms, at s)
    backlog: list[tuple[float, int]] = dataclasses.field(default_factory=list)  # (at s, stored - applied)
    window_end: Any = None  # what LoadPlan.at_window_end answered when the last switch stopped

    def ok(self, label: str, elapsed_s: float, status: int, sent: float) -> None:
        ms = elapsed_s * 1000
        self.latencies[label].append(ms)
        self.statuses[label][str(status)] += 1
        if ms > self.slowest.get(label, (0.0, 0.0))[0]:
            self.slowest[label] = (ms, sent - self.started)

    def error(self, label: str, kind: str, detail: str) -> None:
        self.statuses[label][kind] += 1
        self.error_counts[label] += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(f"{label}: {kind} {detail[:300]}")

    def errors(self) -> int:
        return sum(self.error_counts.values())


async def timed_request(
    session: aiohttp.ClientSession,
    rec: Recorder,
    label: str,
    method: str,
    url: str,
    expected: Container[int] = OK_STATUSES,
    **kwargs: Any,
) -> tuple[int, bytes] | None:
    """One request, timed to the last body byte; a status not ``expected`` is an error (recorded, answers None)."""
    started = time.perf_counter()
    try:
        async with session.request(method, url, allow_redirects=False, **kwargs) as response:
            body = await response.read()
    except TimeoutError:
        rec.error(label, "timeout", url)
        return None
    except aiohttp.ClientError as exc:
        rec.error(label, "connection", f"{url}: {exc!r}")
        return None
    elapsed = time.perf_counter() - started
    if response.status not in expected:
        rec.error(label, str(response.status), f"{url}: {body[:200]!r}")
        return None
    rec.ok(label, elapsed, response.status, started)
    return response.status, body


def switch_session(switch: Switch, timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
    auth = aiohttp.BasicAuth(switch.id, switch.key)
    return aiohttp.ClientSession(timeout=timeout, auth=auth, headers={"Content-Type": "application/json"})


async def post_call(
    session: aiohttp.ClientSession, switch: Switch, rng: random.Random, ingest_url: str, rec: Recorder
) -> None:
    """One finished call of the last hour as one mod_json_cdr POST; counts it if accepted."""
    now_us = int(time.time() * 1_000_000)
    profile = (switch.id, switch.id, "freeswitch", switch.home, switch.accounts)
    cdr = demo.make_call(rng, now_us - rng.randrange(3_600_000_000), profile, ended_by_us=now_us)
    body = json.dumps(demo.freeswitch_json_document(cdr))
    url = f"{ingest_url}/v1/freeswitch/json?uuid={cdr['uuid']}"
    answer = await timed_request(session, rec, INGEST_POST, "POST", url, data=body)
    rec.last_post_done = time.perf_counter()
    if answer is None:
        return
    status = json.loads(answer[1]).get("status")
    if status == "accepted":
        rec.accepted[switch.id] += 1
        rec.accepted_per_second[int(rec.last_post_done - rec.started)] += 1
    elif status == "duplicate":
        rec.duplicates += 1
    else:
        rec.error(INGEST_POST, "unexpected-status", repr(answer[1][:200]))


async def switch_client(
    switch: Switch, index: int, ingest_url: str, stop_at: float, rec: Recorder, timeout: aiohttp.ClientTimeout
) -> None:
    """Back to back, as mod_json_cdr sends a leg when it hangs up (keep-alive connection)."""
    rng = random.Random(1000 + index)
    async with switch_session(switch, timeout) as session:
        while time.perf_counter() < stop_at:
            await post_call(session, switch, rng, ingest_url, rec)


_CSRF = re.compile(rb'name="csrf_token" value="([^"]+)"')


async def login(session: aiohttp.ClientSession, gateway_url: str, user: User, rec: Recorder) -> None:
    """The login form as a browser submits it (CSRF token from the page and its signed cookie), timed."""
    answer = await timed_request(session, rec, LOGIN_FORM, "GET", f"{gateway_url}/login")
    found = None if answer is None else _CSRF.search(answer[1])
    if found is None:
        raise RuntimeError(f"no login form at {gateway_url}/login: {rec.error_samples[-1:]}")
    form = {"username": user.username, "password": user.password, "csrf_token": found.group(1).decode()}
    if await timed_request(session, rec, LOGIN_POST, "POST", f"{gateway_url}/login", (303,), data=form) is None:
        raise RuntimeError(f"login of {user.username} failed: {rec.error_samples[-1:]}")


async def _think(rng: random.Random, think_s: float, stop_at: float) -> None:
    """A user's pause between clicks (0.5 to 1.5 times ``think_s``), cut short at the end of the window."""
    if think_s > 0:
        await asyncio.sleep(max(0.0, min(rng.uniform(0.5 * think_s, 1.5 * think_s), stop_at - time.perf_counter())))


async def ui_user(
    session: aiohttp.ClientSession, index: int, gateway_url: str, stop_at: float, think_s: float, rec: Recorder
) -> None:
    """A logged-in browser user: one main page after another (HTML only, no static assets)."""
    await _cycle(session, UI_PAGES, random.Random(2000 + index), index, gateway_url, stop_at, think_s, rec)


async def api_user(
    user: User,
    index: int,
    gateway_url: str,
    stop_at: float,
    think_s: float,
    rec: Recorder,
    timeout: aiohttp.ClientTimeout,
) -> None:
    """A script with a bearer token cycling the REST API."""
    headers = {"Authorization": f"Bearer {user.token}"}
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        await _cycle(session, API_CALLS, random.Random(3000 + index), index, gateway_url, stop_at, think_s, rec)


async def _cycle(
    session: aiohttp.ClientSession,
    calls: Sequence[tuple[str, str]],
    rng: random.Random,
    first: int,
    gateway_url: str,
    stop_at: float,
    think_s: float,
    rec: Recorder,
) -> None:
    """GET ``calls`` in turn from ``first`` on, with a think pause before each, until ``stop_at``."""
    step = first
    await _think(rng, think_s, stop_at)
    while time.perf_counter() < stop_at:
        label, path = calls[step % len(calls)]
        await timed_request(session, rec, label, "GET", gateway_url + path)
        step += 1
        await _think(rng, think_s, stop_at)


async def prober(
    label: str,
    url: str,
    stop_at: float,
    interval_s: float,
    rec: Recorder,
    timeout: aiohttp.ClientTimeout,
    expected: Container[int] = OK_STATUSES,
) -> None:
    """A steady probe of one URL (the baselines, the readiness) under the same load, without cookies."""
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while time.perf_counter() < stop_at:
            await timed_request(session, rec, label, "GET", url, expected)
            await asyncio.sleep(max(0.0, min(interval_s, stop_at - time.perf_counter())))


def cookie_session(timeout: aiohttp.ClientTimeout) -> aiohttp.ClientSession:
    # the gateway is reached by IP address: the default jar would drop its cookies
    return aiohttp.ClientSession(timeout=timeout, cookie_jar=aiohttp.CookieJar(unsafe=True))
