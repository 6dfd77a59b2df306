"""The switch registry, mapping profiles and CSV import over ingest's gRPC API (proto <-> domain).

A mixin of ``clients.ServiceClients`` so the gRPC status -> HTTP status mapping stays in one place.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

import grpc

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_gateway.domain.switches import (
    Connector,
    ConnectorState,
    DirectionRule,
    ImportOutcome,
    ImportRequest,
    MappingProfile,
    RejectInfo,
    RejectPage,
    RetryOutcome,
    SwitchConfig,
    SwitchSetup,
)

CALL_TIMEOUT_S = 5.0
#: a CSV import streams for as long as the file takes; generous but bounded
IMPORT_TIMEOUT_S = 3600.0
T = TypeVar("T")


class IngestAdmin(Protocol):
    """What the admin pages and the REST API need from ingest; tests pass an in-memory implementation."""

    async def list_switch_configs(self) -> list[SwitchConfig]: ...

    async def get_switch(self, switch_id: str) -> SwitchConfig: ...

    async def upsert_switch(self, config: SwitchConfig, password: str = "") -> SwitchConfig: ...

    async def delete_switch(self, switch_id: str) -> None: ...

    async def switch_setup(self, switch_id: str) -> SwitchSetup: ...

    async def connector_state(self, switch_id: str) -> ConnectorState | None:
        """None when the switch has no pull connector or it has not polled yet."""
        ...

    async def list_mapping_profiles(self) -> list[MappingProfile]: ...

    async def save_mapping_profile(self, profile: MappingProfile) -> MappingProfile: ...

    async def delete_mapping_profile(self, name: str) -> None: ...

    async def import_file(self, request: ImportRequest, chunks: AsyncIterator[bytes]) -> ImportOutcome: ...

    async def list_rejects(
        self, switch_id: str, cursor: str, page_size: int, *, include_reimported: bool
    ) -> RejectPage: ...

    async def retry_reject(self, reject_id: str, raw: str) -> RetryOutcome: ...

    async def authenticate_switch(self, username: str, password: str) -> str | None:
        """The id of the switch these push credentials belong to; None when they don't."""
        ...


def switch_to_proto(config: SwitchConfig) -> ingest_pb2.Switch:
    c = config.connector
    return ingest_pb2.Switch(
        id=config.id,
        name=config.name,
        type=config.type,
        home_country=config.home_country,
        username=config.username,
        enabled=config.enabled,
        time_zone=config.time_zone,
        internal_extension_max_len=config.internal_extension_max_len,
        remove_prefixes=[ingest_pb2.PrefixRule(prefix=p) for p in config.remove_prefixes],
        direction_rules=[
            ingest_pb2.DirectionRule(field=r.field, pattern=r.pattern, direction=r.direction)
            for r in config.direction_rules
        ],
        connector=ingest_pb2.ConnectorSettings(
            type=c.type,
            dsn=c.dsn,
            table=c.table,
            poll_interval_s=c.poll_interval_s,
            password=c.password,
            columns=dict(c.columns),
            enrich_from_acc=c.enrich_from_acc,
            layout=c.layout,
        ),
    )


def switch_from_proto(message: ingest_pb2.Switch) -> SwitchConfig:
    c = message.connector
    return SwitchConfig(
        id=message.id,
        name=message.name,
        type=message.type or "other",
        home_country=message.home_country,
        username=message.username,
        enabled=message.enabled,
        time_zone=message.time_zone,
        internal_extension_max_len=message.internal_extension_max_len,
        remove_prefixes=tuple(p.prefix for p in message.remove_prefixes),
        direction_rules=tuple(DirectionRule(r.field, r.pattern, r.direction) for r in message.direction_rules),
        connector=Connector(
            type=c.type,
            dsn=c.dsn,
            table=c.table,
            poll_interval_s=c.poll_interval_s,
            columns=tuple(sorted(c.columns.items())),
            enrich_from_acc=c.enrich_from_acc,
            layout=c.layout,
        ),
        has_password=message.has_password,
    )


def profile_to_proto(profile: MappingProfile) -> ingest_pb2.MappingProfile:
    return ingest_pb2.MappingProfile(
        name=profile.name,
        has_header=profile.has_header,
        delimiter=profile.delimiter,
        date_format=profile.date_format,
        time_zone=profile.time_zone,
        duration_unit=profile.duration_unit,
        columns=[ingest_pb2.ColumnMapping(field=f, column=c) for f, c in profile.columns],
    )


def profile_from_proto(message: ingest_pb2.MappingProfile) -> MappingProfile:
    return MappingProfile(
        name=message.name,
        has_header=message.has_header,
        delimiter=message.delimiter or ",",
        date_format=message.date_format,
        time_zone=message.time_zone,
        duration_unit=message.duration_unit or "s",
        columns=tuple((c.field, c.column) for c in message.columns),
    )


def import_header(request: ImportRequest) -> ingest_pb2.ImportFileRequest:
    header = ingest_pb2.ImportHeader(
        switch_id=request.switch_id,
        format=request.format,
        file_name=request.file_name,
        size_bytes=request.size_bytes,
        mapping_profile=request.mapping_profile,
    )
    if request.mapping is not None:
        header.mapping.CopyFrom(profile_to_proto(request.mapping))
    return ingest_pb2.ImportFileRequest(header=header)


def outcome_from_proto(result: ingest_pb2.ImportResult) -> ImportOutcome:
    return ImportOutcome(
        job_id=result.job_id,
        lines=result.lines,
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=result.rejected,
        rejects=tuple((r.index, r.reason) for r in result.rejects),
    )


class IngestAdminClient:
    """Mixin: needs ``self.ingest`` (the stub) and ``self._call`` (status mapping) of ServiceClients."""

    ingest: ingest_pb2_grpc.IngestServiceStub

    async def _call(self, service: str, call: Callable[[], Awaitable[T]], *, quiet: bool = False) -> T:
        raise NotImplementedError

    async def authenticate_switch(self, username: str, password: str) -> str | None:
        request = ingest_pb2.AuthenticateSwitchRequest(username=username, password=password)

        async def check() -> str | None:
            try:
                return str((await self.ingest.AuthenticateSwitch(request, timeout=CALL_TIMEOUT_S)).id)
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                    return None  # not a switch's credentials: the caller tries a user next
                raise

        return await self._call("ingest", check)

    async def list_switch_configs(self) -> list[SwitchConfig]:
        request = ingest_pb2.ListSwitchesRequest()
        reply = await self._call("ingest", lambda: self.ingest.ListSwitches(request, timeout=CALL_TIMEOUT_S))
        return sorted((switch_from_proto(s) for s in reply.switches), key=lambda s: s.id)

    async def get_switch(self, switch_id: str) -> SwitchConfig:
        request = ingest_pb2.GetSwitchRequest(id=switch_id)
        reply = await self._call("ingest", lambda: self.ingest.GetSwitch(request, timeout=CALL_TIMEOUT_S))
        return switch_from_proto(reply)

    async def upsert_switch(self, config: SwitchConfig, password: str = "") -> SwitchConfig:
        request = ingest_pb2.UpsertSwitchRequest(switch=switch_to_proto(config), password=password)
        reply = await self._call("ingest", lambda: self.ingest.UpsertSwitch(request, timeout=CALL_TIMEOUT_S))
        return switch_from_proto(reply)

    async def delete_switch(self, switch_id: str) -> None:
        request = ingest_pb2.DeleteSwitchRequest(id=switch_id)
        await self._call("ingest", lambda: self.ingest.DeleteSwitch(request, timeout=CALL_TIMEOUT_S))

    async def switch_setup(self, switch_id: str) -> SwitchSetup:
        request = ingest_pb2.GetSwitchRequest(id=switch_id)
        reply = await self._call("ingest", lambda: self.ingest.GetSwitchSetup(request, timeout=CALL_TIMEOUT_S))
        return SwitchSetup(reply.ingest_url, reply.snippet, reply.snippet_language, reply.call_state_url)

    async def connector_state(self, switch_id: str) -> ConnectorState | None:
        request = ingest_pb2.GetStatusRequest()
        reply = await self._call("ingest", lambda: self.ingest.GetStatus(request, timeout=CALL_TIMEOUT_S))
        for c in reply.connectors:
            if c.switch_id == switch_id:
                return ConnectorState(
                    c.source,
                    c.last_poll_time,
                    c.last_success_time,
                    c.last_error,
                    c.last_accepted,
                    c.last_duplicates,
                    c.last_rejected,
                    c.total_accepted,
                    c.watermark_json,
                )
        return None

    async def list_mapping_profiles(self) -> list[MappingProfile]:
        request = ingest_pb2.ListMappingProfilesRequest()
        reply = await self._call("ingest", lambda: self.ingest.ListMappingProfiles(request, timeout=CALL_TIMEOUT_S))
        return [profile_from_proto(p) for p in reply.profiles]

    async def save_mapping_profile(self, profile: MappingProfile) -> MappingProfile:
        message = profile_to_proto(profile)
        reply = await self._call("ingest", lambda: self.ingest.SaveMappingProfile(message, timeout=CALL_TIMEOUT_S))
        return profile_from_proto(reply)

    async def delete_mapping_profile(self, name: str) -> None:
        request = ingest_pb2.DeleteMappingProfileRequest(name=name)
        await self._call("ingest", lambda: self.ingest.DeleteMappingProfile(request, timeout=CALL_TIMEOUT_S))

    async def import_file(self, request: ImportRequest, chunks: AsyncIterator[bytes]) -> ImportOutcome:
        """Streams the file as it arrives (constant memory); answers when ingest has read all of it.

        grpc.aio swallows an error of the request iterator (a body over the limit, or too slow) and
        only cancels the call; that error is re-raised here instead of the bare CancelledError.
        """
        failed: list[Exception] = []

        async def messages() -> AsyncIterator[ingest_pb2.ImportFileRequest]:
            yield import_header(request)
            try:
                async for chunk in chunks:
                    yield ingest_pb2.ImportFileRequest(chunk=chunk)
            except Exception as exc:
                failed.append(exc)
                raise

        def call() -> Any:
            return self.ingest.ImportFile(messages(), timeout=IMPORT_TIMEOUT_S)

        try:
            result: Any = await self._call("ingest", call)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if failed and task is not None and not task.cancelling():  # cancelled by grpc, not from outside
                raise failed[0] from None
            raise
        return outcome_from_proto(result)

    async def list_rejects(
        self, switch_id: str, cursor: str, page_size: int, *, include_reimported: bool
    ) -> RejectPage:
        """Rejects are admin data: the scope sent is the admin's (the gateway checks the role first)."""
        request = ingest_pb2.ListRejectsRequest(
            scope=ingest_pb2.Scope(admin=True),
            switch_id=switch_id,
            page_size=page_size,
            cursor=cursor,
            include_reimported=include_reimported,
        )
        reply = await self._call("ingest", lambda: self.ingest.ListRejects(request, timeout=CALL_TIMEOUT_S))
        rejects = tuple(
            RejectInfo(r.id, r.switch_id, r.source, r.reason, r.raw, r.location, r.received_time_us, r.status)
            for r in reply.rejects
        )
        return RejectPage(rejects, reply.next_cursor, reply.total)

    async def retry_reject(self, reject_id: str, raw: str) -> RetryOutcome:
        request = ingest_pb2.RetryRejectRequest(scope=ingest_pb2.Scope(admin=True), id=reject_id, raw=raw)
        reply = await self._call("ingest", lambda: self.ingest.RetryReject(request, timeout=CALL_TIMEOUT_S))
        return RetryOutcome(reply.status, reply.reason, reply.id)
