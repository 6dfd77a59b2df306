"""No secret in any log line, and none stored as given: the whole product (`cdrstats run`) at DEBUG.

One run, the flows that handle secrets (wrong and right logins, HTTP basic, a new API token, a
user's password and its change, a switch with a push key and pull connectors with DSN and
connector passwords, a push with the key, an SMTP login, a webhook with credentials in its
URL, logout), then every log file and the console output are searched for every secret, in
the forms a leak would take (as given, URL-quoted, base64 of ``user:password``). The SQLite
files afterwards: hashes only where a hash will do, and every file owner-only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import pathlib
import re
import stat
import time
import urllib.error
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import yarl
from e2e_testkit import Product

from cdrstats_cli import demo
from cdrstats_common.cdr import new_cdr
from cdrstats_common.testing import rabbitmq_vhost, wait_for
from cdrstats_common.testing_receivers import SmtpCapture, WebhookReceiver

pytestmark = pytest.mark.integration

SMTP_USER, SMTP_PASSWORD = "mailer", "smtp-password-Otter-6612"
USER_PASSWORD = "user-password-Falcon-3309"
NEW_PASSWORD = "user-password-Badger-7150"
PUSH_KEY = "push-key-Marten-8841"
DSN_PASSWORD = "dsn-password-Ibex-4028"
CONNECTOR_PASSWORD = "connector-password-Vole-5173"
HOOK_PASSWORD = "hook-password-Stoat-9931"


class Run:
    """The product, its receivers, and every secret the flows handed to it."""

    def __init__(self, product: Product, smtp: SmtpCapture, hooks: WebhookReceiver) -> None:
        self.product, self.smtp, self.hooks = product, smtp, hooks
        self.secrets: dict[str, str] = {**product.secrets}
        self.secrets |= {
            "smtp_password": SMTP_PASSWORD,
            "user_password": USER_PASSWORD,
            "new_password": NEW_PASSWORD,
            "push_key": PUSH_KEY,
            "dsn_password": DSN_PASSWORD,
            "connector_password": CONNECTOR_PASSWORD,
            "hook_password": HOOK_PASSWORD,
        }
        self.basic_pairs: list[tuple[str, str]] = [("admin", self.secrets["admin_password"]), ("sec-push", PUSH_KEY)]

    @property
    def data_dir(self) -> pathlib.Path:
        return self.product.data_dir

    def admin(self) -> dict[str, str]:
        return basic("admin", self.secrets["admin_password"])


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": aiohttp.encode_basic_auth(username, password)}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    data = tmp_path_factory.mktemp("security-run")
    with (
        rabbitmq_vhost("cdrstats-security") as amqp_url,
        SmtpCapture(credentials=(SMTP_USER, SMTP_PASSWORD)) as smtp,
        WebhookReceiver() as hooks,
    ):
        product = Product(data, amqp_url)
        product.env |= {
            "CDRSTATS_DEMO": "0",
            "CDRSTATS_LOG_LEVEL": "DEBUG",
            "CDRSTATS_SMTP_HOST": "127.0.0.1",
            "CDRSTATS_SMTP_PORT": str(smtp.port),
            "CDRSTATS_SMTP_SECURITY": "none",
            "CDRSTATS_SMTP_USER": SMTP_USER,
            "CDRSTATS_SMTP_PASSWORD": SMTP_PASSWORD,
        }
        product.start()
        try:
            done = Run(product, smtp, hooks)
            asyncio.run(exercise(done))
            settle(done)
            yield done
        finally:
            product.stop()


async def form_csrf(session: aiohttp.ClientSession, url: str) -> str:
    page = await (await session.get(url)).text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, url
    return match.group(1)


async def login(session: aiohttp.ClientSession, base: str, username: str, password: str) -> int:
    csrf = await form_csrf(session, f"{base}/login")
    form = {"username": username, "password": password, "csrf_token": csrf}
    response = await session.post(f"{base}/login", data=form, allow_redirects=False)
    return response.status


def switch_body(switch_id: str, connector: dict[str, Any], password: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"id": switch_id, "name": switch_id, "type": "kamailio", "home_country": "DE"}
    body |= {"connector": {**connector, "poll_interval_s": 1}}
    if password:
        body |= {"username": switch_id, "password": password}
    return body


async def pull_connectors(run: Run, api: aiohttp.ClientSession, base: str) -> None:
    """Two connectors whose databases refuse or lack the table: their errors get logged by the worker."""
    kam = {
        "type": "kamailio_acc",
        "dsn": f"postgresql://kam:{urllib.parse.quote(DSN_PASSWORD)}@127.0.0.1:5432/no_such_database",
        "table": "acc_cdrs",
    }
    ast = {"type": "asterisk_db", "dsn": "mysql://root@127.0.0.1:3306/no_such_database", "password": CONNECTOR_PASSWORD}
    for switch_id, connector in (("sec-kam", kam), ("sec-ast", {**ast, "table": "cdr"})):
        body = switch_body(switch_id, connector)
        body["type"] = "kamailio" if switch_id == "sec-kam" else "asterisk"
        response = await api.post(f"{base}/api/v1/switches", json=body)
        assert response.status == 201, await response.text()
        shown = json.dumps(await response.json())
        assert DSN_PASSWORD not in shown and CONNECTOR_PASSWORD not in shown, "the API echoes a password"


async def exercise(run: Run) -> None:
    base = run.product.url
    async with aiohttp.ClientSession(headers=run.admin()) as api:
        await pull_connectors(run, api, base)  # first: the worker picks them up within its 10 s refresh
        assert (await api.get(f"{base}/api/v1/me")).status == 200
        created = await (await api.post(f"{base}/api/v1/tokens", json={"name": "security"})).json()
        run.secrets["api_token"] = created["token"]
        customer = await (
            await api.post(f"{base}/api/v1/customers", json={"name": "Sec", "accountcodes": ["sec"]})
        ).json()
        user = {"username": "sec-user", "password": USER_PASSWORD, "role": "customer", "customer_id": customer["id"]}
        assert (await api.post(f"{base}/api/v1/users", json=user)).status == 201
        push = switch_body("sec-push", {"type": ""}, PUSH_KEY)
        push["type"] = "freeswitch"
        assert (await api.post(f"{base}/api/v1/switches", json=push)).status == 201
    bearer = {"Authorization": f"Bearer {run.secrets['api_token']}"}
    async with aiohttp.ClientSession(headers=bearer) as api:
        assert (await api.get(f"{base}/api/v1/me")).status == 200
    async with aiohttp.ClientSession(headers=basic("admin", "wrong-" + USER_PASSWORD)) as api:
        assert (await api.get(f"{base}/api/v1/me")).status == 401
    async with aiohttp.ClientSession(headers=basic("sec-user", USER_PASSWORD)) as api:
        change = {"current_password": USER_PASSWORD, "new_password": NEW_PASSWORD}
        assert (await api.post(f"{base}/api/v1/me/password", json=change)).status in (200, 204)
    async with aiohttp.ClientSession(headers=basic("sec-push", PUSH_KEY)) as switch:
        bulk = {"switch_id": "sec-push", "cdrs": [bulk_record()]}
        reply = await switch.post(f"{base}/api/v1/cdrs", json=bulk)
        assert reply.status == 200, await reply.text()
    await push_with_key(run)
    await browser_flows(run)


def bulk_record() -> dict[str, Any]:
    return {
        "uuid": str(uuid.uuid4()),
        "caller_id_number": "+4930555001",
        "destination_number": "+4930555000",
        "start_time": "2025-10-14T08:00:00Z",
        "answer_time": "2025-10-14T08:00:02Z",
        "end_time": "2025-10-14T08:00:32Z",
        "duration_ms": 32_000,
        "billsec_ms": 30_000,
        "hangup_cause": 16,
    }


async def push_with_key(run: Run) -> None:
    """The ingest HTTP receiver as FreeSWITCH calls it: with the key, and once with a wrong one."""
    now_us = int(time.time() * 1_000_000)
    cdr = new_cdr(
        switch_id="sec-push",
        uuid=str(uuid.uuid4()),
        call_id=f"{uuid.uuid4().hex}@10.0.0.5",
        destination_number="+442071838750",
        start_time_us=now_us - 60_000_000,
        end_time_us=now_us - 1_000_000,
    )
    ingest = f"http://127.0.0.1:{run.product.ingest_port}"
    document = demo.freeswitch_json_document(cdr)
    assert demo.post_freeswitch_json(ingest, "sec-push", PUSH_KEY, document) == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        demo.post_freeswitch_json(ingest, "sec-push", PUSH_KEY[::-1], document)
    assert refused.value.code == 401


async def browser_flows(run: Run) -> None:
    """Pages: a wrong then a right login, a token made in the UI, the test sends, logout."""
    base = run.product.url
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        assert await login(browser, base, "admin", "wrong-" + run.secrets["admin_password"]) == 200
        assert await login(browser, base, "admin", run.secrets["admin_password"]) == 303
        run.secrets["session_id"] = jar.filter_cookies(yarl.URL(base))["cdrstats_session"].value
        csrf = await form_csrf(browser, f"{base}/account/tokens")
        made = await browser.post(f"{base}/account/tokens", data={"action": "create", "name": "ui", "csrf_token": csrf})
        found = re.search(r"data-new-token>([^<]+)<", await made.text())
        assert made.status == 201 and found
        run.secrets["ui_token"] = found.group(1)
        hook = run.hooks.url("/hook").replace("http://", f"http://hookuser:{HOOK_PASSWORD}@")
        for action, target in (("test_email", "noc@sec.example"), ("test_webhook", hook)):
            sent = await browser.post(f"{base}/contacts", data={"action": action, "target": target, "csrf_token": csrf})
            assert sent.status == 200 and "sent to" in await sent.text(), action
        out = await browser.post(f"{base}/logout", data={"csrf_token": csrf}, allow_redirects=False)
        assert out.status == 303
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        assert await login(browser, base, "sec-user", NEW_PASSWORD) == 303


def leak_forms(run: Run) -> dict[str, str]:
    """Each secret as given, URL-quoted, and HTTP basic credentials as sent on the wire."""
    forms: dict[str, str] = {}
    for name, value in run.secrets.items():
        forms[name] = value
        if urllib.parse.quote(value, safe="") != value:
            forms[f"{name} (url-quoted)"] = urllib.parse.quote(value, safe="")
    for user, password in run.basic_pairs:
        forms[f"basic {user}"] = base64.b64encode(f"{user}:{password}".encode()).decode()
    forms["amqp url with password"] = "guest:guest@"
    return forms


def log_files(run: Run) -> list[pathlib.Path]:
    return [*sorted((run.data_dir / "log").glob("*.log")), run.data_dir / "run-stdout.log"]


def settle(run: Run) -> None:
    """Wait for what the flows set off in other processes: the mail, the webhook, the connectors' polls."""
    assert run.smtp.wait(1, timeout_s=20)[0].recipients == ("noc@sec.example",)
    assert run.smtp.logins == [SMTP_USER], "notify logged in to SMTP with its password"
    assert run.hooks.wait(1, timeout_s=20)[0].headers.get("Authorization", "").startswith("Basic ")
    worker_log = run.data_dir / "log" / "ingest-worker.log"
    wait_for(
        lambda: all(f'"{s}"' in worker_log.read_text() for s in ("sec-kam", "sec-ast")),
        timeout_s=30,
        interval_s=0.5,
        what="the pull connectors' errors in ingest-worker.log",
    )
    time.sleep(1)  # let the last lines of every process reach their files


def test_no_secret_appears_in_any_log_line(run: Run) -> None:
    files = log_files(run)
    debug = {f.name for f in files if '"level": "debug"' in f.read_text(errors="replace")}
    assert {"gateway.log", "ingest-api.log", "notify-api.log"} <= debug, "DEBUG logging was on"
    leaks = find_leaks(run, files)
    assert leaks == [], "\n".join(leaks[:20])
    assert find_leaks(run, [run.data_dir / "secrets.json"]), "positive control: the search finds a secret"


def find_leaks(run: Run, files: list[pathlib.Path]) -> list[str]:
    leaks = []
    for path in files:
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for name, form in leak_forms(run).items():
                if form in line:
                    leaks.append(f"{path.name}:{number}: {name}: {line[:200]}")
    return leaks


def test_secrets_at_rest_are_hashed_or_owner_only(run: Run) -> None:
    """What a copy of the data directory would give away."""

    def raw(name: str) -> bytes:
        path = run.data_dir / name
        return b"".join(p.read_bytes() for p in (path, path.with_name(f"{name}-wal")) if p.exists())

    gateway, ingest = raw("gateway.db"), raw("ingest.db")
    for name in ("admin_password", "user_password", "new_password", "api_token", "ui_token", "session_id"):
        assert run.secrets[name].encode() not in gateway, name
    for name in ("push_key", "demo_switch_key"):
        assert run.secrets[name].encode() not in ingest, name
    everything = b"".join(raw(p.name) for p in run.data_dir.glob("*.db"))
    for name in ("smtp_password", "webhook_secret", "admin_password", "api_token"):
        assert run.secrets[name].encode() not in everything, name
    # the connector passwords must be usable to connect: kept as given, in owner-only files
    assert CONNECTOR_PASSWORD.encode() in ingest
    stores = sorted(run.data_dir.glob("*.db*"))
    assert len(stores) >= 5
    for path in [*stores, run.data_dir / "secrets.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name
    # logs hold no secrets (above) but usernames and addresses: owner and group only
    logs = sorted((run.data_dir / "log").glob("*.log"))
    assert len(logs) >= 9
    for path in logs:
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path.name
