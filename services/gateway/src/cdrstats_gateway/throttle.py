"""Login throttling: after N failures per key (username, client IP) in a window, refuse that key."""

from __future__ import annotations

import time
from collections.abc import Callable

from cdrstats_common.throttle import FailureThrottle

MAX_FAILURES = 5
WINDOW_S = 15 * 60.0
SEND_LIMIT = 5
SEND_WINDOW_S = 10 * 60.0


class LoginThrottle(FailureThrottle):
    """Failed logins: MAX_FAILURES per username and per client address in WINDOW_S."""

    def __init__(
        self, *, limit: int = MAX_FAILURES, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(limit=limit, window_s=window_s, clock=clock)


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
