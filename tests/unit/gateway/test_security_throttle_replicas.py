"""Throttling is counted in the gateway's store: replicas on one store share it, a restart keeps it.

Two real gateway apps (create_app, real HTTP through aiohttp's test client) on ONE store: a shared
SQLite file, or one mongomock database standing in for deploy/k8s's MongoDB. Failures on one app
block the other (login form and API basic alike), and a new app on the same store (a restart) still
refuses with Retry-After.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any

import mongomock
import pytest
from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD, ClientFactory, login
from test_gateway_rest import DASHBOARD, basic

from cdrstats_gateway import app as gateway_app
from cdrstats_gateway import keys
from cdrstats_gateway.store import GatewayStore, open_store
from cdrstats_gateway.store.mongo import MongoGatewayStore
from cdrstats_gateway.throttle import MAX_FAILURES, SEND_LIMIT, WINDOW_S


@pytest.fixture(params=["sqlite", "mongomock"])
def shared_store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every app the test makes opens the same store: the settings' SQLite file, or one mongomock database."""
    if request.param == "mongomock":
        database: Any = mongomock.MongoClient()["cdrstats_gateway_replicas"]
        opener: Callable[[str], GatewayStore] = lambda _url: MongoGatewayStore(database)  # noqa: E731
        monkeypatch.setattr(gateway_app, "open_store", opener)
    else:
        monkeypatch.setattr(gateway_app, "open_store", open_store)
    return str(request.param)


async def _form_status(client: TestClient[Any, Any], password: str) -> int:
    return int((await login(client, "admin", password)).status)


async def _api(client: TestClient[Any, Any], password: str) -> Any:
    return await client.get(DASHBOARD, headers=basic("admin", password))


async def test_failed_form_logins_on_one_replica_block_the_other(make_client: ClientFactory, shared_store: str) -> None:
    one, two = await make_client(), await make_client()
    assert await _form_status(two, ADMIN_PASSWORD) == 303, "the right password works before any failure"
    two.session.cookie_jar.clear()  # logged out again: the login form is offered anew
    for _ in range(MAX_FAILURES):
        assert await _form_status(one, "wrong-password") == 200  # the page again, with an error
    refused = await login(two, "admin", ADMIN_PASSWORD)
    assert refused.status == 429, "the other replica saw one's failures"
    assert 0 < int(refused.headers["Retry-After"]) <= WINDOW_S
    api = await _api(two, ADMIN_PASSWORD)
    assert api.status == 429 and (await api.json())["error"] == "too_many_requests"


async def test_failed_api_logins_block_the_form_elsewhere_and_survive_a_restart(
    make_client: ClientFactory, shared_store: str
) -> None:
    one, two = await make_client(), await make_client()
    for _ in range(MAX_FAILURES):
        assert (await _api(one, "wrong-password")).status == 401
    assert await _form_status(two, ADMIN_PASSWORD) == 429, "API basic failures on one block the form on two"
    await one.close()
    await two.close()
    restarted = await make_client()  # a new process on the same store: no fresh tries
    again = await _api(restarted, ADMIN_PASSWORD)
    assert again.status == 429 and 0 < int(again.headers["Retry-After"]) <= WINDOW_S
    assert await _form_status(restarted, ADMIN_PASSWORD) == 429


async def test_sends_are_limited_across_replicas(make_client: ClientFactory, shared_store: str) -> None:
    one, two = await make_client(), await make_client()
    for _ in range(SEND_LIMIT):
        assert one.app[keys.SEND_THROTTLE].take(42) == 0
    assert two.app[keys.SEND_THROTTLE].take(42) > 0, "the second replica counts the first one's sends"
    assert two.app[keys.SEND_THROTTLE].take(43) == 0, "per user"


def test_the_shared_store_fixture_is_the_one_the_apps_open(tmp_path: pathlib.Path) -> None:
    """Guards the seam the tests above rely on: the app opens its store through ``app.open_store``."""
    assert gateway_app.open_store is open_store
