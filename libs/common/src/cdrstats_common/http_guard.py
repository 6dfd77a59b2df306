"""What the public HTTP servers (gateway, ingest receivers) refuse before a handler runs: slow senders, non-UTF-8.

aiohttp bounds neither headers nor bodies in time. A connection that dribbles its headers is
kept until ``keepalive_timeout`` (an hour by default), and a body that dribbles is read for as
long as it lasts, so a handful of slow clients (slowloris) hold connections and handlers. Both
servers therefore run with ``keepalive_timeout=read_timeout_s`` (it also closes a connection
whose request headers are not complete by then) and ``guard_middleware(read_timeout_s)``,
which cuts a body that stalls for ``read_timeout_s`` or arrives slower on average than
``MIN_BODY_RATE`` after a ``read_timeout_s`` grace (Apache mod_reqtimeout's rule). Only the
time a handler spends waiting for the sender counts: a body the server is not reading yet
(flow control while it forwards an import, say) is not the sender's fault.

aiohttp decodes header values as UTF-8 with surrogate escapes and leaves undecodable
``%XX`` sequences of the query in place, so a handler would silently see other text than was
sent (or fail encoding it again); such a request is a 400 naming the header or parameter.

A request aiohttp cannot even parse (raw bytes over 0x7F in the request line, a header line
over 8190 bytes) is answered 400 by aiohttp itself and logged as an ERROR with a traceback;
that is the client's mistake, so the guard turns it into one WARNING line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import urllib.parse

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger(__name__)

#: bytes per second a body must average once the grace of read_timeout_s is used up
MIN_BODY_RATE = 500


class SlowBody(asyncio.TimeoutError):
    """Set on the body stream of a too slow sender. A TimeoutError, so that aiohttp's own
    read of the rest of an unread body after the response ends quietly on it too."""


def utf8_problem(request: web.BaseRequest) -> str | None:
    """What in the request line or headers is not UTF-8, or None."""
    path = urllib.parse.unquote_to_bytes(request.rel_url.raw_path)
    if (where := _bad_utf8(path)) is not None:
        return f"path: not valid UTF-8 ({where})"
    problem = urlencoded_problem(request.rel_url.raw_query_string.encode(), "query parameter")
    if problem is not None:
        return problem
    for header, text in request.headers.items():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a surrogate escape U+DC80..U+DCFF stands for one raw byte
            return f"header {header}: not valid UTF-8 (byte 0x{ord(text[exc.start]) & 0xFF:02x} at {exc.start})"
    return None


def urlencoded_problem(data: bytes, what: str) -> str | None:
    """Which ``name=value&...`` pair (a query string, a form body) is not UTF-8 once %-decoded, or None."""
    for pair in data.split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = urllib.parse.unquote_to_bytes(raw_name.replace(b"+", b" "))
        value = urllib.parse.unquote_to_bytes(raw_value.replace(b"+", b" "))
        where = _bad_utf8(name) or _bad_utf8(value)
        if where is not None:
            shown = name.decode("utf-8", "replace")[:100]
            return f"{what} {shown!r}: not valid UTF-8 ({where})"
    return None


def _bad_utf8(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"byte 0x{data[exc.start]:02x} at {exc.start}"
    return None


class _MalformedRequestFilter(logging.Filter):
    """On aiohttp.server: its ERROR + traceback for an unparsable request becomes a WARNING line."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and exc.code < 500:
            first_line = (exc.message or "").strip().splitlines()[:1]
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = "malformed request refused with %s: %s"
            record.args = (exc.code, first_line[0] if first_line else "")
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_malformed_requests() -> None:
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _MalformedRequestFilter) for f in server_log.filters):
        server_log.addFilter(_MalformedRequestFilter())


def guard_middleware(read_timeout_s: float) -> Middleware:
    """400 for non-UTF-8 request lines and headers; 408 for a body too slow to arrive (see the module doc)."""
    _quiet_malformed_requests()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        problem = utf8_problem(request)
        if problem is not None:
            raise web.HTTPBadRequest(text=problem)
        if request.content.is_eof():  # no body, or all of it came with the headers
            return await handler(request)
        watchdog = asyncio.create_task(_watch_body(request, read_timeout_s))
        try:
            return await handler(request)
        except SlowBody as exc:
            received = request.content.total_bytes
            fields = {"method": request.method, "path": request.path, "reason": str(exc), "received_bytes": received}
            log.warning("request body too slow: cut off", extra={"fields": fields})
            raise web.HTTPRequestTimeout(text=f"request body: {exc}; the connection is closed") from None
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog

    return guard


async def _watch_body(request: web.Request, timeout_s: float) -> None:
    """Sets SlowBody on the body stream once the sender has kept a waiting handler too long."""
    content = request.content
    tick = min(1.0, timeout_s / 8)
    waited = stalled = 0.0
    received = content.total_bytes
    while not content.is_eof():
        await asyncio.sleep(tick)
        if content.total_bytes != received:
            received, stalled = content.total_bytes, 0.0
        # aiohttp's StreamReader has no public "a reader is waiting" flag; _waiter is set exactly then
        if getattr(content, "_waiter", None) is None:
            continue
        waited += tick
        stalled += tick
        if stalled >= timeout_s:
            reason = f"nothing received for {timeout_s:g} s"
        elif waited >= timeout_s + received / MIN_BODY_RATE:
            reason = f"arriving slower than {MIN_BODY_RATE} bytes/s"
        else:
            continue
        content.set_exception(SlowBody(reason))
        return
