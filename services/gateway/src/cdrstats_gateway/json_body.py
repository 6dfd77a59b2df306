"""JSON request bodies of the REST API: read whole up to a limit (413 past it), parsed strictly (400 naming why).

The body is read from the stream until its end: one ``content.read(n)`` returns only what has
arrived so far, which cut a body sent in several TCP segments short (a bogus 400), and let a
chunked body past the limit be parsed as if it had ended there.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cdrstats_common import strict_json
from cdrstats_gateway.middlewares import ApiError

CHUNK_BYTES = 64 * 1024


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "payload_too_large", f"body: at most {limit} bytes")


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body; a declared or actual size over ``limit`` is refused before more is read."""
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def parse(raw: bytes, expected: str) -> Any:
    """``raw`` as JSON; ``expected`` (e.g. "a JSON object") goes into the 400's message."""
    try:
        return strict_json.loads(raw)
    except strict_json.JsonInputError as exc:
        raise ApiError(400, "invalid_argument", f"body: expected {expected} ({exc})", {"field": "body"}) from None


async def read_json(request: web.Request, limit: int, expected: str, *, empty: bytes = b"") -> Any:
    """read_body + parse; an empty body stands for ``empty`` when given (e.g. ``b"{}"``)."""
    raw = await read_body(request, limit)
    return parse(raw or empty, expected)
