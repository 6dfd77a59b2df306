"""Helpers of the platform tests: an in-memory IngestAdmin (switches, profiles, imports), users, auth."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from gateway_testkit import InMemoryServices, login, make_cdrs

from cdrstats_gateway import keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain.models import SwitchInfo, User
from cdrstats_gateway.domain.switches import (
    ConnectorState,
    ImportOutcome,
    ImportRequest,
    MappingProfile,
    RejectInfo,
    RejectPage,
    RetryOutcome,
    SwitchConfig,
    SwitchSetup,
)

PASSWORD_A = "customer-a-password"
PASSWORD_B = "customer-b-password"


class PlatformServices(InMemoryServices):
    """InMemoryServices plus the ingest admin calls, with ingest's documented semantics.

    ``import_gate``: when set, ImportFile waits on it after the first chunk, so a test can
    watch progress while the upload is still running.
    """

    def __init__(self) -> None:
        super().__init__(make_cdrs(), [SwitchInfo("sw1", "Switch One"), SwitchInfo("sw2", "Switch Two")])
        self.registry: dict[str, SwitchConfig] = {
            "sw1": SwitchConfig("sw1", "Switch One", "freeswitch", "DE", "sw1", has_password=True),
            "sw2": SwitchConfig("sw2", "Switch Two", "asterisk", "FR", "sw2", has_password=True),
        }
        self.passwords: dict[str, str] = {}
        self.profiles: dict[str, MappingProfile] = {}
        self.imports: list[tuple[ImportRequest, bytes]] = []
        self.connector_states: dict[str, ConnectorState] = {}
        self.rejects: dict[str, RejectInfo] = {}
        self.import_gate: asyncio.Event | None = None
        self.first_chunk_seen = asyncio.Event()

    def _switch(self, switch_id: str) -> SwitchConfig:
        if switch_id not in self.registry:
            raise ServiceError(404, "not_found", f"ingest: no switch {switch_id!r}")
        return self.registry[switch_id]

    async def switches(self) -> list[SwitchInfo]:
        return [SwitchInfo(s.id, s.name or s.id, s.enabled) for s in self.registry.values()]

    async def list_switch_configs(self) -> list[SwitchConfig]:
        return sorted(self.registry.values(), key=lambda s: s.id)

    async def get_switch(self, switch_id: str) -> SwitchConfig:
        return self._switch(switch_id)

    async def upsert_switch(self, config: SwitchConfig, password: str = "") -> SwitchConfig:
        if password:
            self.passwords[config.id] = password
        has_password = config.id in self.passwords or self.registry.get(config.id, config).has_password
        stored = dataclasses.replace(
            config, has_password=has_password, connector=dataclasses.replace(config.connector, password="")
        )
        self.registry[config.id] = stored
        return stored

    async def authenticate_switch(self, username: str, password: str) -> str | None:
        for switch in self.registry.values():
            if switch.username == username and switch.enabled and self.passwords.get(switch.id) == password:
                return switch.id
        return None

    async def delete_switch(self, switch_id: str) -> None:
        self._switch(switch_id)
        del self.registry[switch_id]

    async def switch_setup(self, switch_id: str) -> SwitchSetup:
        config = self._switch(switch_id)
        url = f"http://127.0.0.1:8081/v1/{config.type}/{config.id}"
        return SwitchSetup(url, f'<param name="url" value="{url}"/>', "xml", url + "/calls")

    async def connector_state(self, switch_id: str) -> ConnectorState | None:
        self._switch(switch_id)
        return self.connector_states.get(switch_id)

    async def list_mapping_profiles(self) -> list[MappingProfile]:
        return sorted(self.profiles.values(), key=lambda p: p.name)

    async def save_mapping_profile(self, profile: MappingProfile) -> MappingProfile:
        self.profiles[profile.name] = profile
        return profile

    async def delete_mapping_profile(self, name: str) -> None:
        if self.profiles.pop(name, None) is None:
            raise ServiceError(404, "not_found", f"ingest: no mapping profile {name!r}")

    async def import_file(self, request: ImportRequest, chunks: AsyncIterator[bytes]) -> ImportOutcome:
        """Counts lines; a line is rejected when its first cell is empty (like a missing uuid)."""
        self._switch(request.switch_id)
        if request.format == "generic_csv" and not request.mapping and request.mapping_profile not in self.profiles:
            raise ServiceError(400, "invalid_argument", "ingest: mapping_profile: no such profile")
        data = bytearray()
        async for chunk in chunks:
            data += chunk
            if not self.first_chunk_seen.is_set():
                self.first_chunk_seen.set()
                if self.import_gate is not None:
                    await self.import_gate.wait()
        self.imports.append((request, bytes(data)))
        rows = list(csv.reader(io.StringIO(data.decode())))
        rejects = tuple((i + 1, "uuid: expected a value") for i, row in enumerate(rows) if not row or not row[0])
        lines = data.decode().splitlines()
        for line, reason in rejects:
            reject_id = f"r{len(self.rejects) + 1}"
            where = f"line {line} of {request.file_name}"
            self.rejects[reject_id] = RejectInfo(
                reject_id, request.switch_id, "csv_upload", reason, lines[line - 1], where, 1, "open"
            )
        return ImportOutcome("job-1", len(rows), len(rows) - len(rejects), 0, len(rejects), rejects)

    async def list_rejects(
        self, switch_id: str, cursor: str, page_size: int, *, include_reimported: bool
    ) -> RejectPage:
        found = [
            r
            for r in reversed(self.rejects.values())
            if (not switch_id or r.switch_id == switch_id) and (include_reimported or r.status == "open")
        ]
        start = int(cursor or 0)
        more = len(found) > start + page_size
        return RejectPage(tuple(found[start : start + page_size]), str(start + page_size) if more else "", len(found))

    async def retry_reject(self, reject_id: str, raw: str) -> RetryOutcome:
        """Same rule as import_file: accepted when the first cell is present."""
        if reject_id not in self.rejects:
            raise ServiceError(404, "not_found", f"ingest: no reject {reject_id!r}")
        reject = self.rejects[reject_id]
        text = raw or reject.raw
        if not text.split(",")[0]:
            return RetryOutcome("rejected", "uuid: expected a value", "")
        self.rejects[reject_id] = dataclasses.replace(reject, status="reimported", raw=text)
        return RetryOutcome("accepted", "", "cdr-" + reject_id)


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(username, password)}


@dataclasses.dataclass
class Tenants:
    """Customer A (acme) and B (globex, initech), one user each."""

    a: User
    b: User
    a_customer: int
    b_customer: int


async def add_tenants(client: TestClient[Any, Any]) -> Tenants:
    store = client.app[keys.STORE]
    ca = await asyncio.to_thread(store.create_customer, "Acme", ["acme"])
    cb = await asyncio.to_thread(store.create_customer, "Globex", ["globex", "initech"])
    a = await asyncio.to_thread(lambda: store.create_user("alice", PASSWORD_A, "customer", customer_id=ca.id))
    b = await asyncio.to_thread(lambda: store.create_user("bob", PASSWORD_B, "customer", customer_id=cb.id))
    return Tenants(a, b, ca.id, cb.id)


async def page_csrf(client: TestClient[Any, Any], path: str = "/account") -> str:
    from gateway_testkit import hidden_csrf

    return hidden_csrf(await (await client.get(path)).text())


async def logged_in(client: TestClient[Any, Any], username: str, password: str) -> str:
    """Log in and return the session's CSRF token."""
    response = await login(client, username, password)
    assert response.status == 303, await response.text()
    return await page_csrf(client)
