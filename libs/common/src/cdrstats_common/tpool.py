"""Call blocking code (a sync grpcio stub) from a nameko worker without freezing the eventlet hub."""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def call_blocking(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run ``fn`` in eventlet's OS thread pool; other greenthreads keep running meanwhile."""
    from eventlet import tpool

    return tpool.execute(fn, *args, **kwargs)
