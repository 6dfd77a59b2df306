"""OpenAPI descriptions of /api/v1 routes registered by modules that do not decorate their handlers.

Keyed by route name; the OpenAPI test fails when a name here no longer exists or a
route has no description at all, so this table cannot drift silently.
"""

from __future__ import annotations

from typing import Any

from cdrstats_gateway import cdr_flags
from cdrstats_gateway.domain import cdr_filters, cdr_format
from cdrstats_gateway.rest import BOOL, INT, NUM, STR, ApiDoc, Param, arr, obj, ref

CDR_ID = (Param("id", "path", required=True, description="the CDR id"),)


def _cdr_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {}
    for field, column in zip(cdr_format.FIELDS, cdr_format.COLUMNS, strict=True):
        default = cdr_format.DEFAULTS[field]
        if field.endswith("_time_us"):
            properties[column] = {"type": ["string", "null"], "format": "date-time"}
        elif field == "extra":
            properties[column] = {"type": "object", "additionalProperties": STR}
        elif isinstance(default, bool):
            properties[column] = BOOL
        elif isinstance(default, int):
            properties[column] = INT
        elif isinstance(default, float):
            properties[column] = NUM
        else:
            properties[column] = STR
    return obj(properties)


def _cdr_detail_schema() -> dict[str, Any]:
    """A CDR plus alerting's black/white/geo verdict on it (cdr_flags)."""
    schema = _cdr_schema()
    schema["properties"]["destination_verdict"] = cdr_flags.VERDICT_SCHEMA
    schema["required"].append("destination_verdict")
    return schema


def external_schemas() -> dict[str, Any]:
    return {"Cdr": _cdr_schema(), "CdrDetail": _cdr_detail_schema()}


def _filter_params() -> tuple[Param, ...]:
    return tuple(Param(name, description="see docs/api.md, CDR filters") for name in cdr_filters.PARAMS)


ROUTE_DOCS: dict[str, ApiDoc] = {
    "api_cdrs": ApiDoc(
        "Search CDRs with every filter of the CDR page (a page; next_cursor fetches the next)",
        "cdrs",
        obj(
            {
                "cdrs": arr(ref("Cdr")),
                "next_cursor": {"type": ["string", "null"]},
                "total": {"type": ["integer", "null"]},
            }
        ),
        params=(*_filter_params(), Param("total", schema=BOOL, description="also count every match")),
        errors=(400, 503),
    ),
    "api_cdrs_create": ApiDoc(
        "Create up to 10,000 CDRs of one switch (admin); normalised and de-duplicated by ingest",
        "cdrs",
        obj({"accepted": INT, "duplicates": INT, "rejected": INT, "rejects": arr({"type": "object"})}),
        body=obj({"switch_id": STR, "cdrs": arr({"type": "object"})}),
        admin=True,
        errors=(400, 404, 413, 503),
    ),
    "api_cdrs_export": ApiDoc(
        "Every CDR matching the filters, streamed as CSV or JSON Lines",
        "cdrs",
        {"type": "string"},
        params=(
            *_filter_params(),
            Param("format", schema={"enum": ["csv", "jsonl"]}),
            Param("limit", schema=INT, description="at most this many CDRs"),
        ),
        response_content_type="text/csv",
        other_content_types=("application/x-ndjson",),
        errors=(400, 503),
    ),
    "api_cdr": ApiDoc(
        "One CDR with every field and extra, and its black/white/geo verdict",
        "cdrs",
        ref("CdrDetail"),
        params=CDR_ID,
        errors=(404, 503),
    ),
}
