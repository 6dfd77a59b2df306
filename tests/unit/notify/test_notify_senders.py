"""SMTP and webhook senders against real servers on free ports: what arrives, and which failures are
retried (timeouts, refused connections, 4xx SMTP, 5xx/408/429 HTTP) or final (5xx SMTP, other 4xx HTTP)."""

from __future__ import annotations

import json
import pathlib
import ssl
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cdrstats_common.testing import free_port
from cdrstats_common.testing_receivers import SmtpCapture, WebhookReceiver
from cdrstats_notify.domain import webhook
from cdrstats_notify.domain.deliveries import Delivery
from cdrstats_notify.senders import SmtpSender, WebhookSender
from cdrstats_notify.settings import SmtpSettings

SECRET = "hook-secret"


def smtp_settings(port: int, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": "",
        "password": "",
        "mail_from": "cdr-stats@example.com",
        "timeout_s": 5.0,
    }
    values.update(overrides)
    return SmtpSettings(**values)


def mail(to: str = "noc@example.com") -> Delivery:
    return Delivery(
        owner="",
        channel="email",
        recipient=to,
        kind="alarm_triggered",
        reference="ev-1",
        subject="[CDR-Stats] ALARM: ASR — 27.25 %",
        text="ASR: 27.25 %\nhttps://cdr.example.com/cdrs?x=1\n",
        html="<p>ASR: <b>27.25 %</b></p>",
        id="d-1",
    )


def hook(url: str) -> Delivery:
    return Delivery(
        owner="",
        channel="webhook",
        recipient=url,
        kind="alarm_triggered",
        reference="ev-1",
        subject="s",
        payload={"kind": "alarm_triggered", "count": 1, "events": [{"id": "ev-1", "data": {"value": 27.25}}]},
        id="d-2",
    )


@pytest.fixture
def smtp() -> Iterator[SmtpCapture]:
    with SmtpCapture() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def test_an_email_arrives_with_both_parts(smtp: SmtpCapture) -> None:
    result = SmtpSender(smtp_settings(smtp.port)).send(mail())
    assert result.ok, result.error
    (received,) = smtp.wait(1)
    assert received.recipients == ("noc@example.com",)
    assert received.mail_from == "cdr-stats@example.com"
    assert received.message["Subject"] == "[CDR-Stats] ALARM: ASR — 27.25 %"
    assert "27.25 %" in received.part("plain") and "https://cdr.example.com/cdrs?x=1" in received.part("plain")
    assert "<b>27.25 %</b>" in received.part("html")


def test_refused_recipients_5xx_is_final_4xx_is_retried(smtp: SmtpCapture) -> None:
    smtp.refuse["gone@example.com"] = "550 5.1.1 no such user"
    smtp.refuse["busy@example.com"] = "451 4.3.0 try later"
    sender = SmtpSender(smtp_settings(smtp.port))
    gone, busy = sender.send(mail("gone@example.com")), sender.send(mail("busy@example.com"))
    assert not gone.ok and gone.permanent and "550" in gone.error and "no such user" in gone.error
    assert not busy.ok and not busy.permanent and "451" in busy.error
    assert smtp.mails == []


def test_no_server_is_retried_and_no_host_is_final() -> None:
    port = free_port()
    down = SmtpSender(smtp_settings(port, timeout_s=2.0)).send(mail())
    assert not down.ok and not down.permanent and f"127.0.0.1:{port}" in down.error
    off = SmtpSender(smtp_settings(port, host="")).send(mail())
    assert not off.ok and off.permanent and "CDRSTATS_SMTP_HOST" in off.error


def test_login_when_a_user_is_set() -> None:
    with SmtpCapture(credentials=("alice", "pw")) as server:
        assert SmtpSender(smtp_settings(server.port, username="alice", password="pw")).send(mail()).ok
        wrong = SmtpSender(smtp_settings(server.port, username="alice", password="nope")).send(mail())
        assert not wrong.ok and not wrong.permanent and "login failed" in wrong.error
        anonymous = SmtpSender(smtp_settings(server.port)).send(mail())
        assert not anonymous.ok  # the server requires AUTH
        assert server.logins == ["alice"] and len(server.mails) == 1


@pytest.fixture
def tls_files(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1 that the client trusts (SSL_CERT_FILE)."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_starttls_with_login(tls_files: ssl.SSLContext, security: str) -> None:
    with SmtpCapture(credentials=("bob", "pw"), tls=tls_files, implicit_tls=security == "tls") as server:
        settings = smtp_settings(server.port, security=security, username="bob", password="pw")
        result = SmtpSender(settings).send(mail())
        assert result.ok, result.error
        assert server.logins == ["bob"]
        assert server.wait(1)[0].message["Subject"].startswith("[CDR-Stats] ALARM")
        plain = SmtpSender(smtp_settings(server.port, username="bob", password="pw", timeout_s=1.0)).send(mail())
        assert not plain.ok  # the server does not take a login in clear text


def test_a_webhook_arrives_signed(receiver: WebhookReceiver) -> None:
    result = WebhookSender(SECRET, 5.0, clock=lambda: 1_764_000_000.5).send(hook(receiver.url("/in?tenant=7")))
    assert result.ok, result.error
    (request,) = receiver.wait(1)
    assert request.path == "/in?tenant=7"
    assert json.loads(request.body)["events"][0]["data"]["value"] == 27.25
    assert request.headers["X-CDRStats-Event"] == "alarm_triggered"
    assert request.headers["X-CDRStats-Delivery"] == "d-2"
    assert request.headers["Content-Type"] == "application/json"
    signature = request.headers["X-CDRStats-Signature"]
    assert signature.startswith("t=1764000000,")
    assert webhook.verify_signature(SECRET, signature, request.body, now=1_764_000_010)
    assert not webhook.verify_signature("other", signature, request.body, now=1_764_000_010)


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(500, False), (503, False), (408, False), (429, False), (404, True), (400, True), (410, True), (302, True)],
)
def test_http_status_classification(receiver: WebhookReceiver, status: int, permanent: bool) -> None:
    receiver.status = status
    result = WebhookSender(SECRET, 5.0).send(hook(receiver.url()))
    assert not result.ok and result.permanent is permanent
    assert result.error.startswith(f"HTTP {status}")


def test_retry_after_is_passed_on(receiver: WebhookReceiver) -> None:
    receiver.status = 429
    receiver.response_headers = {"Retry-After": "120"}
    assert WebhookSender(SECRET, 5.0).send(hook(receiver.url())).retry_after_s == 120


def test_basic_auth_from_the_url(receiver: WebhookReceiver) -> None:
    url = receiver.url().replace("http://", "http://user:p%40ss@")
    assert WebhookSender(SECRET, 5.0).send(hook(url)).ok
    assert receiver.wait(1)[0].headers["Authorization"] == "Basic dXNlcjpwQHNz"  # user:p@ss


def test_closed_port_and_slow_receiver_are_retried(receiver: WebhookReceiver) -> None:
    closed = WebhookSender(SECRET, 2.0).send(hook(f"http://127.0.0.1:{free_port()}/x"))
    assert not closed.ok and not closed.permanent and "ConnectionRefusedError" in closed.error
    receiver.delay_s = 3.0
    started = time.monotonic()
    slow = WebhookSender(SECRET, 0.5).send(hook(receiver.url()))
    assert time.monotonic() - started < 2.5
    assert not slow.ok and not slow.permanent and "timed out" in slow.error.lower()
