"""Ending a gRPC call with a status, for the servicer modules (domain error -> status happens at the call)."""

from __future__ import annotations

from typing import NoReturn

import grpc


async def abort(context: grpc.aio.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    """``context.abort`` typed as never returning, so code after it needs no dummy values."""
    await context.abort(code, message)
    raise AssertionError("unreachable: abort raises")
