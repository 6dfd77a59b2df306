"""Worker-failure alarms (cdrstats_common.failures): once after N failures in a row, again only after a
success reset the streak or an hour later."""

from __future__ import annotations

import sys
import warnings
from types import SimpleNamespace
from typing import Any

with warnings.catch_warnings():  # nameko imports eventlet, which warns that it is deprecated (STACK.md)
    warnings.simplefilter("ignore")
    import eventlet  # noqa: F401

from cdrstats_common.failures import TaskFailures


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(
    threshold: int = 3, fail_publish: bool = False
) -> tuple[TaskFailures, list[tuple[str, str, dict[str, Any]]], Clock]:
    published: list[tuple[str, str, dict[str, Any]]] = []

    def publish(url: str, service: str, data: dict[str, Any]) -> None:
        if fail_publish:
            raise ConnectionError("broker down")
        published.append((url, service, data))

    clock = Clock()
    provider = TaskFailures(threshold, 3600, clock=clock, publish=publish)
    provider.container = SimpleNamespace(config={"AMQP_URI": "amqp://x/vh"})  # what nameko binds
    return provider, published, clock


def ctx(entrypoint: str = "on_cdrs_ingested") -> Any:
    return SimpleNamespace(service_name="reporting", entrypoint=SimpleNamespace(method_name=entrypoint))


def failure(message: str = "boom") -> Any:
    try:
        raise KeyError(message)
    except KeyError:
        return sys.exc_info()


def test_one_event_after_three_consecutive_failures_then_quiet() -> None:
    provider, published, _ = make()
    provider.worker_result(ctx(), exc_info=failure())
    provider.worker_result(ctx(), exc_info=failure())
    assert published == []
    provider.worker_result(ctx(), exc_info=failure("third"))
    assert len(published) == 1
    url, service, data = published[0]
    assert (url, service) == ("amqp://x/vh", "reporting")
    assert data["service"] == "reporting" and data["entrypoint"] == "on_cdrs_ingested"
    assert data["failures"] == 3 and data["error"] == "KeyError: 'third'" and data["host"]
    for _ in range(10):
        provider.worker_result(ctx(), exc_info=failure())
    assert len(published) == 1


def test_a_success_resets_the_streak() -> None:
    provider, published, _ = make()
    for _ in range(2):
        provider.worker_result(ctx(), exc_info=failure())
    provider.worker_result(ctx(), result=None)
    for _ in range(2):
        provider.worker_result(ctx(), exc_info=failure())
    assert published == []  # 2 + 2 with a success between is not 3 in a row
    provider.worker_result(ctx(), exc_info=failure())
    provider.worker_result(ctx(), result=None)
    for _ in range(3):
        provider.worker_result(ctx(), exc_info=failure())
    assert len(published) == 2  # reported again after the reset


def test_entrypoints_are_counted_separately() -> None:
    provider, published, _ = make()
    for name in ("a", "b", "a", "b", "a"):
        provider.worker_result(ctx(name), exc_info=failure())
    assert [p[2]["entrypoint"] for p in published] == ["a"]


def test_reported_again_after_an_hour_of_failures() -> None:
    provider, published, clock = make()
    for _ in range(3):
        provider.worker_result(ctx(), exc_info=failure())
    clock.now += 3599
    provider.worker_result(ctx(), exc_info=failure())
    assert len(published) == 1
    clock.now += 1
    provider.worker_result(ctx(), exc_info=failure())
    assert len(published) == 2 and published[1][2]["failures"] == 5


def test_a_failed_publish_is_tried_again_on_the_next_failure() -> None:
    provider, _, _ = make(fail_publish=True)
    for _ in range(3):
        provider.worker_result(ctx(), exc_info=failure())  # must not raise into nameko
    assert provider.streaks["on_cdrs_ingested"].reported_at is None
