"""Helpers of the bad-input tests: raw HTTP to the running product's two servers, switches, logs.

http.client (not a friendlier client) because these tests must send what friendly clients
refuse to: raw non-UTF-8 header bytes, chunked bodies without a length, bodies byte by byte.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import http.client
import http.cookiejar
import json
import pathlib
import re
import socket
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

#: what a log line of a request gone wrong on our side looks like (not a refusal of bad input)
#: CDRSTATS_HTTP_READ_TIMEOUT_S of the product under test: slow-client tests wait about this long
READ_TIMEOUT_S = 2.0
CRASH_MARKERS = ('"level": "error"', '"level": "critical"', "Traceback", "RecursionError")
PUBLIC_LOGS = ("gateway.log", "ingest-api.log")
#: one Asterisk Master.csv line (18 columns); {uid} makes each line its own call
ASTERISK_LINE = (
    '"acme","0145678901","0612345678","from-trunk","""Jean"" <0145678901>","SIP/carrier-1","SIP/1001-2","Dial",'
    '"SIP/1001,30","2024-03-05 14:02:11","2024-03-05 14:02:15","2024-03-05 14:03:16",65,61,"ANSWERED",'
    '"DOCUMENTATION","{uid}",""'
)


@dataclasses.dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def call(
    port: int,
    method: str,
    path: str,
    body: bytes | Iterable[bytes] | None = None,
    headers: Mapping[str, str | bytes] | None = None,
    *,
    timeout_s: float = 15.0,
) -> Reply:
    """One request on its own connection; an iterable body goes out chunked (no Content-Length)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        chunked = body is not None and not isinstance(body, bytes)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        elif body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        try:
            if chunked:
                assert body is not None and not isinstance(body, bytes)
                for chunk in body:
                    connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                connection.send(b"0\r\n\r\n")
            elif body:
                connection.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed (an oversized body): read that answer
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def raw_exchange(port: int, data: bytes, timeout_s: float = 10.0) -> Reply:
    """Send bytes as they are (e.g. a request line http.client would refuse) and read the one answer.

    The answer is read by its length, not until the server closes: after refusing a body aiohttp
    keeps reading (and dropping) what the client sends for a while before it closes.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())


def rfc3339(seconds_ago: float) -> str:
    moment = datetime.datetime.fromtimestamp(time.time() - seconds_ago, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def api_cdr(**fields: Any) -> dict[str, Any]:
    """A valid bulk-create record of an answered 90 s call ten minutes ago; ``fields`` override."""
    record = {
        "uuid": str(uuid.uuid4()),
        "start_time": rfc3339(600),
        "answer_time": rfc3339(590),
        "end_time": rfc3339(500),
        "caller_id_number": "+14155550100",
        "caller_id_name": "Alice",
        "destination_number": "+442071838750",
        "accountcode": "acme",
        "billsec_ms": 90_000,
        "duration_ms": 100_000,
        "hangup_cause": 16,
    }
    return {**record, **fields}


class Site:
    """The running product as its clients see it: the gateway and the ingest receivers, admin access."""

    def __init__(self, gateway_port: int, ingest_port: int, admin_password: str, data_dir: pathlib.Path) -> None:
        self.gateway_port = gateway_port
        self.ingest_port = ingest_port
        self.admin_password = admin_password
        self.admin = {"Authorization": basic("admin", admin_password)}
        self.data_dir = data_dir

    def use_token(self) -> None:
        """Call the API with an admin token from now on: a password is hashed on every request (slow)."""
        reply = self.api("POST", "/api/v1/tokens", {"name": "bad-input tests"})
        assert reply.status == 201, reply.text
        self.admin = {"Authorization": f"Bearer {reply.json()['token']}"}

    def gateway(self, method: str, path: str, body: Any = None, headers: Mapping[str, Any] | None = None) -> Reply:
        return call(self.gateway_port, method, path, body, headers)

    def api(self, method: str, path: str, document: Any = None) -> Reply:
        """An admin call to /api/v1 with a JSON body."""
        body = None if document is None else json.dumps(document).encode()
        return self.gateway(method, path, body, {**self.admin, "Content-Type": "application/json"})

    def ingest(
        self, path: str, body: Any, switch: tuple[str, str], content_type: str = "application/json", **headers: str
    ) -> Reply:
        sent = {"Authorization": basic(*switch), "Content-Type": content_type, **headers}
        return call(self.ingest_port, "POST", path, body, sent)

    def new_switch(self, prefix: str) -> tuple[str, str]:
        """A switch of the test's own (id, push password): its CDRs and rejects are the test's alone."""
        switch_id = f"{prefix}-{uuid.uuid4().hex[:8]}"
        reply = self.api("POST", "/api/v1/switches", {"id": switch_id, "home_country": "US"})
        assert reply.status == 201, reply.text
        return switch_id, str(reply.json()["credentials"]["password"])

    def cdrs(self, switch_id: str) -> list[dict[str, Any]]:
        reply = self.api("GET", f"/api/v1/cdrs?switch={switch_id}&from=2000-01-01T00:00:00Z&page_size=100")
        assert reply.status == 200, reply.text
        return list(reply.json()["cdrs"])

    def rejects(self, switch_id: str) -> list[dict[str, Any]]:
        reply = self.api("GET", f"/api/v1/rejects?switch_id={switch_id}&limit=500")
        assert reply.status == 200, reply.text
        return list(reply.json()["items"])

    def health(self) -> tuple[Reply, Reply]:
        return call(self.gateway_port, "GET", "/healthz"), call(self.ingest_port, "GET", "/healthz")

    def browser(self) -> urllib.request.OpenerDirector:
        """An admin logged in to the pages (session cookie, the login form's CSRF token), like a browser."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        base = f"http://127.0.0.1:{self.gateway_port}"
        with opener.open(f"{base}/login", timeout=10) as page:
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
        assert token is not None, "the login page has a CSRF field"
        form = {"username": "admin", "password": self.admin_password, "csrf_token": token.group(1)}
        with opener.open(f"{base}/login", urllib.parse.urlencode(form).encode(), timeout=10) as answer:
            assert answer.url.endswith("/dashboard"), answer.url
        return opener

    def log_sizes(self) -> dict[str, int]:
        return {name: self._log(name).stat().st_size for name in PUBLIC_LOGS if self._log(name).exists()}

    def crashes_since(self, sizes: Mapping[str, int]) -> list[str]:
        """Log lines of the two public servers, written after ``sizes``, that look like a crash."""
        found = []
        for name in PUBLIC_LOGS:
            path = self._log(name)
            if not path.exists():
                continue
            with path.open("rb") as handle:
                handle.seek(sizes.get(name, 0))
                text = handle.read().decode("utf-8", "replace")
            found += [f"{name}: {line[:600]}" for line in text.splitlines() if any(m in line for m in CRASH_MARKERS)]
        return found

    def _log(self, name: str) -> pathlib.Path:
        return self.data_dir / "log" / name
