"""Server-Sent Events: live pages (dashboard refresh, calls in progress) without polling from the browser."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

#: a comment line at least this often keeps proxies from closing an idle stream
KEEPALIVE_S = 15.0


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass events through at once
        }
    )
    await response.prepare(request)
    return response


def encode(event: str, data: Any, *, retry_ms: int | None = None) -> bytes:
    """One event; ``data`` as compact JSON on a single line (JSON escapes every newline)."""
    lines = [f"event: {event}", f"data: {json.dumps(data, separators=(',', ':'))}"]
    if retry_ms is not None:
        lines.insert(0, f"retry: {retry_ms}")
    return ("\n".join(lines) + "\n\n").encode()


async def send(response: web.StreamResponse, event: str, data: Any, *, retry_ms: int | None = None) -> bool:
    """False when the browser went away (the handler then ends its loop)."""
    try:
        await response.write(encode(event, data, retry_ms=retry_ms))
    except (ConnectionResetError, ConnectionError):
        return False
    return True


async def keepalive(response: web.StreamResponse) -> bool:
    try:
        await response.write(b": keepalive\n\n")
    except (ConnectionResetError, ConnectionError):
        return False
    return True
