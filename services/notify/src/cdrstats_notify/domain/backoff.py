"""When a failed delivery is tried again: exponential backoff with jitter, bounded by attempts and age.

After the n-th failed attempt the next one waits ``min(base * factor**(n-1), max_delay)`` seconds, shortened
by a random share of up to ``jitter`` (so deliveries that failed together, e.g. while a receiver was down,
do not all come back in the same second). A delivery is given up (status ``failed``) after
``max_attempts`` attempts, or when the next attempt would fall more than ``max_age`` after it was queued.
With the defaults: 30 s, 1, 2, 4, 8, 16, 32 min, then hourly — 12 attempts over about 5 h 15 min.
A receiver's ``Retry-After`` (429/503) can only make the wait longer.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

US = 1_000_000


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 30.0
    factor: float = 2.0
    max_delay_s: float = 3600.0
    max_attempts: int = 12
    max_age_s: float = 86_400.0
    jitter: float = 0.5  # the wait is drawn uniformly from [(1 - jitter) * delay, delay]

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.factor < 1 or self.max_delay_s < self.base_s:
            raise ValueError("retry policy: expected base > 0, factor >= 1 and max_delay >= base")
        if self.max_attempts < 1 or self.max_age_s <= 0 or not 0 <= self.jitter < 1:
            raise ValueError("retry policy: expected max_attempts >= 1, max_age > 0 and 0 <= jitter < 1")

    def delay_s(self, attempts: int, rand: float) -> float:
        """The wait after ``attempts`` failed attempts (``rand`` in [0, 1) picks the jitter)."""
        nominal = min(self.base_s * self.factor ** max(0, attempts - 1), self.max_delay_s)
        return nominal * (1.0 - self.jitter * rand)

    def next_attempt_us(
        self,
        attempts: int,
        created_us: int,
        now_us: int,
        *,
        retry_after_s: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> int | None:
        """When to try again after ``attempts`` failed attempts; None = give up."""
        if attempts >= self.max_attempts:
            return None
        wait_s = self.delay_s(attempts, rand())
        if retry_after_s is not None:
            wait_s = max(wait_s, min(retry_after_s, self.max_delay_s))
        at = now_us + int(wait_s * US)
        if at - created_us > self.max_age_s * US:
            return None
        return at
