"""Fixtures of the pipeline tests: a real SMTP server, a real webhook receiver, the back end's processes."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from pipeline_kit import Pipeline

from cdrstats_common.testing_receivers import SmtpCapture, WebhookReceiver


@pytest.fixture
def mailbox() -> Iterator[SmtpCapture]:
    with SmtpCapture() as smtp:
        yield smtp


@pytest.fixture
def webhooks() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def pipeline(tmp_path: pathlib.Path, amqp_url: str, mailbox: SmtpCapture) -> Iterator[Pipeline]:
    running = Pipeline(tmp_path, amqp_url, mailbox.port)
    try:
        try:
            running.start()
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{running.logs()}") from None
        yield running
    finally:
        codes = running.stop()
    assert set(codes.values()) == {0}, f"exit codes {codes}"
