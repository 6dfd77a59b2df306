"""Fixtures of the fault-injection suite: a RabbitMQ node of its own, an SMTP server, a webhook receiver,
and the whole product (``cdrstats run``) on them, each cleaned up whatever the test did to it."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest
from faults_broker import PrivateBroker
from faults_product import Product

from cdrstats_common.testing_receivers import SmtpCapture, WebhookReceiver

#: evaluations every 2 s; failed notifications come back after 1-3 s (production: 60 s, 30 s .. 1 h); sends are
#: cut off after 15 s (e-mail) / 10 s (webhook), so a send claimed by a killed notify-worker is retried 45 s later
PRODUCT_ENV = {
    "CDRSTATS_SMTP_TIMEOUT_S": "5",
    "CDRSTATS_WEBHOOK_TIMEOUT_S": "5",
    "CDRSTATS_ALARM_INTERVAL_S": "2",
    "CDRSTATS_NOTIFY_RETRY_BASE_S": "1",
    "CDRSTATS_NOTIFY_RETRY_MAX_DELAY_S": "3",
    "CDRSTATS_NOTIFY_RETRY_MAX_ATTEMPTS": "1000",
}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateBroker]:
    if not PrivateBroker.available():
        pytest.skip("Debian's rabbitmq-server is not installed: no private node to restart")
    node = PrivateBroker(tmp_path_factory.mktemp("faults-broker"))
    node.start()
    try:
        yield node
    finally:
        node.destroy()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[SmtpCapture]:
    smtp = SmtpCapture()
    with smtp:
        yield smtp


@pytest.fixture(scope="module")
def webhooks() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory, broker: PrivateBroker, mailbox: SmtpCapture) -> Iterator[Product]:
    data: pathlib.Path = tmp_path_factory.mktemp("faults-data")
    running = Product(data, broker.url, mailbox.port, **PRODUCT_ENV)
    running.start()
    try:
        yield running
    finally:
        if running.process is not None and running.process.poll() is None:
            running.stop()
