"""Alarm protos <-> domain objects, nothing else."""

from __future__ import annotations

from cdrstats.alerting.v1 import alerting_pb2 as pb
from cdrstats_alerting.domain.alarms import Alarm, AlarmScope
from cdrstats_alerting.domain.errors import Caller
from cdrstats_alerting.domain.evaluate import Evaluation


def caller(scope: pb.Scope) -> Caller:
    """Raises AlarmPermissionDenied for a customer scope without a tenant."""
    return Caller(admin=scope.admin, tenant="" if scope.admin else scope.tenant)


def alarm_from_proto(message: pb.Alarm) -> Alarm:
    """The definition fields only: id is kept to name the alarm; owner and state are the server's."""
    return Alarm(
        id=message.id,
        name=message.name,
        metric=message.metric,
        hangup_cause=message.hangup_cause,
        scope=AlarmScope(message.scope.kind or "all", message.scope.value),
        window=message.window,
        condition=message.condition,
        threshold=message.threshold,
        baseline=message.baseline,
        min_attempts=message.min_attempts,
        cooldown_s=message.cooldown_s,
        enabled=message.enabled,
        emails=tuple(message.emails),
        webhooks=tuple(message.webhooks),
    )


def alarm_to_proto(alarm: Alarm) -> pb.Alarm:
    return pb.Alarm(
        id=alarm.id,
        name=alarm.name,
        owner=alarm.owner,
        metric=alarm.metric,
        hangup_cause=alarm.hangup_cause,
        scope=pb.AlarmScope(kind=alarm.scope.kind, value=alarm.scope.value),
        window=alarm.window,
        condition=alarm.condition,
        threshold=alarm.threshold,
        baseline=alarm.baseline,
        min_attempts=alarm.min_attempts,
        cooldown_s=alarm.cooldown_s,
        enabled=alarm.enabled,
        emails=list(alarm.emails),
        webhooks=list(alarm.webhooks),
        state=alarm.state,
        last_evaluated_us=alarm.last_evaluated_us,
        last_triggered_us=alarm.last_triggered_us,
        last_value=alarm.last_value,
        created_us=alarm.created_us,
        updated_us=alarm.updated_us,
        last_verdict=alarm.last_verdict,
        last_message=alarm.last_message,
    )


def evaluation_to_proto(evaluation: Evaluation) -> pb.Evaluation:
    base = evaluation.baseline_window
    return pb.Evaluation(
        id=evaluation.id,
        alarm_id=evaluation.alarm_id,
        time_us=evaluation.time_us,
        window_start_us=evaluation.window.start_us,
        window_end_us=evaluation.window.end_us,
        value=evaluation.value,
        has_baseline=evaluation.baseline is not None,
        baseline=evaluation.baseline or 0.0,
        baseline_start_us=base.start_us if base else 0,
        baseline_end_us=base.end_us if base else 0,
        threshold=evaluation.threshold,
        attempts=evaluation.attempts,
        verdict=evaluation.verdict,
        state_before=evaluation.state_before,
        state_after=evaluation.state_after,
        published=evaluation.published,
        message=evaluation.message,
        error=evaluation.error,
        link=evaluation.link,
    )
