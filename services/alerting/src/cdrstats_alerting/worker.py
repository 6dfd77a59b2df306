"""alerting worker process (nameko): today only its heartbeat; event handlers come with the alerting issue."""

from __future__ import annotations

from cdrstats_common.green import monkey_patch

monkey_patch()

from typing import Any  # noqa: E402

from nameko.extensions import DependencyProvider  # noqa: E402
from nameko.timer import timer  # noqa: E402

from cdrstats_alerting.settings import AlertingSettings  # noqa: E402
from cdrstats_alerting.store import AlertingStore, open_store  # noqa: E402
from cdrstats_common.nameko_support import SETTINGS_KEY, run_worker  # noqa: E402
from cdrstats_common.settings import load_or_exit  # noqa: E402


class StoreProvider(DependencyProvider):
    def setup(self) -> None:
        self.store = open_store(self.container.config[SETTINGS_KEY].store_url)

    def stop(self) -> None:
        self.store.close()

    def get_dependency(self, worker_ctx: Any) -> AlertingStore:
        return self.store


class AlertingWorker:
    name = "alerting"
    store: AlertingStore = StoreProvider()

    @timer(interval=2)
    def heartbeat(self) -> None:
        self.store.beat()


def main() -> None:
    settings = load_or_exit(AlertingSettings.from_env)
    run_worker("alerting", AlertingWorker, settings, open_store(settings.store_url).worker_alive)


if __name__ == "__main__":
    main()
