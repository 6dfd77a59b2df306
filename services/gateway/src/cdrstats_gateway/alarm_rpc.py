"""Alarms over alerting's gRPC API (proto <-> the gateway's Alarm and Evaluation).

A mixin of ``clients.ServiceClients`` so the gRPC status -> HTTP status mapping stays in one
place. Every call carries the user's scope: customers act for their tenant only (alerting
answers NOT_FOUND for another tenant's alarm), admins for the installation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import grpc

from cdrstats.alerting.v1 import alerting_pb2, alerting_pb2_grpc
from cdrstats_gateway.domain.alarms import Alarm, Evaluation, tenant_of
from cdrstats_gateway.domain.models import User

CALL_TIMEOUT_S = 5.0
#: a test asks reporting for up to two windows (value and baseline)
TEST_TIMEOUT_S = 20.0
T = TypeVar("T")


class AlarmsAdmin(Protocol):
    """What the alarm pages and the REST API need from alerting."""

    async def list_alarms(self, user: User) -> list[Alarm]: ...

    async def get_alarm(self, user: User, alarm_id: str) -> Alarm: ...

    async def create_alarm(self, user: User, alarm: Alarm) -> Alarm: ...

    async def update_alarm(self, user: User, alarm: Alarm) -> Alarm: ...

    async def delete_alarm(self, user: User, alarm_id: str) -> None: ...

    async def test_alarm(self, user: User, alarm: Alarm) -> Evaluation:
        """Evaluate now without storing, changing state or notifying."""
        ...

    async def list_evaluations(
        self, user: User, alarm_id: str, *, since_us: int = 0, before_us: int = 0, limit: int = 500
    ) -> list[Evaluation]:
        """Stored evaluations, newest first, with since_us <= time_us < before_us (0: unbounded)."""
        ...


def alerting_scope(user: User) -> alerting_pb2.Scope:
    if user.is_admin:
        return alerting_pb2.Scope(admin=True)
    return alerting_pb2.Scope(
        admin=False, tenant=tenant_of(user.customer_id), allowed_accountcodes=list(user.accountcodes)
    )


def alarm_to_proto(alarm: Alarm) -> alerting_pb2.Alarm:
    """The definition only: owner and state are the server's."""
    return alerting_pb2.Alarm(
        id=alarm.id,
        name=alarm.name,
        metric=alarm.metric,
        hangup_cause=alarm.hangup_cause,
        scope=alerting_pb2.AlarmScope(kind=alarm.scope_kind, value=alarm.scope_value),
        window=alarm.window,
        condition=alarm.condition,
        threshold=alarm.threshold,
        baseline=alarm.baseline,
        min_attempts=alarm.min_attempts,
        cooldown_s=alarm.cooldown_s,
        enabled=alarm.enabled,
        emails=list(alarm.emails),
        webhooks=list(alarm.webhooks),
    )


def alarm_from_proto(m: alerting_pb2.Alarm) -> Alarm:
    return Alarm(
        id=m.id,
        name=m.name,
        owner=m.owner,
        metric=m.metric,
        hangup_cause=m.hangup_cause,
        scope_kind=m.scope.kind or "all",
        scope_value=m.scope.value,
        window=m.window,
        condition=m.condition,
        threshold=m.threshold,
        baseline=m.baseline,
        min_attempts=m.min_attempts,
        cooldown_s=m.cooldown_s,
        enabled=m.enabled,
        emails=tuple(m.emails),
        webhooks=tuple(m.webhooks),
        state=m.state or "OK",
        last_evaluated_us=m.last_evaluated_us,
        last_triggered_us=m.last_triggered_us,
        last_value=m.last_value,
        created_us=m.created_us,
        updated_us=m.updated_us,
        last_verdict=m.last_verdict,
        last_message=m.last_message,
    )


def evaluation_from_proto(m: alerting_pb2.Evaluation) -> Evaluation:
    return Evaluation(
        id=m.id,
        alarm_id=m.alarm_id,
        time_us=m.time_us,
        window_start_us=m.window_start_us,
        window_end_us=m.window_end_us,
        value=m.value,
        baseline=m.baseline if m.has_baseline else None,
        baseline_start_us=m.baseline_start_us,
        baseline_end_us=m.baseline_end_us,
        threshold=m.threshold,
        attempts=m.attempts,
        verdict=m.verdict,
        state_before=m.state_before,
        state_after=m.state_after,
        published=m.published,
        message=m.message,
        error=m.error,
        link=m.link,
    )


class AlarmsClient:
    """Mixin: needs ``self.channels`` and ``self._call`` (status mapping) of ServiceClients."""

    channels: dict[str, grpc.aio.Channel]

    async def _call(self, service: str, call: Callable[[], Awaitable[T]], *, quiet: bool = False) -> T:
        raise NotImplementedError

    @property
    def _alarm_stub(self) -> alerting_pb2_grpc.AlertingServiceStub:
        return alerting_pb2_grpc.AlertingServiceStub(self.channels["alerting"])

    async def list_alarms(self, user: User) -> list[Alarm]:
        request = alerting_pb2.ListAlarmsRequest(scope=alerting_scope(user))
        reply = await self._call("alerting", lambda: self._alarm_stub.ListAlarms(request, timeout=CALL_TIMEOUT_S))
        return sorted((alarm_from_proto(a) for a in reply.alarms), key=lambda a: (a.name.lower(), a.id))

    async def get_alarm(self, user: User, alarm_id: str) -> Alarm:
        request = alerting_pb2.AlarmRef(scope=alerting_scope(user), id=alarm_id)
        reply = await self._call("alerting", lambda: self._alarm_stub.GetAlarm(request, timeout=CALL_TIMEOUT_S))
        return alarm_from_proto(reply)

    async def create_alarm(self, user: User, alarm: Alarm) -> Alarm:
        request = alerting_pb2.SaveAlarmRequest(scope=alerting_scope(user), alarm=alarm_to_proto(alarm))
        reply = await self._call("alerting", lambda: self._alarm_stub.CreateAlarm(request, timeout=CALL_TIMEOUT_S))
        return alarm_from_proto(reply)

    async def update_alarm(self, user: User, alarm: Alarm) -> Alarm:
        request = alerting_pb2.SaveAlarmRequest(scope=alerting_scope(user), alarm=alarm_to_proto(alarm))
        reply = await self._call("alerting", lambda: self._alarm_stub.UpdateAlarm(request, timeout=CALL_TIMEOUT_S))
        return alarm_from_proto(reply)

    async def delete_alarm(self, user: User, alarm_id: str) -> None:
        request = alerting_pb2.AlarmRef(scope=alerting_scope(user), id=alarm_id)
        await self._call("alerting", lambda: self._alarm_stub.DeleteAlarm(request, timeout=CALL_TIMEOUT_S))

    async def test_alarm(self, user: User, alarm: Alarm) -> Evaluation:
        request = alerting_pb2.TestAlarmRequest(scope=alerting_scope(user), alarm=alarm_to_proto(alarm))
        reply = await self._call("alerting", lambda: self._alarm_stub.TestAlarm(request, timeout=TEST_TIMEOUT_S))
        return evaluation_from_proto(reply)

    async def list_evaluations(
        self, user: User, alarm_id: str, *, since_us: int = 0, before_us: int = 0, limit: int = 500
    ) -> list[Evaluation]:
        request = alerting_pb2.ListEvaluationsRequest(
            scope=alerting_scope(user), alarm_id=alarm_id, since_us=since_us, before_us=before_us, limit=limit
        )
        reply = await self._call("alerting", lambda: self._alarm_stub.ListEvaluations(request, timeout=CALL_TIMEOUT_S))
        return [evaluation_from_proto(e) for e in reply.evaluations]
