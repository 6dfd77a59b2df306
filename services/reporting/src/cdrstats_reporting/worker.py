"""nameko worker process: applies ``ingest.cdrs_ingested`` events to the roll-ups, beats a heartbeat,
prunes old applied event ids hourly (``retention``).

Events handled at the same time (nameko's max_workers, with as many prefetched) are applied
in one transaction by a ``GroupCommitter``; each message is acknowledged after its commit.

Run as ``python -m cdrstats_reporting.worker``. eventlet is patched before any other
import, as nameko requires; import this module only in worker processes.
"""

from cdrstats_common.green import monkey_patch

monkey_patch()

import sys  # noqa: E402
from typing import Any  # noqa: E402

from nameko.extensions import DependencyProvider  # noqa: E402
from nameko.timer import timer  # noqa: E402

from cdrstats_common import prom, retention  # noqa: E402
from cdrstats_common.nameko_support import (  # noqa: E402
    SETTINGS_KEY,
    durable_event_handler,
    run_worker,
)
from cdrstats_common.settings import load_or_exit  # noqa: E402
from cdrstats_reporting.group_commit import GroupCommitter  # noqa: E402
from cdrstats_reporting.retention import ReportingRetention  # noqa: E402
from cdrstats_reporting.service import ReportingService  # noqa: E402
from cdrstats_reporting.settings import ReportingSettings  # noqa: E402
from cdrstats_reporting.store import RollupStore, ZoneMismatch, open_store  # noqa: E402

HEARTBEAT_INTERVAL_S = 2
EXPIRE_INTERVAL_S = 60


class Reporting(DependencyProvider):
    """One store per worker process (its connection is lock-guarded), handed to every worker as a ReportingService."""

    store: RollupStore | None = None
    committer: GroupCommitter | None = None
    pruner: ReportingRetention | None = None

    def setup(self) -> None:
        settings = self.container.config[SETTINGS_KEY]
        self.store = open_store(settings.store_url, settings.time_zone)
        self.committer = GroupCommitter(self.store.apply_batches)  # one per process: handlers share transactions
        self.pruner = ReportingRetention(self.store, processed_days=settings.processed_event_retention_days)

    def stop(self) -> None:
        if self.store is not None:
            self.store.beat(ready=False)  # health turns NOT_SERVING now, not after the heartbeat ages out
            self.store.close()
            self.store = None

    def get_dependency(self, worker_ctx: Any) -> ReportingService:
        assert self.store is not None and self.committer is not None, "store used before setup"
        return ReportingService(self.store, committer=self.committer, pruner=self.pruner)


class ReportingWorker:
    name = "reporting"

    reporting: ReportingService = Reporting()

    @durable_event_handler("ingest", "cdrs_ingested")
    def on_cdrs_ingested(self, envelope: dict[str, Any]) -> None:
        prom.consume("cdrs_ingested", envelope, lambda: self.reporting.apply_cdrs_event(envelope))

    @durable_event_handler("ingest", "call_state")
    def on_call_state(self, envelope: dict[str, Any]) -> None:
        prom.consume("call_state", envelope, lambda: self.reporting.apply_call_state_event(envelope))

    @timer(interval=HEARTBEAT_INTERVAL_S)
    def heartbeat(self) -> None:
        self.reporting.beat()

    @timer(interval=EXPIRE_INTERVAL_S)
    def expire_live_calls(self) -> None:
        self.reporting.expire_live_calls()

    @timer(interval=retention.INTERVAL_S, eager=True)
    def prune(self) -> None:
        """Applied event ids past CDRSTATS_PROCESSED_EVENT_RETENTION_DAYS, in short batches."""
        self.reporting.prune()


def main() -> None:
    settings = load_or_exit(ReportingSettings.from_env)
    try:
        store = open_store(settings.store_url, settings.time_zone)
    except ZoneMismatch as exc:
        print(f"reporting worker: {exc}", file=sys.stderr)
        sys.exit(2)
    run_worker("reporting", ReportingWorker, settings, store.worker_alive)


if __name__ == "__main__":
    main()
