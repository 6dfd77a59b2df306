"""gRPC side of the switch registry (mixed into IngestServicer): CRUD and each switch's set-up snippet.

Domain errors become gRPC status codes here: InvalidSwitch → INVALID_ARGUMENT (the message names the
field), UnknownSwitch → NOT_FOUND. Passwords never leave: the proto only says ``has_password``.
"""

from __future__ import annotations

import asyncio

import grpc

from cdrstats.ingest.v1 import ingest_pb2
from cdrstats_ingest import convert
from cdrstats_ingest.domain import snippets
from cdrstats_ingest.domain.errors import BadCredentials, InvalidCdr, UnknownSwitch
from cdrstats_ingest.domain.switch_rules import InvalidSwitch
from cdrstats_ingest.grpc_errors import abort
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import StoredSwitch

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8081"


def _to_proto(stored: StoredSwitch) -> ingest_pb2.Switch:
    return convert.switch_to_proto(stored.config, has_password=bool(stored.password_hash))


class SwitchesServicerMixin:
    service: IngestService
    public_url: str = DEFAULT_PUBLIC_URL  # where switches reach the HTTP receiver (settings.public_url)

    async def AuthenticateSwitch(
        self, request: ingest_pb2.AuthenticateSwitchRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.Switch:
        try:
            config = await asyncio.to_thread(self.service.authenticate, request.username, request.password)
        except (UnknownSwitch, BadCredentials) as exc:
            await abort(context, grpc.StatusCode.UNAUTHENTICATED, str(exc))
        return convert.switch_to_proto(config, has_password=True)

    async def UpsertSwitch(
        self, request: ingest_pb2.UpsertSwitchRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.Switch:
        config = convert.switch_from_proto(request.switch)
        try:
            saved = await asyncio.to_thread(self.service.upsert_switch, config, request.password)
            stored = await asyncio.to_thread(self.service.get_switch, saved.id)
        except (InvalidSwitch, InvalidCdr) as exc:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except UnknownSwitch as exc:  # deleted by someone else in between
            await abort(context, grpc.StatusCode.NOT_FOUND, str(exc))
        return _to_proto(stored)

    async def GetSwitch(
        self, request: ingest_pb2.GetSwitchRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.Switch:
        try:
            stored = await asyncio.to_thread(self.service.get_switch, request.id)
        except UnknownSwitch as exc:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(exc))
        return _to_proto(stored)

    async def ListSwitches(
        self, request: ingest_pb2.ListSwitchesRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.ListSwitchesResponse:
        switches = await asyncio.to_thread(self.service.list_switches)
        return ingest_pb2.ListSwitchesResponse(switches=[_to_proto(stored) for stored in switches])

    async def DeleteSwitch(
        self, request: ingest_pb2.DeleteSwitchRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.DeleteSwitchResponse:
        try:
            await asyncio.to_thread(self.service.delete_switch, request.id)
        except UnknownSwitch as exc:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(exc))
        return ingest_pb2.DeleteSwitchResponse()

    async def GetSwitchSetup(
        self, request: ingest_pb2.GetSwitchRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.SwitchSetup:
        try:
            stored = await asyncio.to_thread(self.service.get_switch, request.id)
        except UnknownSwitch as exc:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(exc))
        setup = snippets.switch_setup(stored.config, self.public_url)
        return ingest_pb2.SwitchSetup(
            ingest_url=setup.ingest_url,
            snippet=setup.snippet,
            snippet_language=setup.language,
            call_state_url=setup.call_state_url,
        )
