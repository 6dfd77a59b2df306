"""ingest api process: gRPC IngestService and the switches' HTTP receivers, on one event loop."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator

import grpc
from aiohttp import web

from cdrstats.cdr.v1 import cdr_pb2
from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_common import cdr as cdr_model
from cdrstats_common.grpc_server import serve_api
from cdrstats_common.logs import setup_logging
from cdrstats_common.settings import load_or_exit
from cdrstats_ingest import convert
from cdrstats_ingest.domain.errors import InvalidCdr, NotFound, UnknownSwitch
from cdrstats_ingest.http_receiver import create_receiver_app
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.settings import IngestSettings
from cdrstats_ingest.store import open_store

log = logging.getLogger(__name__)


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, service: IngestService) -> None:
        self.service = service

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
                    response.rejects.add(index=result.index, status=result.status, reason=result.reason)
        return response

    # -- files, mapping profiles, rejects (owner: files/imports work) ----------

    # -- search, export, replay (owner: query/storage work) ---------------------

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

    # -- switch registry (owner: query/storage work) ---------------------------

    async def UpsertSwitch(
        self, request: ingest_pb2.UpsertSwitchRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.Switch:
        try:
            config = await asyncio.to_thread(
                self.service.upsert_switch, convert.switch_from_proto(request.switch), request.password
            )
        except InvalidCdr as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return convert.switch_to_proto(config)

    async def ListSwitches(
        self, request: ingest_pb2.ListSwitchesRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.ListSwitchesResponse:
        switches = await asyncio.to_thread(self.service.store.list_switches)
        return ingest_pb2.ListSwitchesResponse(switches=[convert.switch_to_proto(s) for s in switches])

    async def GetStatus(
        self, request: ingest_pb2.GetStatusRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.IngestStatus:
        stored, pending = await asyncio.to_thread(self.service.status)
        return ingest_pb2.IngestStatus(cdrs_stored=stored, outbox_pending=pending)


async def serve(settings: IngestSettings) -> None:
    store = open_store(settings.store_url)
    service = IngestService(store)
    runner = web.AppRunner(create_receiver_app(service, max_body_bytes=settings.max_body_bytes), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http_host, settings.http_port).start()
    log.info("http receiver listening", extra={"fields": {"host": settings.http_host, "port": settings.http_port}})
    register = functools.partial(ingest_pb2_grpc.add_IngestServiceServicer_to_server, IngestServicer(service))
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
