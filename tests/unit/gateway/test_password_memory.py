"""Password checks hold argon2's 64 MiB each: a burst of logins must not multiply that without bound."""

from __future__ import annotations

import threading

from cdrstats_common.testing import PeakRss
from cdrstats_gateway import passwords

BURST = 8  # logins or basic-auth API calls at once: the default thread pool runs up to cpu_count + 4
ARGON2_MIB = 64


def test_a_burst_of_password_checks_holds_at_most_two_argon2_buffers() -> None:
    stored = passwords.hash_password("correct horse")
    start = threading.Barrier(BURST)
    results: list[bool] = []

    def check(password: str) -> None:
        start.wait()
        results.append(passwords.verify_password(stored, password))

    threads = [threading.Thread(target=check, args=("correct horse" if i % 2 else "wrong",)) for i in range(BURST)]
    with PeakRss() as peak:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert sorted(results) == [False] * (BURST // 2) + [True] * (BURST // 2)
    # unbounded, eight checks at once took +513 MiB; two at a time stay near 2 x 64 MiB
    assert peak.growth_mib < 3 * ARGON2_MIB, f"peak RSS rose {peak.growth_mib:.0f} MiB during {BURST} checks"
