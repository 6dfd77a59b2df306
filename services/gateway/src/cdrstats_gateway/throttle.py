"""Login throttling: after N failures per key (username, client IP) in a window, refuse that key."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW_S = 15 * 60.0
MAX_KEYS = 100_000
SEND_LIMIT = 5
SEND_WINDOW_S = 10 * 60.0


class LoginThrottle:
    """In-process sliding window; one gateway process per store keeps it simple (see the report)."""

    def __init__(
        self, *, limit: int = MAX_FAILURES, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, collections.deque[float]] = {}

    def _recent(self, key: str, now: float) -> collections.deque[float]:
        failures = self._failures.get(key)
        if failures is None:
            return collections.deque()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def retry_after(self, *keys: str) -> float:
        """Seconds until every key may try again; 0 when none is blocked."""
        now = self.clock()
        wait = 0.0
        for key in keys:
            failures = self._recent(key, now)
            if len(failures) >= self.limit:
                wait = max(wait, failures[-self.limit] + self.window_s - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self.clock()
        if len(self._failures) >= MAX_KEYS:
            for key in list(self._failures):
                self._recent(key, now)
        for key in keys:
            self._failures.setdefault(key, collections.deque()).append(now)

    def reset(self, key: str) -> None:
        self._failures.pop(key, None)


class SendThrottle(LoginThrottle):
    """Sends to an address the user typed (test e-mail or webhook, a report sent now): a few per user.

    Without it any customer could make the installation mail or POST to any address or URL in a
    loop (spam relay, request flood) under the operator's name. Every send counts, sent or not.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(limit=SEND_LIMIT, window_s=SEND_WINDOW_S, clock=clock)

    def take(self, user_id: int) -> float:
        """Count one send of ``user_id`` and return 0, or return the seconds to wait (nothing counted)."""
        key = f"send:{user_id}"
        wait = self.retry_after(key)
        if wait <= 0:
            self.failed(key)  # the sliding window's "record one event"
        return wait


def login_keys(username: str, client_ip: str | None) -> tuple[str, str]:
    return f"user:{username.strip().lower()}", f"ip:{client_ip or 'unknown'}"
