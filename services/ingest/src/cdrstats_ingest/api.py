"""ingest api process: gRPC IngestService and the switches' HTTP receivers, on one event loop."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, NoReturn

import grpc
from aiohttp import web

from cdrstats.cdr.v1 import cdr_pb2
from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_common import cdr as cdr_model
from cdrstats_common.grpc_server import serve_api
from cdrstats_common.logs import setup_logging
from cdrstats_common.settings import load_or_exit
from cdrstats_ingest import convert
from cdrstats_ingest.domain.errors import NotFound, UnknownSwitch
from cdrstats_ingest.domain.query import InvalidQuery, PermissionDenied
from cdrstats_ingest.grpc_errors import abort
from cdrstats_ingest.http_receiver import create_receiver_app
from cdrstats_ingest.imports_api import ImportsServicerMixin
from cdrstats_ingest.query import CdrQueries
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.settings import IngestSettings
from cdrstats_ingest.store import open_store
from cdrstats_ingest.switches_api import DEFAULT_PUBLIC_URL, SwitchesServicerMixin

log = logging.getLogger(__name__)


class IngestServicer(ImportsServicerMixin, SwitchesServicerMixin, ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, service: IngestService, *, public_url: str = DEFAULT_PUBLIC_URL) -> None:
        self.service = service
        self.public_url = public_url
        self.queries = CdrQueries(service.store)

    async def SubmitCdrs(
        self, request_iterator: AsyncIterator[ingest_pb2.SubmitCdrsRequest], context: grpc.aio.ServicerContext
    ) -> ingest_pb2.SubmitCdrsResponse:
        response = ingest_pb2.SubmitCdrsResponse()
        index = 0
        switch = None
        async for request in request_iterator:
            if switch is None or switch.id != request.switch_id:
                try:
                    switch = await asyncio.to_thread(self.service.switch, request.switch_id)
                except UnknownSwitch as exc:
                    await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
            cdrs = [cdr_model.from_proto(message) for message in request.cdrs]
            results = await asyncio.to_thread(self.service.submit, switch, cdrs, index)
            index += len(cdrs)
            for result in results:
                if result.status == "accepted":
                    response.accepted += 1
                elif result.status == "duplicate":
                    response.duplicates += 1
                else:
                    response.rejected += 1
                    response.rejects.add(
                        index=result.index, status=result.status, reason=result.reason, reject_id=result.reject_id
                    )
        return response

    # -- files, mapping profiles, rejects (owner: files/imports work) ----------
    # ImportFile, Save/List/DeleteMappingProfile, ListRejects, RetryReject: imports_api.ImportsServicerMixin

    # -- search, export, replay (owner: query/storage work) ---------------------

    async def SearchCdrs(
        self, request: ingest_pb2.SearchCdrsRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.SearchCdrsResponse:
        try:
            result = await asyncio.to_thread(
                self.queries.search,
                convert.scope_from_proto(request.scope),
                convert.cdr_query_from_proto(request.query),
                sort_by=request.sort_by,
                ascending=request.ascending,
                page_size=request.page_size,
                cursor=request.cursor,
                with_total=request.with_total,
            )
        except (InvalidQuery, PermissionDenied) as exc:
            await _abort_query(context, exc)
        return ingest_pb2.SearchCdrsResponse(
            cdrs=convert.cdr_batch_to_proto(result.cdrs).cdrs, next_cursor=result.next_cursor, total=result.total or 0
        )

    async def ExportCdrs(
        self, request: ingest_pb2.ExportCdrsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[cdr_pb2.CdrBatch]:
        try:
            batches = await asyncio.to_thread(
                self.queries.export,
                convert.scope_from_proto(request.scope),
                convert.cdr_query_from_proto(request.query),
                sort_by=request.sort_by,
                ascending=request.ascending,
                batch_size=request.batch_size,
                limit=request.limit,
            )
        except (InvalidQuery, PermissionDenied) as exc:
            await _abort_query(context, exc)
        async for batch in _proto_batches(batches):
            yield batch

    async def ReplayCdrs(
        self, request: ingest_pb2.ReplayCdrsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[cdr_pb2.CdrBatch]:
        try:
            batches = self.queries.replay(request.after_id, request.batch_size)
        except InvalidQuery as exc:
            await _abort_query(context, exc)
        async for batch in _proto_batches(batches):
            yield batch

    async def GetCdr(self, request: ingest_pb2.GetCdrRequest, context: grpc.aio.ServicerContext) -> cdr_pb2.Cdr:
        try:
            cdr = await asyncio.to_thread(
                self.service.get_cdr,
                request.id,
                admin=request.admin,
                allowed_accountcodes=list(request.allowed_accountcodes),
            )
        except NotFound as exc:
            await context.abort(grpc.StatusCode.NOT_FOUND, str(exc))
        return cdr_model.to_proto(cdr)

    # -- switch registry: switches_api.SwitchesServicerMixin --------------------

    async def GetStatus(
        self, request: ingest_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.IngestStatus:
        stored, pending = await asyncio.to_thread(self.service.status)
        rejects_open = await asyncio.to_thread(self.service.store.rejects_open)
        connectors = await asyncio.to_thread(self.service.store.list_connector_states)
        return ingest_pb2.IngestStatus(
            cdrs_stored=stored,
            outbox_pending=pending,
            rejects_open=rejects_open,
            connectors=[convert.connector_status_to_proto(state) for state in connectors],
        )


async def _abort_query(context: grpc.aio.ServicerContext, exc: InvalidQuery | PermissionDenied) -> NoReturn:
    """The query errors' one mapping to gRPC status: the message names the request field."""
    code = grpc.StatusCode.PERMISSION_DENIED if isinstance(exc, PermissionDenied) else grpc.StatusCode.INVALID_ARGUMENT
    await abort(context, code, str(exc))


async def _proto_batches(batches: Iterator[list[dict[str, Any]]]) -> AsyncIterator[cdr_pb2.CdrBatch]:
    """Each batch is read and converted in a worker thread: the event loop keeps serving meanwhile."""

    def next_batch() -> cdr_pb2.CdrBatch | None:
        batch = next(batches, None)
        return None if batch is None else convert.cdr_batch_to_proto(batch)

    try:
        while (message := await asyncio.to_thread(next_batch)) is not None:
            yield message
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            await asyncio.to_thread(close)


async def serve(settings: IngestSettings) -> None:
    store = open_store(settings.store_url)
    service = IngestService(store)
    receiver = create_receiver_app(
        service, max_body_bytes=settings.max_body_bytes, read_timeout_s=settings.http_read_timeout_s
    )
    runner = web.AppRunner(receiver, access_log=None, keepalive_timeout=settings.http_read_timeout_s)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    log.info("http receiver listening", extra={"fields": {"host": settings.http_host, "port": settings.http_port}})
    servicer = IngestServicer(service, public_url=settings.public_url)
    register = functools.partial(ingest_pb2_grpc.add_IngestServiceServicer_to_server, servicer)
    await serve_api(
        settings.grpc_listen,
        admin_port=settings.admin_port,
        store=store,
        services=[("cdrstats.ingest.v1.IngestService", register)],
        before_close=runner.cleanup,  # switches stop being answered before the store closes
    )


def main() -> None:
    settings = load_or_exit(IngestSettings.from_env)
    setup_logging("ingest", "api", settings.log_level)
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
