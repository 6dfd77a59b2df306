"""A worker killed after claiming a delivery holds it only for its send's time limit plus a margin, not for
ten minutes: then the next pass sends it (the fault suite's kill -9 of notify-worker met the 10-minute
lease). Real SQLite store and SMTP server; a dispatcher that drops its jobs plays the dead worker."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterator

import pytest

from cdrstats_common.testing_receivers import SmtpCapture
from cdrstats_notify.deliveries_service import LEASE_MARGIN_S, DeliveriesService, InlineDispatcher
from cdrstats_notify.domain.deliveries import Delivery
from cdrstats_notify.settings import NotifySettings
from cdrstats_notify.store import NotifyStore, open_store

T0 = 1_782_900_000.0


class DeadWorker(InlineDispatcher):
    """Claims like the worker, then dies before the send happens (kill -9 between claim and send)."""

    def spawn(self, fn: Callable[[], None]) -> None:
        return None


@pytest.fixture
def setup(tmp_path: pathlib.Path) -> Iterator[tuple[NotifyStore, NotifySettings, SmtpCapture]]:
    with SmtpCapture() as smtp:
        settings = NotifySettings.from_env(
            {
                "CDRSTATS_DATA_DIR": str(tmp_path),
                "CDRSTATS_SMTP_HOST": "127.0.0.1",
                "CDRSTATS_SMTP_PORT": str(smtp.port),
                "CDRSTATS_SMTP_TIMEOUT_S": "5",
                "CDRSTATS_WEBHOOK_TIMEOUT_S": "4",
            }
        )
        store = open_store(settings.store_url)
        yield store, settings, smtp
        store.close()


def test_a_delivery_claimed_by_a_dead_worker_is_sent_after_its_lease(
    setup: tuple[NotifyStore, NotifySettings, SmtpCapture],
) -> None:
    store, settings, smtp = setup
    now = [T0]
    mail = Delivery(owner="", channel="email", recipient="noc@example.com", kind="test", reference="r1", subject="s")
    store.enqueue([mail], event_id="ev-1", now_us=int(T0 * 1e6))
    dead = DeliveriesService(store, settings, clock=lambda: now[0], dispatcher=DeadWorker())
    assert dead.deliver_due() == 1  # claimed, never sent

    lease_s = 3 * 5 + LEASE_MARGIN_S  # the e-mail limit (3 x the SMTP timeout) is the longer one
    successor = DeliveriesService(store, settings, clock=lambda: now[0], dispatcher=InlineDispatcher())
    now[0] = T0 + lease_s - 1
    assert successor.deliver_due() == 0, "still leased: the first sender could be sending it"
    now[0] = T0 + lease_s
    assert successor.deliver_due() == 1
    (received,) = smtp.wait(1)
    assert received.recipients == ("noc@example.com",)
    assert lease_s < 600, "the old fixed lease held a dead worker's deliveries for 10 minutes"
