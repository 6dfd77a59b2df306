"""gRPC side of alarms (mixed into AlertingServicer): CRUD, TestAlarm and the evaluation history.

Domain errors become status codes in ``api_errors``. The use-cases are blocking (store,
reporting): they run in a thread.
"""

from __future__ import annotations

from typing import Any

import grpc

from cdrstats.alerting.v1 import alerting_pb2 as pb
from cdrstats_alerting import convert_alarms as convert
from cdrstats_alerting.alarms_service import AlarmsService
from cdrstats_alerting.api_errors import Ctx, abort, call


class AlarmsApi:
    store: Any
    metrics: Any  # MetricSource or None
    time_zone: str = "UTC"  # the reporting time zone (calendar windows)
    public_url: str = ""  # the gateway's base URL for links ("" = relative)
    _alarms_service: AlarmsService | None = None

    @property
    def alarms(self) -> AlarmsService:
        if self._alarms_service is None:
            self._alarms_service = AlarmsService(
                self.store, self.metrics, public_url=self.public_url, time_zone=self.time_zone
            )
        return self._alarms_service

    async def ListAlarms(self, request: pb.ListAlarmsRequest, context: Ctx) -> pb.ListAlarmsReply:
        alarms = await call(context, lambda: self.alarms.list_alarms(convert.caller(request.scope)))
        return pb.ListAlarmsReply(alarms=[convert.alarm_to_proto(alarm) for alarm in alarms])

    async def GetAlarm(self, request: pb.AlarmRef, context: Ctx) -> pb.Alarm:
        alarm = await call(context, lambda: self.alarms.get(convert.caller(request.scope), request.id))
        return convert.alarm_to_proto(alarm)

    async def CreateAlarm(self, request: pb.SaveAlarmRequest, context: Ctx) -> pb.Alarm:
        definition = convert.alarm_from_proto(request.alarm)
        alarm = await call(context, lambda: self.alarms.create(convert.caller(request.scope), definition))
        return convert.alarm_to_proto(alarm)

    async def UpdateAlarm(self, request: pb.SaveAlarmRequest, context: Ctx) -> pb.Alarm:
        definition = convert.alarm_from_proto(request.alarm)
        alarm = await call(context, lambda: self.alarms.update(convert.caller(request.scope), definition))
        return convert.alarm_to_proto(alarm)

    async def DeleteAlarm(self, request: pb.AlarmRef, context: Ctx) -> pb.Deleted:
        deleted = await call(context, lambda: self.alarms.delete(convert.caller(request.scope), request.id))
        return pb.Deleted(deleted=deleted)

    async def TestAlarm(self, request: pb.TestAlarmRequest, context: Ctx) -> pb.Evaluation:
        definition = convert.alarm_from_proto(request.alarm)
        if self.metrics is None and definition.metric.strip().lower() != "cic":
            await abort(context, grpc.StatusCode.UNAVAILABLE, "reporting: no REPORTING_GRPC_ADDR configured")
        evaluation = await call(
            context, lambda: self.alarms.test(convert.caller(request.scope), definition, request.now_us)
        )
        return convert.evaluation_to_proto(evaluation)

    async def ListEvaluations(self, request: pb.ListEvaluationsRequest, context: Ctx) -> pb.ListEvaluationsReply:
        r = request
        evaluations = await call(
            context,
            lambda: self.alarms.evaluations(convert.caller(r.scope), r.alarm_id, r.since_us, r.limit, r.before_us),
        )
        return pb.ListEvaluationsReply(evaluations=[convert.evaluation_to_proto(e) for e in evaluations])
