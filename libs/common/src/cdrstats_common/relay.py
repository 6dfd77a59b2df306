"""The outbox relay pass every worker runs on a timer: one pass at a time, broker outages logged once."""

from __future__ import annotations

import logging
import threading
from typing import Any, Generic, Protocol, TypeVar

from cdrstats_common.events import EventPublisher

log = logging.getLogger(__name__)


class RelayingStore(Protocol):
    def relay_outbox(self, publisher: Any) -> int: ...


S = TypeVar("S", bound=RelayingStore)


class Relay(Generic[S]):
    """A store with an outbox and the publisher its events go to."""

    def __init__(self, store: S, publisher: EventPublisher) -> None:
        self.store = store
        self.publisher = publisher
        self.lock = threading.Lock()
        self.failing = False

    def run_once(self) -> int:
        if not self.lock.acquire(blocking=False):
            return 0
        try:
            sent = self.store.relay_outbox(self.publisher)
            if self.failing:
                log.info("outbox relay recovered")
                self.failing = False
            return sent
        except Exception as exc:  # noqa: BLE001 - the broker may be down; events wait in the outbox
            if not self.failing:
                log.warning("outbox relay failed; events wait in the outbox", extra={"fields": {"error": repr(exc)}})
                self.failing = True
            return 0
        finally:
            self.lock.release()
