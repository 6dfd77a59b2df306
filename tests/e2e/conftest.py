"""Fixtures of the end-to-end tests: one running product and one headless Chromium per test module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from e2e_testkit import CHROMIUM, Product

from cdrstats_common.testing import rabbitmq_vhost


@pytest.fixture(scope="module")
def product(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """`cdrstats run` with demo data in its own data directory, ports and RabbitMQ vhost."""
    name = request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")
    with rabbitmq_vhost(f"cdrstats-{name}") as amqp_url:
        running = Product(tmp_path_factory.mktemp(name), amqp_url)
        startup_s = running.start()
        print(f"\n{name}: startup with demo load {startup_s:.1f} s")
        yield running
        if running.process is not None:
            running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        yield launched
        launched.close()
