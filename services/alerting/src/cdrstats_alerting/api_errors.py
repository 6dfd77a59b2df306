"""Domain error -> gRPC status, once for every RPC of the AlertingService."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import NoReturn, TypeVar

import grpc

from cdrstats_alerting.domain.errors import AlertingError, InvalidArgument, NotFound, PermissionDenied

Ctx = grpc.aio.ServicerContext
T = TypeVar("T")

_STATUS: tuple[tuple[type[AlertingError], grpc.StatusCode], ...] = (
    (InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
)


def status_of(error: AlertingError) -> grpc.StatusCode:
    return next((code for kind, code in _STATUS if isinstance(error, kind)), grpc.StatusCode.FAILED_PRECONDITION)


async def abort(context: Ctx, code: grpc.StatusCode, message: str) -> NoReturn:
    await context.abort(code, message)
    raise AssertionError("unreachable: abort raises")


async def call(context: Ctx, fn: Callable[[], T]) -> T:
    """Run a blocking use-case in a thread; a domain error aborts the RPC with its status."""
    try:
        return await asyncio.to_thread(fn)
    except AlertingError as exc:
        await abort(context, status_of(exc), str(exc))
