"""Login and send throttling, counted in the gateway's store so every replica sees the same events.

After N failures per key (username, client IP) in a window a key is refused. The events live in the
store (``throttle_events``): with two replicas on one store an attacker still gets N tries, not 2 x N,
and a restart keeps a block. The clock is wall time (``time.time``) because replicas on different hosts
and a restarted process compare it. Every method does store I/O: call it through ``asyncio.to_thread``.
Two replicas checking the same key at the same instant may both let one more try through; the limit
stays a handful, not a multiple. Keys are stored as SHA-256: a password typed into the username field
is not kept readable in the store for the hour its events live.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from cdrstats_gateway.store.base import GatewayStore
from cdrstats_gateway.store.throttle_events import KEEP_S

MAX_FAILURES = 5
WINDOW_S = 15 * 60.0
SEND_LIMIT = 5
SEND_WINDOW_S = 10 * 60.0


class LoginThrottle:
    """Failed logins: MAX_FAILURES per username and per client address in WINDOW_S."""

    def __init__(
        self,
        store: GatewayStore,
        *,
        limit: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if window_s > KEEP_S:
            raise ValueError(f"a throttle window of {window_s} s outlives the store's {KEEP_S} s of events")
        self.store = store
        self.limit = limit
        self.window_s = window_s
        self.clock = clock

    def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again; 0 when none is blocked."""
        now = self.clock()
        recent = self.store.recent_throttle_events(_stored(keys), now - self.window_s, self.limit)
        wait = 0.0
        for newest_first in recent.values():
            if len(newest_first) >= self.limit:  # blocked until the limit-th latest leaves the window
                wait = max(wait, newest_first[self.limit - 1] + self.window_s - now)
        return wait

    def failed(self, *keys: str) -> None:
        self.store.record_throttle_event(_stored(keys), self.clock())

    def reset(self, key: str) -> None:
        self.store.clear_throttle_key(*_stored((key,)))


class SendThrottle(LoginThrottle):
    """Sends to an address the user typed (test e-mail or webhook, a report sent now): a few per user.

    Without it any customer could make the installation mail or POST to any address or URL in a
    loop (spam relay, request flood) under the operator's name. Every send counts, sent or not.
    """

    def __init__(self, store: GatewayStore, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(store, limit=SEND_LIMIT, window_s=SEND_WINDOW_S, clock=clock)

    def take(self, user_id: int) -> float:
        """Count one send of ``user_id`` and return 0, or return the seconds to wait (nothing counted)."""
        key = f"send:{user_id}"
        wait = self.retry_after(key)
        if wait <= 0:
            self.failed(key)  # the sliding window's "record one event"
        return wait


def _stored(keys: tuple[str, ...]) -> list[str]:
    return [hashlib.sha256(key.encode()).hexdigest() for key in keys]


def login_keys(username: str, client_ip: str | None) -> tuple[str, str]:
    return f"user:{username.strip().lower()}", f"ip:{client_ip or 'unknown'}"
