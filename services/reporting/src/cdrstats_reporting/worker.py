"""nameko worker process: applies ``ingest.cdrs_ingested`` events to the roll-ups, beats a heartbeat.

Run as ``python -m cdrstats_reporting.worker``. eventlet is patched before any other
import, as nameko requires; import this module only in worker processes.
"""

from cdrstats_common.green import monkey_patch

monkey_patch()

from typing import Any  # noqa: E402

from nameko.extensions import DependencyProvider  # noqa: E402
from nameko.timer import timer  # noqa: E402

from cdrstats_common import prom  # noqa: E402
from cdrstats_common.nameko_support import (  # noqa: E402
    SETTINGS_KEY,
    durable_event_handler,
    run_worker,
)
from cdrstats_common.settings import load_or_exit  # noqa: E402
from cdrstats_reporting.service import ReportingService  # noqa: E402
from cdrstats_reporting.settings import ReportingSettings  # noqa: E402
from cdrstats_reporting.store import RollupStore, open_store  # noqa: E402

HEARTBEAT_INTERVAL_S = 2


class Reporting(DependencyProvider):
    """One store per worker process (its connection is lock-guarded), handed to every worker as a ReportingService."""

    store: RollupStore | None = None

    def setup(self) -> None:
        self.store = open_store(self.container.config[SETTINGS_KEY].store_url)

    def stop(self) -> None:
        if self.store is not None:
            self.store.beat(ready=False)  # health turns NOT_SERVING now, not after the heartbeat ages out
            self.store.close()
            self.store = None

    def get_dependency(self, worker_ctx: Any) -> ReportingService:
        assert self.store is not None, "store used before setup"
        return ReportingService(self.store)


class ReportingWorker:
    name = "reporting"

    reporting: ReportingService = Reporting()

    @durable_event_handler("ingest", "cdrs_ingested")
    def on_cdrs_ingested(self, envelope: dict[str, Any]) -> None:
        prom.consume("cdrs_ingested", envelope, lambda: self.reporting.apply_cdrs_event(envelope))

    @timer(interval=HEARTBEAT_INTERVAL_S)
    def heartbeat(self) -> None:
        self.reporting.beat()


def main() -> None:
    settings = load_or_exit(ReportingSettings.from_env)
    run_worker("reporting", ReportingWorker, settings, open_store(settings.store_url).worker_alive)


if __name__ == "__main__":
    main()
