"""Real receivers for notification tests: an SMTP server (aiosmtpd) and a webhook endpoint (aiohttp), each
on its own thread and free port, recording what arrives so tests can assert the content.

Test-only (aiosmtpd is a test dependency); imported by notify's tests and the full-pipeline tests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import ssl
import threading
import time
import warnings
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from cdrstats_common.testing import free_port


@dataclasses.dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    recipients: tuple[str, ...]
    message: EmailMessage

    def part(self, subtype: str) -> str:
        """The decoded text of the ``text/<subtype>`` part ("" when there is none)."""
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                return str(part.get_content())
        return ""


class _Recorder:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.changed = threading.Condition()

    def add(self, item: Any) -> None:
        with self.changed:
            self.items.append(item)
            self.changed.notify_all()

    def wait(self, count: int, timeout_s: float, what: str, where: Callable[[Any], bool] | None = None) -> list[Any]:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while True:
                found = [item for item in self.items if where is None or where(item)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout_s} s waiting for {count} {what}; got {len(found)}")
                self.changed.wait(left)


class SmtpCapture:
    """An SMTP server on 127.0.0.1. ``refuse[address] = "550 5.1.1 no such user"`` makes RCPT fail for it.

    ``credentials`` requires AUTH (LOGIN/PLAIN) with them; ``tls`` (a server SSLContext) offers and requires
    STARTTLS, or with ``implicit_tls`` speaks TLS from the first byte (SMTPS).
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        credentials: tuple[str, str] | None = None,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.port = port or free_port()
        self.refuse: dict[str, str] = {}
        self.credentials = credentials
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.logins: list[str] = []
        self._mails = _Recorder()
        self._controller: Any = None

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult

        login, password = data.login.decode(), data.password.decode()
        ok = self.credentials == (login, password)
        if ok:
            self.logins.append(login)
        return AuthResult(success=ok, handled=False)

    @property
    def mails(self) -> list[ReceivedMail]:
        return list(self._mails.items)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self._mails.add(ReceivedMail(envelope.mail_from, tuple(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def wait(self, count: int = 1, timeout_s: float = 20.0, to: str | None = None) -> list[ReceivedMail]:
        where = None if to is None else (lambda mail: to in mail.recipients)
        return self._mails.wait(count, timeout_s, "e-mails" + (f" to {to}" if to else ""), where)

    def __enter__(self) -> SmtpCapture:
        from aiosmtpd.controller import Controller

        options: dict[str, Any] = {}
        if self.credentials:
            # aiosmtpd only knows STARTTLS sessions as TLS: with SMTPS (or no TLS at all) it must not insist
            require_tls = self.tls is not None and not self.implicit_tls
            options.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=require_tls)
        if self.tls is not None and self.implicit_tls:
            options.update(ssl_context=self.tls)
        elif self.tls is not None:
            options.update(tls_context=self.tls, require_starttls=True)

        class QuietController(Controller):
            def factory(self) -> Any:
                with warnings.catch_warnings():  # "AUTH without TLS": intended here, a test server
                    warnings.simplefilter("ignore", UserWarning)
                    return super().factory()

        self._controller = QuietController(self, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


@dataclasses.dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered
    time: float


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 answering every POST with ``statuses.pop(0)`` (then ``status``)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.status = 200
        self.statuses: list[int] = []
        self.delay_s = 0.0
        self.response_headers: dict[str, str] = {}
        self._requests = _Recorder()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="webhook-receiver", daemon=True)
        self._runner: Any = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        return list(self._requests.items)

    def wait(self, count: int = 1, timeout_s: float = 20.0, status: int | None = None) -> list[ReceivedRequest]:
        where = None if status is None else (lambda request: request.status == status)
        return self._requests.wait(count, timeout_s, "webhook requests", where)

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.read()
        status = self.statuses.pop(0) if self.statuses else self.status
        self._requests.add(ReceivedRequest(request.path_qs, dict(request.headers), body, status, time.time()))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return web.Response(status=status, text="ok" if status < 300 else "no", headers=self.response_headers)

    async def _start(self) -> None:
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
