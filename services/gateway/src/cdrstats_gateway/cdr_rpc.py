"""CDR search filters and results <-> ingest's protobuf messages (conversion only, no calls)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from cdrstats.cdr.v1 import cdr_pb2
from cdrstats.ingest.v1 import ingest_pb2
from cdrstats_common import cdr as cdr_model
from cdrstats_gateway.domain.cdr_filters import CdrFilters
from cdrstats_gateway.domain.models import Scope

EXPORT_BATCH = 1000


@dataclasses.dataclass(frozen=True)
class CdrPage:
    cdrs: list[dict[str, Any]]
    next_cursor: str
    total: int | None


@dataclasses.dataclass(frozen=True)
class SubmitResult:
    accepted: int
    duplicates: int
    rejected: int
    rejects: list[dict[str, Any]]


def scope_to_proto(scope: Scope) -> ingest_pb2.Scope:
    return ingest_pb2.Scope(admin=scope.admin, allowed_accountcodes=list(scope.accountcodes))


def query_to_proto(filters: CdrFilters) -> ingest_pb2.CdrQuery:
    query = ingest_pb2.CdrQuery(
        start_from_us=filters.start_from_us,
        start_to_us=filters.start_to_us,
        switch_ids=list(filters.switch_ids),
        directions=list(filters.directions),
        hangup_causes=list(filters.hangup_causes),
        sip_codes=list(filters.sip_codes),
        countries=list(filters.countries),
        duration_ms=[ingest_pb2.NumberFilter(op=n.op, value=n.value) for n in filters.duration_ms],
        billsec_ms=[ingest_pb2.NumberFilter(op=n.op, value=n.value) for n in filters.billsec_ms],
        sources=list(filters.sources),
        uuid=filters.uuid,
        call_id=filters.call_id,
        destination_prefixes=list(filters.destination_prefixes),
    )
    for field, text in filters.text.items():
        getattr(query, field).CopyFrom(ingest_pb2.TextFilter(op=text.op, value=text.value))
    if filters.answered is not None:
        query.answered = filters.answered
    return query


def search_request(scope: Scope, filters: CdrFilters, *, with_total: bool) -> ingest_pb2.SearchCdrsRequest:
    return ingest_pb2.SearchCdrsRequest(
        scope=scope_to_proto(scope),
        query=query_to_proto(filters),
        sort_by=filters.sort_by,
        ascending=filters.ascending,
        page_size=filters.page_size,
        cursor=filters.cursor,
        with_total=with_total,
    )


def page_from_proto(reply: ingest_pb2.SearchCdrsResponse, *, with_total: bool) -> CdrPage:
    cdrs = [cdr_model.from_proto(message) for message in reply.cdrs]
    return CdrPage(cdrs, reply.next_cursor, reply.total if with_total else None)


def export_request(scope: Scope, filters: CdrFilters, limit: int) -> ingest_pb2.ExportCdrsRequest:
    return ingest_pb2.ExportCdrsRequest(
        scope=scope_to_proto(scope),
        query=query_to_proto(filters),
        sort_by=filters.sort_by,
        ascending=filters.ascending,
        batch_size=EXPORT_BATCH,
        limit=limit,
    )


def get_request(scope: Scope, cdr_id: str) -> ingest_pb2.GetCdrRequest:
    return ingest_pb2.GetCdrRequest(id=cdr_id, admin=scope.admin, allowed_accountcodes=list(scope.accountcodes))


def cdr_from_proto(message: cdr_pb2.Cdr) -> dict[str, Any]:
    return cdr_model.from_proto(message)


def batch_from_proto(batch: cdr_pb2.CdrBatch) -> list[dict[str, Any]]:
    return [cdr_model.from_proto(message) for message in batch.cdrs]


def submit_requests(switch_id: str, cdrs: Sequence[dict[str, Any]], batch: int = 500) -> list[Any]:
    """The client stream of SubmitCdrs: batches of canonical CDRs (the gateway's input is bounded)."""
    return [
        ingest_pb2.SubmitCdrsRequest(
            switch_id=switch_id, cdrs=[cdr_model.to_proto(cdr_model.new_cdr(**cdr)) for cdr in cdrs[i : i + batch]]
        )
        for i in range(0, len(cdrs), batch)
    ] or [ingest_pb2.SubmitCdrsRequest(switch_id=switch_id)]


def submit_from_proto(reply: ingest_pb2.SubmitCdrsResponse) -> SubmitResult:
    rejects = [{"index": r.index, "reason": r.reason, "reject_id": r.reject_id} for r in reply.rejects]
    return SubmitResult(reply.accepted, reply.duplicates, reply.rejected, rejects)
