"""Sending one delivery: SMTP (smtplib) and webhook POSTs (http.client), each bounded by a timeout.

Both are plain blocking code: in the eventlet worker their sockets are green, so the DeliveriesService
runs many at once; in the api they run in a thread. Each returns a ``SendResult`` that tells the
caller whether to retry: a refusal that will not change by itself (SMTP 5xx for the recipient or the
message, HTTP 4xx other than 408/429, redirects) is permanent; timeouts, refused connections, SMTP 4xx
and HTTP 5xx/408/429 are worth retrying.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import smtplib
import ssl
import time
import urllib.parse
from collections.abc import Callable
from typing import Protocol

from cdrstats_notify.domain import webhook
from cdrstats_notify.domain.deliveries import EMAIL, Delivery
from cdrstats_notify.domain.email import build_message
from cdrstats_notify.settings import SmtpSettings

MAX_RESPONSE_BYTES = 65_536
RETRYABLE_HTTP = frozenset({408, 429})


@dataclasses.dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str = ""
    permanent: bool = False  # retrying cannot help
    retry_after_s: float | None = None  # the receiver asked for this much patience (HTTP Retry-After)


SENT = SendResult(True)


class Sender(Protocol):
    def send(self, delivery: Delivery) -> SendResult: ...


class SmtpSender:
    def __init__(self, smtp: SmtpSettings, clock: Callable[[], float] = time.time) -> None:
        self.smtp = smtp
        self.clock = clock

    def send(self, delivery: Delivery) -> SendResult:
        if not self.smtp.host:
            return SendResult(False, "e-mail is off: CDRSTATS_SMTP_HOST is not set", permanent=True)
        message = build_message(
            mail_from=self.smtp.mail_from,
            to=delivery.recipient,
            subject=delivery.subject,
            text=delivery.text,
            html=delivery.html,
            delivery_id=delivery.id,
            date=self.clock(),
        )
        try:
            with self._connect() as client:
                client.send_message(message, from_addr=self.smtp.mail_from, to_addrs=[delivery.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            return SendResult(False, f"SMTP {code} {_text(reply)} (recipient refused)", permanent=code >= 500)
        except smtplib.SMTPAuthenticationError as exc:  # the settings may be fixed: keep trying until given up
            return SendResult(False, f"SMTP {exc.smtp_code} {_text(exc.smtp_error)} (login failed)")
        except smtplib.SMTPResponseException as exc:
            return SendResult(False, f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}", permanent=exc.smtp_code >= 500)
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(False, f"SMTP {self.smtp.host}:{self.smtp.port}: {_describe(exc)}")
        return SENT

    def _connect(self) -> smtplib.SMTP:
        smtp = self.smtp
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
        try:
            if smtp.security == "starttls":
                client.starttls(context=context)
            if smtp.username:
                client.login(smtp.username, smtp.password)
        except BaseException:
            client.close()
            raise
        return client


class WebhookSender:
    """POSTs the delivery's JSON payload, signed (domain.webhook); 2xx = sent. Redirects are not followed."""

    def __init__(self, secret: str, timeout_s: float, clock: Callable[[], float] = time.time) -> None:
        self.secret = secret
        self.timeout_s = timeout_s
        self.clock = clock

    def send(self, delivery: Delivery) -> SendResult:
        url = urllib.parse.urlsplit(delivery.recipient)
        if url.scheme not in ("http", "https") or not url.hostname:
            return SendResult(False, f"recipient: expected an http(s) URL, got {delivery.recipient!r}", permanent=True)
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = webhook.headers(
            self.secret, body, kind=delivery.kind, delivery_id=delivery.id, timestamp=int(self.clock())
        )
        if url.username:
            credentials = f"{urllib.parse.unquote(url.username)}:{urllib.parse.unquote(url.password or '')}"
            headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        connection: http.client.HTTPConnection
        if url.scheme == "https":
            connection = http.client.HTTPSConnection(
                url.hostname, url.port, timeout=self.timeout_s, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(url.hostname, url.port, timeout=self.timeout_s)
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            status, retry_after = response.status, response.getheader("Retry-After")
        except (OSError, http.client.HTTPException) as exc:
            return SendResult(False, f"POST {url.hostname}:{url.port or url.scheme}: {_describe(exc)}")
        finally:
            connection.close()
        return _http_result(status, retry_after)


def _http_result(status: int, retry_after: str | None) -> SendResult:
    if 200 <= status < 300:
        return SENT
    error = f"HTTP {status} {http.client.responses.get(status, '')}".rstrip()
    if status >= 500 or status in RETRYABLE_HTTP:
        wait = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
        return SendResult(False, error, retry_after_s=wait)
    return SendResult(False, error + (" (redirects are not followed)" if 300 <= status < 400 else ""), permanent=True)


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def sender_for(channel: str, smtp: SmtpSender, hooks: WebhookSender) -> Sender:
    return smtp if channel == EMAIL else hooks
