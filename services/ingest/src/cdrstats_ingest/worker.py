"""ingest worker process (nameko): relays the outbox to ingest.events, runs the pull connectors, beats its heartbeat."""

from __future__ import annotations

from cdrstats_common.green import monkey_patch

monkey_patch()

import logging  # noqa: E402
import threading  # noqa: E402
from typing import Any  # noqa: E402

from nameko.extensions import DependencyProvider  # noqa: E402
from nameko.timer import timer  # noqa: E402

from cdrstats_common.events import EventPublisher  # noqa: E402
from cdrstats_common.nameko_support import SETTINGS_KEY, run_worker  # noqa: E402
from cdrstats_common.relay import Relay  # noqa: E402
from cdrstats_common.settings import load_or_exit  # noqa: E402
from cdrstats_common.tpool import call_blocking  # noqa: E402
from cdrstats_ingest.connectors.scheduler import ConnectorScheduler  # noqa: E402
from cdrstats_ingest.settings import IngestSettings  # noqa: E402
from cdrstats_ingest.store import CdrStore, open_store  # noqa: E402

log = logging.getLogger(__name__)


class RelayProvider(DependencyProvider):
    def setup(self) -> None:
        settings: IngestSettings = self.container.config[SETTINGS_KEY]
        self.relay = Relay(open_store(settings.store_url), EventPublisher(settings.amqp_url, "ingest"))

    def stop(self) -> None:
        self.relay.publisher.close()
        self.relay.store.close()

    def get_dependency(self, worker_ctx: Any) -> Relay[CdrStore]:
        return self.relay


class Connectors:
    """The pull connectors of every switch, on a store connection of their own (the relay owns the other).

    libpq blocks in C, so PostgreSQL reads run in eventlet's OS thread pool (``call_blocking``);
    PyMySQL and pymongo use the patched sockets and yield by themselves. ESL sessions are greenthreads.
    """

    def __init__(self, store: CdrStore) -> None:
        import eventlet

        self.store = store
        self.scheduler = ConnectorScheduler(store, run_io=call_blocking, spawn=eventlet.spawn)
        self.lock = threading.Lock()

    def run_once(self) -> None:
        if not self.lock.acquire(blocking=False):
            return  # the previous round is still polling a slow source
        try:
            self.scheduler.run_due()
        except Exception as exc:  # noqa: BLE001 - e.g. the store is busy; the next tick retries
            log.warning("pull connectors round failed", extra={"fields": {"error": repr(exc)}})
        finally:
            self.lock.release()


class ConnectorsProvider(DependencyProvider):
    def setup(self) -> None:
        settings: IngestSettings = self.container.config[SETTINGS_KEY]
        self.connectors = Connectors(open_store(settings.store_url))

    def stop(self) -> None:
        self.connectors.scheduler.close()
        self.connectors.store.close()

    def get_dependency(self, worker_ctx: Any) -> Connectors:
        return self.connectors


#: how often the outbox is polled: the bound on relay latency when the broker is up
RELAY_INTERVAL_S = 0.1


class IngestWorker:
    name = "ingest"
    relay: Relay[CdrStore] = RelayProvider()
    connectors: Connectors = ConnectorsProvider()

    @timer(interval=RELAY_INTERVAL_S)
    def relay_outbox(self) -> None:
        self.relay.run_once()

    @timer(interval=1)
    def poll_connectors(self) -> None:
        """Each switch is polled on its own ``connector.poll_interval_s``; this tick only finds who is due."""
        self.connectors.run_once()

    @timer(interval=2)
    def heartbeat(self) -> None:
        self.relay.store.beat()

    @timer(interval=1)
    def checkpoint(self) -> None:
        """Fold the WAL into the database here, on the worker's core, so the api's commits rarely have to."""
        self.relay.store.checkpoint()


def main() -> None:
    settings = load_or_exit(IngestSettings.from_env)
    run_worker("ingest", IngestWorker, settings, open_store(settings.store_url).worker_alive)


if __name__ == "__main__":
    main()
