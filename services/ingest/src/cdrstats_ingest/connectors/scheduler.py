"""Which switches are polled and when: one Poller per enabled switch with a pull connector type.

The worker re-reads the switch registry every ``REFRESH_S``: a new, changed, disabled or
deleted switch is picked up without a restart. A changed configuration gets a new poller;
its watermark is kept as long as the source fingerprint (server, table) stays the same.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from cdrstats_ingest.connectors import esl
from cdrstats_ingest.connectors.asterisk_db import AsteriskCdrSource
from cdrstats_ingest.connectors.base import CdrSink, Poller, PollResult, PullSource, RunIo, run_here
from cdrstats_ingest.connectors.errors import ConnectorError
from cdrstats_ingest.connectors.freeswitch_mongodb import FreeswitchMongoSource
from cdrstats_ingest.connectors.kamailio import KamailioAccSource
from cdrstats_ingest.domain.switch import SwitchConfig

log = logging.getLogger(__name__)

REFRESH_S = 10.0
MIN_INTERVAL_S = 1.0

SOURCES: dict[str, Callable[[SwitchConfig], PullSource]] = {
    "kamailio_acc": KamailioAccSource,
    "asterisk_db": AsteriskCdrSource,
    "freeswitch_mongodb": FreeswitchMongoSource,
}


class _Scheduled:
    def __init__(self, config: SwitchConfig, poller: Poller | None, error: str) -> None:
        self.config = config
        self.poller = poller
        self.error = error  # the source could not even be built (bad DSN, table name...)
        self.next_at = 0.0


class ConnectorScheduler:
    """Keeps the pollers in line with the registry and runs the ones that are due, one at a time."""

    def __init__(
        self,
        store: Any,
        *,
        run_io: RunIo = run_here,
        clock: Callable[[], float] = time.monotonic,
        sources: dict[str, Callable[[SwitchConfig], PullSource]] | None = None,
        spawn: Callable[..., Any] | None = None,
    ) -> None:
        self.store = store
        self.run_io = run_io
        self.clock = clock
        self.sources = SOURCES if sources is None else sources
        self.scheduled: dict[str, _Scheduled] = {}
        self.refreshed_at: float | None = None
        # event-socket sessions are long-lived loops (connectors/esl.py), run by ``spawn`` (eventlet.spawn)
        self.spawn = spawn
        self.sessions: dict[str, tuple[SwitchConfig, threading.Event]] = {}

    def refresh(self, switches: list[SwitchConfig]) -> None:
        """Start, rebuild or stop pollers so that they match ``switches``."""
        wanted = {s.id: s for s in switches if s.enabled and s.connector.type in self.sources}
        for switch_id in list(self.scheduled):
            current = self.scheduled[switch_id]
            if wanted.get(switch_id) != current.config:
                self._stop(switch_id)
        for switch_id, config in wanted.items():
            if switch_id not in self.scheduled:
                self.scheduled[switch_id] = self._build(config)

        if self.spawn is not None:
            self._refresh_sessions([s for s in switches if s.enabled and s.connector.type == "freeswitch_esl"])

    def _refresh_sessions(self, switches: list[SwitchConfig]) -> None:
        wanted = {s.id: s for s in switches}
        for switch_id, (config, stop) in list(self.sessions.items()):
            if wanted.get(switch_id) != config:
                stop.set()
                del self.sessions[switch_id]
        for switch_id, config in wanted.items():
            if switch_id not in self.sessions and self.spawn is not None:
                stop = threading.Event()
                self.spawn(esl.run_esl_connector, config, self.store.add_call_state, stop)
                self.sessions[switch_id] = (config, stop)

    def run_due(self) -> dict[str, PollResult]:
        """Refresh from the store when due, then poll every switch whose interval has passed."""
        now = self.clock()
        if self.refreshed_at is None or now - self.refreshed_at >= REFRESH_S:
            self.refresh(self.store.list_switches())
            self.refreshed_at = now
        results: dict[str, PollResult] = {}
        for switch_id, entry in list(self.scheduled.items()):
            if self.clock() < entry.next_at:
                continue
            if entry.poller is None:
                self.store.record_poll(switch_id, error=entry.error)
                results[switch_id] = PollResult(error=entry.error)
            else:
                results[switch_id] = entry.poller.poll()
            entry.next_at = self.clock() + max(MIN_INTERVAL_S, float(entry.config.connector.poll_interval_s))
        return results

    def close(self) -> None:
        for _, stop in self.sessions.values():
            stop.set()
        self.sessions.clear()
        for switch_id in list(self.scheduled):
            self._stop(switch_id)

    def _build(self, config: SwitchConfig) -> _Scheduled:
        try:
            source = self.sources[config.connector.type](config)
        except (ConnectorError, ValueError, KeyError) as exc:  # KeyError: ZoneInfoNotFoundError
            log.warning("pull connector not started", extra={"fields": {"switch_id": config.id, "error": str(exc)}})
            return _Scheduled(config, None, f"{type(exc).__name__}: {exc}")
        log.info("pull connector started", extra={"fields": {"switch_id": config.id, "source": source.fingerprint}})
        sink: CdrSink = self.store
        return _Scheduled(config, Poller(config, source, sink, run_io=self.run_io), "")

    def _stop(self, switch_id: str) -> None:
        entry = self.scheduled.pop(switch_id)
        if entry.poller is not None:
            entry.poller.close()
