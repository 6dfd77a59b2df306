"""Gateway tests build the app through create_app with an in-memory Services implementation."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD, ClientFactory, InMemoryServices, make_cdrs

from cdrstats_gateway.app import create_app
from cdrstats_gateway.domain.models import SwitchInfo
from cdrstats_gateway.settings import GatewaySettings


@pytest.fixture
def services() -> InMemoryServices:
    return InMemoryServices(make_cdrs(), [SwitchInfo("sw1", "Switch One"), SwitchInfo("sw2", "Switch Two")])


@pytest.fixture
def settings(tmp_path: pathlib.Path) -> GatewaySettings:
    return GatewaySettings(
        store_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        admin_password=ADMIN_PASSWORD,
        cookie_secure=False,
        startup_marker=tmp_path / "demo-loading",
    )


@pytest.fixture
def make_client(aiohttp_client: Any, services: InMemoryServices, settings: GatewaySettings) -> ClientFactory:
    async def make(settings_: GatewaySettings | None = None) -> TestClient[Any, Any]:
        app = await create_app(settings_ or settings, clients=services)
        client: TestClient[Any, Any] = await aiohttp_client(app)
        return client

    return make


@pytest.fixture
async def client(make_client: ClientFactory) -> TestClient[Any, Any]:
    return await make_client()
