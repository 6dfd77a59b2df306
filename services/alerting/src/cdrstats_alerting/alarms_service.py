"""Alarm use-cases: CRUD under the tenant rules, the "test" action, history, and the worker's timer.

Tenant rules (alerting.proto): an admin sees and changes every alarm and creates installation
alarms (owner ""); a customer sees and changes only its tenant's alarms (owner = its tenant) and
may scope one to an account code only if the code is its tenant's. Other tenants' alarms are
NOT_FOUND. A tenant's alarm is always measured within the tenant's current account codes.

Scheduling: an enabled alarm is due once its ``next_due_us`` has passed. After an evaluation it is
due again after ``interval_s`` (the worker's timer, 60 s) times a factor of its window - 1 for
CIC and windows up to an hour, 5 for a day, 15 for a week or month. Creating or updating an
alarm makes it due at once.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

from cdrstats_alerting.alarm_evaluation import AlarmEvaluator
from cdrstats_alerting.domain import messages
from cdrstats_alerting.domain.alarms import FIRING, OK, Alarm, AlarmNotFound, InvalidAlarm, new_alarm_id, validate
from cdrstats_alerting.domain.errors import Caller
from cdrstats_alerting.domain.evaluate import TRIGGERED, Evaluation
from cdrstats_alerting.metric_source import MetricSource
from cdrstats_alerting.store import AlertingStore
from cdrstats_alerting.store.alarms_interface import StateChange
from cdrstats_common import prom

log = logging.getLogger(__name__)

INTERVAL_FACTOR = {"last_15m": 1, "last_hour": 1, "last_day": 5, "day": 5, "week": 15, "month": 15}
DEFAULT_EVALUATIONS, MAX_EVALUATIONS = 500, 5_000


class AlarmsService:
    def __init__(
        self,
        store: AlertingStore,
        metrics: MetricSource | None = None,
        *,
        public_url: str = "",
        clock: Callable[[], float] = time.time,
        time_zone: str = "UTC",
        interval_s: float = 60.0,
    ) -> None:
        self.store = store
        self.clock = clock
        self.interval_us = int(interval_s * 1_000_000)
        self.evaluator = AlarmEvaluator(store, metrics, time_zone=time_zone, public_url=public_url)

    def now_us(self) -> int:
        return int(self.clock() * 1_000_000)

    # -- definitions ---------------------------------------------------------------------

    def _visible(self, caller: Caller, alarm_id: str) -> Alarm:
        alarm = self.store.get_alarm(alarm_id) if alarm_id else None
        if alarm is None or not caller.may_see(alarm.owner):
            raise AlarmNotFound(f"id: no alarm {alarm_id!r}")
        return alarm

    def _check_scope(self, caller: Caller, alarm: Alarm) -> None:
        """A customer may scope an alarm to an account code only if the code is its tenant's."""
        if caller.admin or alarm.scope.kind != "accountcode":
            return
        codes = self.store.tenant_accountcodes(caller.tenant)
        if alarm.scope.value not in codes:
            raise InvalidAlarm(
                "alarm.scope.value",
                f"expected one of the tenant's account codes ({', '.join(codes) or 'none'}), got {alarm.scope.value!r}",
            )

    def list_alarms(self, caller: Caller) -> list[Alarm]:
        return self.store.list_alarms(None if caller.admin else caller.tenant)

    def get(self, caller: Caller, alarm_id: str) -> Alarm:
        return self._visible(caller, alarm_id)

    def create(self, caller: Caller, alarm: Alarm) -> Alarm:
        checked = validate(alarm)
        self._check_scope(caller, checked)
        now = self.now_us()
        fresh = dataclasses.replace(
            checked, id=new_alarm_id(), owner=caller.owner, state=OK, last_evaluated_us=0, last_triggered_us=0,
            last_value=0.0, created_us=now, updated_us=now, last_verdict="", last_message="",
        )  # fmt: skip
        return self.store.create_alarm(fresh)

    def update(self, caller: Caller, alarm: Alarm) -> Alarm:
        stored = self._visible(caller, alarm.id)
        checked = validate(alarm)
        self._check_scope(caller, checked)
        # strictly newer, so an evaluation that read the old definition can't be stored against the new one
        updated_us = max(self.now_us(), stored.updated_us + 1)
        saved = self.store.update_alarm(dataclasses.replace(stored.with_definition_of(checked), updated_us=updated_us))
        if saved is None:
            raise AlarmNotFound(f"id: no alarm {alarm.id!r}")
        return saved

    def delete(self, caller: Caller, alarm_id: str) -> bool:
        self._visible(caller, alarm_id)
        return self.store.delete_alarm(alarm_id)

    def evaluations(
        self, caller: Caller, alarm_id: str, since_us: int = 0, limit: int = 0, before_us: int = 0
    ) -> list[Evaluation]:
        """Newest first with since_us <= time < before_us (0: unbounded); ``before_us`` pages back in time."""
        if since_us < 0:
            raise InvalidAlarm("since_us", f"expected 0 or epoch microseconds, got {since_us}")
        if before_us < 0:
            raise InvalidAlarm("before_us", f"expected 0 or epoch microseconds, got {before_us}")
        if not 0 <= limit <= MAX_EVALUATIONS:
            raise InvalidAlarm("limit", f"expected 0 to {MAX_EVALUATIONS}, got {limit}")
        self._visible(caller, alarm_id)
        return self.store.list_evaluations(alarm_id, since_us, limit or DEFAULT_EVALUATIONS, before_us)

    # -- evaluation ------------------------------------------------------------------------

    def test(self, caller: Caller, alarm: Alarm, now_us: int = 0) -> Evaluation:
        """Evaluate a definition now, as the timer would: nothing is stored, nothing published."""
        if now_us < 0:
            raise InvalidAlarm("now_us", f"expected 0 or epoch microseconds, got {now_us}")
        checked = validate(alarm)
        self._check_scope(caller, checked)
        if alarm.id:  # a saved alarm: its state and cooldown matter; the definition tested is the one given
            checked = self._visible(caller, alarm.id).with_definition_of(checked)
        else:
            checked = dataclasses.replace(checked, owner=caller.owner, state=OK)
        evaluation, _ = self.evaluator.evaluate(checked, now_us or self.now_us())
        return evaluation

    def next_due_us(self, alarm: Alarm, now_us: int) -> int:
        factor = 1 if alarm.metric == "cic" else INTERVAL_FACTOR.get(alarm.window, 1)
        return now_us + self.interval_us * factor

    def evaluate_one(self, alarm: Alarm, now_us: int) -> Evaluation | None:
        """Evaluate, then store the evaluation with its transition and event; None if the alarm changed."""
        evaluation, step = self.evaluator.evaluate(alarm, now_us)
        evaluation = dataclasses.replace(evaluation, published=bool(step.event))
        fired = step.event == TRIGGERED
        data: dict[str, Any] | None = messages.event_data(alarm, evaluation) if step.event else None
        change = StateChange(
            state_after=step.state_after,
            last_triggered_us=now_us if fired else alarm.last_triggered_us,
            next_due_us=self.next_due_us(alarm, now_us),
            last_value=evaluation.value if evaluation.verdict in ("ok", "breach") else None,
            event_type=step.event,
            event_data=data,
        )
        if not self.store.record_evaluation(alarm, evaluation, change):
            return None
        prom.ALARM_EVALUATIONS.labels(evaluation.verdict).inc()
        if step.event:
            log.info(
                "alarm %s", "firing" if step.state_after == FIRING else "cleared",
                extra={"fields": {"alarm_id": alarm.id, "message": evaluation.message}},
            )  # fmt: skip
        return evaluation

    def evaluate_due(self) -> int:
        """Evaluate every enabled alarm that is due (half a tick early counts); returns how many were stored."""
        stored = 0
        for alarm in self.store.due_alarms(self.now_us() + self.interval_us // 2):
            started = time.perf_counter()
            try:
                if self.evaluate_one(alarm, self.now_us()) is not None:
                    stored += 1
            except Exception:  # one broken alarm must not stop the others (logged with its traceback)
                log.exception("alarm evaluation failed", extra={"fields": {"alarm_id": alarm.id}})
            finally:
                prom.ALARM_EVALUATION.observe(time.perf_counter() - started)
        return stored  # old evaluations are pruned by the worker's retention timer (retention.py)
