"""The per-user limit on sends to typed-in addresses (test e-mail/webhook, report now), as HTTP 429."""

from __future__ import annotations

import asyncio
import math

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.throttle import SEND_LIMIT, SEND_WINDOW_S


async def allow_send(request: web.Request, user: User) -> None:
    """Count one send for ``user``, or raise 429 with Retry-After (a page or API JSON via error_middleware).

    Call it right before the send, after the input was validated: a typo costs no send.
    """
    wait = await asyncio.to_thread(request.app[keys.SEND_THROTTLE].take, user.id)  # store I/O
    if wait > 0:
        seconds = math.ceil(wait)
        minutes = round(SEND_WINDOW_S / 60)
        raise web.HTTPTooManyRequests(
            text=f"Too many sends: at most {SEND_LIMIT} test or report sends per {minutes} minutes. "
            f"Retry in {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )
