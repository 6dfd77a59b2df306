"""The alarm half of the alerting store: definitions, state, stored evaluations, CIC runs.

The CIC runs are advanced inside ``apply_cdrs_event`` (AlertingStore) by each adapter's private
``_observe_cic`` hook, in the same transaction as the event id; here they are only read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

from cdrstats_alerting.domain.alarms import Alarm
from cdrstats_alerting.domain.cic import Run
from cdrstats_alerting.domain.evaluate import Evaluation


@dataclasses.dataclass(frozen=True, slots=True)
class StateChange:
    """What one stored evaluation does to its alarm, written together with it."""

    state_after: str
    last_triggered_us: int  # unchanged unless it fired
    next_due_us: int
    last_value: float | None = None  # None: keep the alarm's last value (nothing was measured)
    event_type: str = ""  # alarm_triggered / alarm_cleared, queued in the outbox with the change
    event_data: Mapping[str, Any] | None = None


class AlarmStore(Protocol):
    def create_alarm(self, alarm: Alarm) -> Alarm:
        """Stores a validated alarm with its id, owner and timestamps set by the caller."""
        ...

    def update_alarm(self, alarm: Alarm) -> Alarm | None:
        """Replaces the definition (state and history stay) and makes it due now; None if it is gone."""
        ...

    def get_alarm(self, alarm_id: str) -> Alarm | None: ...

    def list_alarms(self, owner: str | None = None) -> list[Alarm]:
        """Every alarm (owner None) or one owner's, by name."""
        ...

    def delete_alarm(self, alarm_id: str) -> bool:
        """Deletes the alarm and its stored evaluations."""
        ...

    def due_alarms(self, now_us: int) -> list[Alarm]:
        """Enabled alarms whose next evaluation is due at ``now_us``."""
        ...

    def record_evaluation(self, alarm: Alarm, evaluation: Evaluation, change: StateChange) -> bool:
        """In one transaction: store the evaluation, apply the state change and queue its event - only
        if the alarm is still as it was read (``updated_us``, ``state`` and ``last_evaluated_us``: no edit
        and no other evaluation in between); else nothing is written and the result is False."""
        ...

    def list_evaluations(
        self, alarm_id: str, since_us: int = 0, limit: int = 500, before_us: int = 0
    ) -> list[Evaluation]:
        """Newest first."""
        ...

    def prune_evaluations(self, before_us: int, limit: int = 5_000) -> int:
        """Delete at most ``limit`` evaluations made before ``before_us`` (one short write); returns how many."""
        ...

    def cic_run(self, key: str) -> Run:
        """The current run of unanswered attempts of a CIC scope key (``domain.cic``)."""
        ...

    def alarm_counts(self) -> dict[str, int]:
        """``alarms``, ``firing`` and ``last_evaluation_us`` for GetStatus."""
        ...
