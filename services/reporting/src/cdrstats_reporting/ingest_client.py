"""Reporting's client of ingest: search (ExportCdrs) for filters with no roll-up, replay for rebuilds.

Synchronous grpcio: the api calls it from its thread pool, the CLI directly. Never call
it from the nameko worker's greenthreads without ``cdrstats_common.tpool``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_common.cdr import from_proto
from cdrstats_reporting.domain.rollup import Filters

EXPORT_TIMEOUT_S = 120.0


class IngestClient:
    def __init__(self, address: str) -> None:
        self.address = address
        self.channel = grpc.insecure_channel(address)
        self.stub = ingest_pb2_grpc.IngestServiceStub(self.channel)

    def export(self, filters: Filters, query: Any, start_us: int, end_us: int) -> Iterator[dict[str, Any]]:
        """Every CDR of the scope and ``query`` (a CdrQuery or None) starting in [start_us, end_us)."""
        request = ingest_pb2.ExportCdrsRequest(batch_size=1000)
        if query is not None:
            request.query.CopyFrom(query)
        request.query.start_from_us, request.query.start_to_us = start_us, end_us
        if filters.switch_ids is not None:
            wanted = set(filters.switch_ids)
            if request.query.switch_ids:
                wanted &= set(request.query.switch_ids)
                if not wanted:
                    return
            request.query.ClearField("switch_ids")
            request.query.switch_ids.extend(sorted(wanted))
        if filters.accountcodes is None:
            request.scope.admin = True
        else:
            request.scope.allowed_accountcodes.extend(filters.accountcodes)
        for batch in self.stub.ExportCdrs(request, timeout=EXPORT_TIMEOUT_S):
            for cdr in batch.cdrs:
                yield from_proto(cdr)

    def replay(self, after_id: str = "", batch_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
        """Every stored CDR after ``after_id`` in ingest order, in batches."""
        request = ingest_pb2.ReplayCdrsRequest(after_id=after_id, batch_size=batch_size)
        for batch in self.stub.ReplayCdrs(request):
            yield [from_proto(cdr) for cdr in batch.cdrs]

    def close(self) -> None:
        self.channel.close()
