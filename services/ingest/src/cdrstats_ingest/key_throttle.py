"""Wrong switch keys on the HTTP receiver: after ``limit`` failures of a key within ``window_s``, refuse it.

The receiver keys failures by (switch user, client address), so a guesser is stopped without
locking the real switch out. Kept in memory per process (N receiver replicas allow N times the
limit); the gateway's login throttles count in its store instead (cdrstats_gateway.throttle).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

#: the most keys kept before expired ones are swept (a flood of random usernames stays bounded)
MAX_KEYS = 100_000


class FailureThrottle:
    """In-process sliding window of failures per key; a blocked key answers ``retry_after`` > 0.

    Per process: N replicas of a receiver allow N times the limit.
    """

    def __init__(self, *, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
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
