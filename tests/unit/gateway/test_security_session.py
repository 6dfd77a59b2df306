"""Sessions beyond test_gateway_web: attacker-chosen ids, replay after logout, cookie flags from the environment.

test_gateway_web already covers a new id per login (and the old one deleted), logout deleting
the session, throttling and the flags with ``cookie_secure`` set in code; these fill the gaps.
"""

from __future__ import annotations

import asyncio
import pathlib
import re
from typing import Any

from aiohttp.test_utils import TestClient
from gateway_testkit import ADMIN_PASSWORD, ClientFactory, hidden_csrf, login

from cdrstats_gateway import keys
from cdrstats_gateway.auth import LOGIN_CSRF_COOKIE, SESSION_COOKIE
from cdrstats_gateway.settings import GatewaySettings

PLANTED = "attacker-chosen-session-id-0123456789abcdef"


async def test_an_attacker_chosen_session_id_never_becomes_a_session(client: TestClient[Any, Any]) -> None:
    """Fixation: a cookie planted before login (a value the attacker knows) is replaced, not adopted."""
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: PLANTED})
    assert client.session.cookie_jar.filter_cookies(client.make_url("/login"))[SESSION_COOKIE].value == PLANTED
    response = await login(client, "admin", ADMIN_PASSWORD)
    assert response.status == 303
    issued = response.cookies[SESSION_COOKIE].value
    assert issued != PLANTED and len(issued) >= 32
    store = client.app[keys.STORE]
    assert await asyncio.to_thread(store.get_session, PLANTED) is None
    attacker = await client.get("/dashboard", cookies={SESSION_COOKIE: PLANTED}, allow_redirects=False)
    assert attacker.status == 303 and attacker.headers["Location"].startswith("/login")
    assert (await client.get("/dashboard", allow_redirects=False)).status == 200, "positive control: the new id works"


async def test_after_logout_the_old_cookie_and_token_change_nothing(client: TestClient[Any, Any]) -> None:
    """A copied cookie and CSRF token are worthless once the user logged out (checked server-side)."""
    response = await login(client, "admin", ADMIN_PASSWORD)
    session_id = response.cookies[SESSION_COOKIE].value
    csrf = hidden_csrf(await (await client.get("/account/tokens")).text())
    out = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert out.status == 303
    replay = await client.post(
        "/account/tokens",
        data={"action": "create", "name": "after logout", "csrf_token": csrf},
        cookies={SESSION_COOKIE: session_id},
        allow_redirects=False,
    )
    assert replay.status == 303 and replay.headers["Location"].startswith("/login")
    admin = next(u for u in await asyncio.to_thread(client.app[keys.STORE].list_users) if u.is_admin)
    assert await asyncio.to_thread(client.app[keys.STORE].list_api_tokens, admin.id) == []


def flags(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


async def test_cookies_are_secure_httponly_and_samesite_by_default_from_the_environment(
    make_client: ClientFactory, tmp_path: pathlib.Path
) -> None:
    """The settings as a deployment reads them: CDRSTATS_COOKIE_SECURE unset means Secure cookies."""
    env = {"CDRSTATS_GATEWAY_STORE_URL": f"sqlite:///{tmp_path / 'env.db'}", "CDRSTATS_ADMIN_PASSWORD": ADMIN_PASSWORD}
    settings = GatewaySettings.from_env(env)
    assert settings.cookie_secure is True
    assert GatewaySettings.from_env({**env, "CDRSTATS_COOKIE_SECURE": "false"}).cookie_secure is False
    client = await make_client(settings)
    page = await client.get("/login")
    login_cookie = page.headers["Set-Cookie"]
    assert flags(login_cookie) >= {"httponly", "secure", "samesite=lax", "path=/"}
    form = {"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": hidden_csrf(await page.text())}
    cookies = {LOGIN_CSRF_COOKIE: page.cookies[LOGIN_CSRF_COOKIE].value}  # the jar keeps Secure ones off http
    done = await client.post("/login", data=form, cookies=cookies, allow_redirects=False)
    assert done.status == 303
    set_cookies = done.headers.getall("Set-Cookie")
    session = next(h for h in set_cookies if h.startswith(f"{SESSION_COOKIE}="))
    assert flags(session) >= {"httponly", "secure", "samesite=lax", "path=/"}
    assert re.search(r"max-age=\d+", session.lower()), "a session cookie that expires"
    assert any(h.startswith(f'{LOGIN_CSRF_COOKIE}=""') for h in set_cookies), "the pre-login token is dropped"
