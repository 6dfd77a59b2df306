"""gRPC side of file imports, mapping profiles and rejects (mixed into IngestServicer).

ImportFile hands the chunks to a thread through a small bounded queue: the import reads
them as a stream (constant memory) and the client is slowed down when the store is.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc

from cdrstats.ingest.v1 import ingest_pb2
from cdrstats_ingest import convert
from cdrstats_ingest.domain.errors import InvalidCdr, NotFound, UnknownSwitch
from cdrstats_ingest.grpc_errors import abort
from cdrstats_ingest.imports import FileImports, ImportOutcome, make_format
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store.interface import StoredReject

log = logging.getLogger(__name__)

QUEUE_CHUNKS = 8
DEFAULT_PAGE = 100
MAX_PAGE = 1000
_END = b""


class ClientGone(Exception):
    """The client's stream ended with an error before the file was complete."""


class _ChunkPipe:
    """Chunks from the event loop to the import thread; bounded, so memory stays flat."""

    def __init__(self) -> None:
        self.queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self.done = threading.Event()  # the import ended (early on a fatal error): stop feeding it

    def put(self, item: bytes | BaseException) -> None:
        while not self.done.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def chunks(self) -> Iterator[bytes]:
        while True:
            item = self.queue.get()
            if isinstance(item, BaseException):
                raise item
            if item is _END:
                return
            yield item


def _abandoned(task: asyncio.Future[ImportOutcome]) -> None:
    """The client stopped mid-upload and the import thread ended on ClientGone: that is retrieved and
    logged here as what it is (a warning), not left to asyncio ("Task exception was never retrieved")."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("import abandoned by the client", extra={"fields": {"reason": str(task.exception())}})


class ImportsServicerMixin:
    """ImportFile, mapping profiles, ListRejects and RetryReject."""

    service: IngestService

    @functools.cached_property
    def imports(self) -> FileImports:
        return FileImports(self.service.store)

    async def ImportFile(
        self, request_iterator: AsyncIterator[ingest_pb2.ImportFileRequest], context: grpc.aio.ServicerContext
    ) -> ingest_pb2.ImportResult:
        first = await anext(aiter(request_iterator), None)
        if first is None or first.WhichOneof("part") != "header":
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the first message must be the ImportHeader")
        header = first.header
        try:
            switch = await asyncio.to_thread(self.service.switch, header.switch_id)
            fmt = await asyncio.to_thread(self._format_for, header)
        except UnknownSwitch as exc:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(exc))
        except (InvalidCdr, NotFound) as exc:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        pipe = _ChunkPipe()

        def run() -> ImportOutcome:
            try:
                return self.imports.run(
                    switch, fmt, pipe.chunks(), file_name=header.file_name, size_bytes=header.size_bytes
                )
            finally:
                pipe.done.set()

        task = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            async for request in request_iterator:
                if request.chunk:
                    await asyncio.to_thread(pipe.put, request.chunk)
            await asyncio.to_thread(pipe.put, _END)
        except BaseException as exc:
            pipe.put(ClientGone(f"the upload stopped: {exc}"))
            task.add_done_callback(_abandoned)
            raise
        try:
            outcome = await task
        except InvalidCdr as exc:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return convert.result_to_proto(outcome)

    def _format_for(self, header: ingest_pb2.ImportHeader) -> Any:
        mapping = None
        if header.format == "generic_csv":
            if header.mapping_profile:
                mapping = self.imports.profile(header.mapping_profile)
            elif header.HasField("mapping"):
                mapping = convert.profile_from_proto(header.mapping)
        return make_format(header.format or "freeswitch_csv", mapping)

    async def SaveMappingProfile(
        self, request: ingest_pb2.MappingProfile, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.MappingProfile:
        try:
            saved = await asyncio.to_thread(self.imports.save_profile, convert.profile_from_proto(request))
        except InvalidCdr as exc:
            await abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        return convert.profile_to_proto(saved)

    async def ListMappingProfiles(
        self, request: ingest_pb2.ListMappingProfilesRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.ListMappingProfilesResponse:
        profiles = await asyncio.to_thread(self.imports.list_profiles)
        return ingest_pb2.ListMappingProfilesResponse(profiles=[convert.profile_to_proto(p) for p in profiles])

    async def DeleteMappingProfile(
        self, request: ingest_pb2.DeleteMappingProfileRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.DeleteMappingProfileResponse:
        try:
            await asyncio.to_thread(self.imports.delete_profile, request.name)
        except NotFound as exc:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(exc))
        return ingest_pb2.DeleteMappingProfileResponse()

    async def ListRejects(
        self, request: ingest_pb2.ListRejectsRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.ListRejectsResponse:
        if not request.scope.admin:
            await abort(context, grpc.StatusCode.PERMISSION_DENIED, "rejects are for admins only")
        size = min(request.page_size or DEFAULT_PAGE, MAX_PAGE)
        store = self.service.store

        def page() -> tuple[list[StoredReject], int]:
            found = store.list_rejects(
                request.switch_id,
                include_reimported=request.include_reimported,
                before_id=request.cursor,
                limit=size + 1,
            )
            return found, store.count_rejects(request.switch_id, include_reimported=request.include_reimported)

        found, total = await asyncio.to_thread(page)
        more = len(found) > size
        found = found[:size]
        return ingest_pb2.ListRejectsResponse(
            rejects=[convert.reject_to_proto(r) for r in found], next_cursor=found[-1].id if more else "", total=total
        )

    async def RetryReject(
        self, request: ingest_pb2.RetryRejectRequest, context: grpc.aio.ServicerContext
    ) -> ingest_pb2.RecordResult:
        if not request.scope.admin:
            await abort(context, grpc.StatusCode.PERMISSION_DENIED, "rejects are for admins only")
        try:
            result = await asyncio.to_thread(self.imports.retry_reject, request.id, request.raw)
        except (NotFound, UnknownSwitch) as exc:
            await abort(context, grpc.StatusCode.NOT_FOUND, str(exc))
        return ingest_pb2.RecordResult(
            index=result.index, status=result.status, reason=result.reason, id=result.id, reject_id=result.reject_id
        )
