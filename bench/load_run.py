"""One bench_load.py run: the idle pass, then every client at once for the window, then the drain.

The clients themselves are in load_traffic.py; this module times the phases, watches how far
reporting trails ingest, and measures the lag from the last POST until reporting counts all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from load_traffic import (
    API_CALLS,
    GATEWAY_BASELINE,
    INGEST_BASELINE,
    INGEST_POST,
    READINESS,
    READINESS_STATUSES,
    UI_PAGES,
    Recorder,
    Switch,
    User,
    api_user,
    cookie_session,
    login,
    post_call,
    prober,
    switch_client,
    switch_session,
    timed_request,
    ui_user,
)


async def idle_pass(
    gateway_url: str,
    ingest_url: str,
    admin: User,
    switch: Switch,
    rounds: int,
    rec: Recorder,
    timeout: aiohttp.ClientTimeout,
) -> None:
    """Each page, API call, baseline and a POST of ``switch`` ``rounds`` times, one at a time, before the load.

    The switch's first POST (its key check) and the login come first, untimed for the table's rows.
    """
    rng = random.Random(999)
    async with (
        cookie_session(timeout) as session,
        aiohttp.ClientSession(timeout=timeout, headers={"Authorization": f"Bearer {admin.token}"}) as api,
        aiohttp.ClientSession(timeout=timeout) as anonymous,
        switch_session(switch, timeout) as poster,
    ):
        await login(session, gateway_url, admin, rec)
        await post_call(poster, switch, rng, ingest_url, rec)
        rec.latencies.pop(INGEST_POST)  # that one paid the key check (argon2): a first, not a typical POST
        for _ in range(rounds):
            await post_call(poster, switch, rng, ingest_url, rec)
            await timed_request(anonymous, rec, GATEWAY_BASELINE, "GET", f"{gateway_url}/login")
            await timed_request(anonymous, rec, INGEST_BASELINE, "GET", f"{ingest_url}/healthz")
            await timed_request(anonymous, rec, READINESS, "GET", f"{gateway_url}/healthz", READINESS_STATUSES)
            for label, path in UI_PAGES:
                await timed_request(session, rec, label, "GET", gateway_url + path)
            for label, path in API_CALLS:
                await timed_request(api, rec, label, "GET", gateway_url + path)


@dataclasses.dataclass(frozen=True)
class LoadPlan:
    gateway_url: str
    ingest_url: str
    switches: list[Switch]
    ui_users: list[User]
    api_users: list[User]
    duration_s: float
    think_s: float
    probe_interval_s: float
    timeout_s: float
    applied: Callable[[], int]  # reporting's applied-CDR count now (a blocking gRPC call)
    applied_before: int
    backlog: Callable[[], int]  # ingest's stored minus reporting's applied CDRs now (blocking)
    at_window_end: Callable[[], Any]  # called when the last switch stops; kept as Recorder.window_end
    lag_timeout_s: float = 300.0


async def _lag(plan: LoadPlan, rec: Recorder, switches_done: Awaitable[Any]) -> None:
    """From the last POST's answer until reporting's totals include every accepted CDR (polled every 10 ms)."""
    await switches_done
    rec.window_end = plan.at_window_end()
    target = plan.applied_before + sum(rec.accepted.values())
    while await asyncio.to_thread(plan.applied) < target:
        if time.perf_counter() - rec.last_post_done > plan.lag_timeout_s:
            raise TimeoutError(f"reporting did not count {target} CDRs within {plan.lag_timeout_s} s of the last POST")
        await asyncio.sleep(0.01)
    rec.lag_s = time.perf_counter() - rec.last_post_done


async def _watch_backlog(plan: LoadPlan, rec: Recorder, stop_at: float, every_s: float = 2.0) -> None:
    """How far reporting trails ingest during the window (CDRs stored but not yet counted)."""
    while time.perf_counter() < stop_at:
        rec.backlog.append((time.perf_counter() - rec.started, await asyncio.to_thread(plan.backlog)))
        await asyncio.sleep(max(0.0, min(every_s, stop_at - time.perf_counter())))


async def run_load(plan: LoadPlan) -> Recorder:
    """UI users log in (timed, before the window), then every client runs at once for ``duration_s``;
    requests under way at the end finish (bounded by the timeout)."""
    rec = Recorder()
    timeout = aiohttp.ClientTimeout(total=plan.timeout_s)
    sessions = [cookie_session(timeout) for _ in plan.ui_users]
    try:
        await asyncio.gather(
            *(login(s, plan.gateway_url, u, rec) for s, u in zip(sessions, plan.ui_users, strict=True))
        )
        rec.started = time.perf_counter()
        stop_at = rec.started + plan.duration_s
        switches = asyncio.gather(
            *(switch_client(s, i, plan.ingest_url, stop_at, rec, timeout) for i, s in enumerate(plan.switches))
        )
        tasks = [ui_user(s, i, plan.gateway_url, stop_at, plan.think_s, rec) for i, s in enumerate(sessions)]
        tasks += [
            api_user(u, i, plan.gateway_url, stop_at, plan.think_s, rec, timeout) for i, u in enumerate(plan.api_users)
        ]
        tasks.append(
            prober(GATEWAY_BASELINE, f"{plan.gateway_url}/login", stop_at, plan.probe_interval_s, rec, timeout)
        )
        tasks.append(
            prober(INGEST_BASELINE, f"{plan.ingest_url}/healthz", stop_at, plan.probe_interval_s, rec, timeout)
        )
        readiness = f"{plan.gateway_url}/healthz"
        tasks.append(prober(READINESS, readiness, stop_at, plan.probe_interval_s, rec, timeout, READINESS_STATUSES))
        tasks.append(_watch_backlog(plan, rec, stop_at))
        await asyncio.gather(switches, _lag(plan, rec, switches), *tasks)
    finally:
        for session in sessions:
            await session.close()
    return rec
