"""Group commit: ``cdrs_ingested`` events handled at the same time share one store transaction.

nameko runs up to ``max_workers`` handlers at once (and prefetches as many messages). A
transaction per event pays its commit and the pages it dirties every time, and the coarse
roll-up rows of consecutive events are the same rows; summed together they are written once.
So each handler queues its event and waits; the first waiting handler becomes the leader,
yields once (the other handlers that are ready queue theirs), then applies everything
queued with ``store.apply_batches`` - every event id is recorded in that same transaction,
so exactly-once holds - and wakes each handler with its own result. A handler returns, and
its message is acknowledged, only after the transaction holding its event committed.

If the shared transaction fails, each of its events is retried alone, so a bad event fails
(and is dead-lettered by the handler) alone. Works with real threads and with eventlet's
green threads (the worker monkey-patches ``threading`` and ``time``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

log = logging.getLogger(__name__)

Events = list[tuple[str, Sequence[Mapping[str, Any]]]]

MAX_EVENTS = 50  #: events per transaction at most (up to 50,000 CDRs)


class _Pending:
    __slots__ = ("cdrs", "done", "error", "event_id", "result")

    def __init__(self, event_id: str, cdrs: Sequence[Mapping[str, Any]]) -> None:
        self.event_id, self.cdrs = event_id, cdrs
        self.done, self.result = False, False
        self.error: BaseException | None = None


class GroupCommitter:
    def __init__(self, apply_batches: Callable[[Events], list[bool]], max_events: int = MAX_EVENTS) -> None:
        self._apply = apply_batches
        self._max = max_events
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False

    def submit(self, event_id: str, cdrs: Sequence[Mapping[str, Any]]) -> bool:
        """Apply one event (with whichever events are waiting too); False if its id was applied before."""
        item = _Pending(event_id, cdrs)
        with self._cond:
            self._queue.append(item)
        while True:
            with self._cond:
                while not item.done and self._leading:
                    self._cond.wait()
                if item.done:
                    break
                self._leading = True
            group: list[_Pending] = []
            try:
                time.sleep(0)  # let the handlers that are ready queue their events first
                with self._cond:
                    group, self._queue = self._queue[: self._max], self._queue[self._max :]
                self._run(group)
            finally:
                with self._cond:
                    for pending in group:  # interrupted (the worker is killed): nobody waits forever
                        if not pending.done:
                            self._finish(pending, False, RuntimeError("group apply interrupted"))
                    self._leading = False
                    self._cond.notify_all()
        if item.error is not None:
            raise item.error
        return item.result

    def _run(self, group: list[_Pending]) -> None:
        try:
            results = self._apply([(item.event_id, item.cdrs) for item in group])
        except Exception as exc:  # noqa: BLE001 - handed to the waiting handler, which raises it
            if len(group) == 1:
                self._finish(group[0], False, exc)
                return
            log.warning(
                "group apply failed; applying its events one by one",
                extra={"fields": {"events": len(group), "error": repr(exc)}},
            )
            for item in group:
                try:
                    self._finish(item, self._apply([(item.event_id, item.cdrs)])[0], None)
                except Exception as one:  # noqa: BLE001 - handed to the waiting handler, which raises it
                    self._finish(item, False, one)
            return
        for item, result in zip(group, results, strict=True):
            self._finish(item, result, None)

    @staticmethod
    def _finish(item: _Pending, result: bool, error: BaseException | None) -> None:
        item.result, item.error, item.done = result, error, True
