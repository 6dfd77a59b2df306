"""Helpers of the gateway tests: an in-memory Services implementation over CDRs, login helpers."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp.test_utils import TestClient

from cdrstats_common import metrics
from cdrstats_common.cdr import new_cdr
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain.models import Dashboard, HourBucket, Scope, SwitchInfo

HOUR_US = 3_600_000_000
NOW_US = 1_760_000_000_000_000
ADMIN_PASSWORD = "admin-secret-pw"
CUSTOMER_PASSWORD = "customer-secret-pw"

#: make_client(settings=None) -> a TestClient of create_app(settings, clients=<InMemoryServices>)
ClientFactory = Callable[..., Awaitable[TestClient[Any, Any]]]


def window(now_us: int = NOW_US) -> tuple[int, int]:
    end = now_us - now_us % HOUR_US + HOUR_US
    return end - 24 * HOUR_US, end


def visible(cdrs: Iterable[Mapping[str, Any]], scope: Scope, switch_id: str | None) -> list[Mapping[str, Any]]:
    start, end = window()
    return [
        c
        for c in cdrs
        if start <= c["start_time_us"] < end
        and (scope.admin or c["accountcode"] in scope.accountcodes)
        and (switch_id is None or c["switch_id"] == switch_id)
    ]


class InMemoryServices:
    """The Services protocol over a list of canonical CDRs; records every scope it was asked with."""

    def __init__(self, cdrs: list[dict[str, Any]], switches: list[SwitchInfo]) -> None:
        self.cdrs = cdrs
        self.switch_list = switches
        self.calls: list[tuple[Scope, str | None]] = []
        self.ready = True
        self.serving_now = True
        self.error: ServiceError | None = None

    async def dashboard(self, scope: Scope, switch_id: str | None) -> Dashboard:
        self.calls.append((scope, switch_id))
        if self.error is not None:
            raise self.error
        start, end = window()
        total = metrics.Totals()
        hours = {h: metrics.Totals() for h in range(start, end, HOUR_US)}
        for cdr in visible(self.cdrs, scope, switch_id):
            total.add_cdr(cdr)
            hours[cdr["start_time_us"] - cdr["start_time_us"] % HOUR_US].add_cdr(cdr)
        buckets = tuple(HourBucket(h, t.attempts, t.answered, t.minutes) for h, t in sorted(hours.items()))
        ach = metrics.ach(total.attempts, 24)
        return Dashboard(start, end, total.attempts, total.answered, total.asr, total.acd, total.minutes, ach, buckets)

    async def authenticate_switch(self, username: str, password: str) -> str | None:
        return None  # no switch has push credentials here

    async def switches(self) -> list[SwitchInfo]:
        return list(self.switch_list)

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        return self.ready, {"fake": "ready" if self.ready else "not ready"}

    async def serving(self) -> tuple[bool, dict[str, Any]]:
        return self.serving_now, {"fake": "serving" if self.serving_now else "not serving"}


def make_cdrs() -> list[dict[str, Any]]:
    """A spread of answered/unanswered calls over accounts, switches and hours (some outside the window)."""
    cdrs = []
    start, _ = window()
    for i in range(60):
        begin = start + (i * 37 % 26 - 1) * HOUR_US + i * 1_000_000  # hours -1 .. 24: some fall outside
        answered = i % 3 != 0
        billsec = (i * 7919 % 300_000) if answered else 0
        cdrs.append(
            new_cdr(
                id=f"c{i}",
                switch_id="sw1" if i % 2 else "sw2",
                accountcode=("acme", "globex", "initech")[i % 3 if i % 5 else 1],
                start_time_us=begin,
                answer_time_us=begin + 2_000_000 if answered else 0,
                end_time_us=begin + 2_000_000 + billsec * 1000,
                billsec_ms=billsec,
                duration_ms=billsec + 2000,
                hangup_cause=16 if answered else 17,
            )
        )
    return cdrs


def hidden_csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has a CSRF field"
    return match.group(1)


async def login(client: TestClient[Any, Any], username: str, password: str, **extra: str) -> Any:
    page = await client.get("/login")
    token = hidden_csrf(await page.text())
    data = {"username": username, "password": password, "csrf_token": token, **extra}
    return await client.post("/login", data=data, allow_redirects=False)
