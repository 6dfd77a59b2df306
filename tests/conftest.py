"""Fixtures every test folder may use: a RabbitMQ vhost per test, a data directory, free ports."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from cdrstats_common.testing import free_port, rabbitmq_vhost

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUT_DIR = ROOT / "test-output"


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """A RabbitMQ vhost of this test's own on 127.0.0.1, deleted afterwards."""
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def output_dir() -> pathlib.Path:
    OUTPUT_DIR.mkdir(exist_ok=True)
    return OUTPUT_DIR
