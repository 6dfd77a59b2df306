"""Retry timing of failed deliveries (domain/backoff.py)."""

from __future__ import annotations

import pytest

from cdrstats_notify.domain.backoff import US, RetryPolicy

T0 = 1_764_000_000 * US


def test_nominal_delays_double_up_to_the_cap() -> None:
    policy = RetryPolicy(base_s=30, factor=2, max_delay_s=3600, jitter=0.5)
    assert [policy.delay_s(n, 0.0) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_jitter_only_shortens_and_at_most_by_its_share() -> None:
    policy = RetryPolicy(base_s=100, jitter=0.5)
    assert policy.delay_s(1, 0.0) == 100
    assert policy.delay_s(1, 0.999999) == pytest.approx(50, abs=0.001)
    assert policy.delay_s(1, 0.5) == 75


def test_next_attempt_is_now_plus_the_delay() -> None:
    policy = RetryPolicy(base_s=30)
    now = T0 + 5 * US
    assert policy.next_attempt_us(1, T0, now, rand=lambda: 0.0) == now + 30 * US
    assert policy.next_attempt_us(3, T0, now, rand=lambda: 0.0) == now + 120 * US


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(base_s=1, max_attempts=3)
    assert policy.next_attempt_us(2, T0, T0, rand=lambda: 0.0) is not None
    assert policy.next_attempt_us(3, T0, T0, rand=lambda: 0.0) is None


def test_gives_up_when_the_next_attempt_would_be_too_old() -> None:
    policy = RetryPolicy(base_s=60, max_age_s=3600)
    assert policy.next_attempt_us(1, T0, T0 + 3540 * US, rand=lambda: 0.0) == T0 + 3600 * US  # exactly at the limit
    assert policy.next_attempt_us(1, T0, T0 + 3541 * US, rand=lambda: 0.0) is None


def test_retry_after_only_lengthens_and_is_capped() -> None:
    policy = RetryPolicy(base_s=30, max_delay_s=600)
    assert policy.next_attempt_us(1, T0, T0, retry_after_s=5, rand=lambda: 0.0) == T0 + 30 * US
    assert policy.next_attempt_us(1, T0, T0, retry_after_s=120, rand=lambda: 0.0) == T0 + 120 * US
    assert policy.next_attempt_us(1, T0, T0, retry_after_s=86_400, rand=lambda: 0.0) == T0 + 600 * US


def test_the_defaults_try_12_times_over_about_five_hours() -> None:
    policy = RetryPolicy()
    waits = [policy.delay_s(n, 0.0) for n in range(1, policy.max_attempts)]
    assert len(waits) == 11
    assert 5 * 3600 < sum(waits) < 5.5 * 3600


@pytest.mark.parametrize(
    "kwargs",
    [{"base_s": 0}, {"factor": 0.5}, {"max_delay_s": 1, "base_s": 2}, {"max_attempts": 0}, {"jitter": 1.0}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="retry policy"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
