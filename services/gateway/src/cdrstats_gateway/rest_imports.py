"""REST API for CSV imports (admin): stream a file to ingest, follow a job, keep mapping profiles."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from cdrstats_common import http_guard
from cdrstats_gateway import keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import switches
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.imports import ImportJob, ImportTooLarge, ImportTracker, counted
from cdrstats_gateway.domain.switches import ImportRequest, MappingProfile
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.rest import (
    BOOL,
    INT,
    STR,
    TIME,
    TIME_OR_NULL,
    Param,
    arr,
    documented,
    domain_errors,
    obj,
    read_json,
    ref,
    require_admin,
    time_or_none,
)

log = logging.getLogger(__name__)

IMPORTS = web.AppKey("imports", ImportTracker)
CHUNK_BYTES = 64 * 1024
OUTCOME = obj(
    {
        "job_id": STR,
        "lines": INT,
        "accepted": INT,
        "duplicates": INT,
        "rejected": INT,
        "rejects": arr(obj({"line": INT, "reason": STR})),
    }
)
JOB_SCHEMA = obj(
    {
        "id": STR,
        "state": {"enum": ["waiting", "uploading", "done", "failed"]},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "file_name": STR,
        "switch_id": STR,
        "format": STR,
        "size_bytes": INT,
        "sent_bytes": INT,
        "result": {"oneOf": [OUTCOME, {"type": "null"}]},
        "error": STR,
        "created_at": TIME,
        "finished_at": TIME_OR_NULL,
    }
)
PROFILE_SCHEMA = obj(
    {
        "name": STR,
        "has_header": BOOL,
        "delimiter": STR,
        "date_format": STR,
        "time_zone": STR,
        "duration_unit": {"enum": ["s", "ms"]},
        "columns": {"type": "object", "additionalProperties": STR},
    }
)
PROFILE_BODY = {
    **PROFILE_SCHEMA,
    "required": ["columns"],
    "examples": [{"columns": {"uuid": "Call ID", "start_time": "Start"}, "delimiter": ";"}],
}
IMPORT_PARAMS = (
    Param("switch_id", required=True, description="the switch the CDRs came from"),
    Param("format", schema={"enum": list(switches.IMPORT_FORMATS)}, description="default freeswitch_csv"),
    Param("file_name", description="shown in the job and the rejects' location"),
    Param("mapping_profile", description="generic_csv: a saved mapping profile"),
)


def job_json(job: ImportJob) -> dict[str, Any]:
    outcome = job.outcome
    result = None
    if outcome is not None:
        result = {
            **{k: v for k, v in dataclasses.asdict(outcome).items() if k != "rejects"},
            "rejects": [{"line": line, "reason": reason} for line, reason in outcome.rejects],
        }
    return {
        "id": job.id,
        "state": job.state,
        "progress": job.progress,
        "file_name": job.file_name,
        "switch_id": job.switch_id,
        "format": job.format,
        "size_bytes": job.size_bytes,
        "sent_bytes": job.sent_bytes,
        "result": result,
        "error": job.error,
        "created_at": time_or_none(job.created_at),
        "finished_at": time_or_none(job.finished_at),
    }


def profile_json(profile: MappingProfile) -> dict[str, Any]:
    return {**dataclasses.asdict(profile), "columns": dict(profile.columns)}


def import_request(values: Any, size: int) -> ImportRequest:
    """The header of an import from query or form values; InvalidInput names the bad field."""
    fmt = str(values.get("format") or "freeswitch_csv")
    if fmt not in switches.IMPORT_FORMATS:
        raise InvalidInput("format", "one of " + ", ".join(switches.IMPORT_FORMATS))
    profile = str(values.get("mapping_profile") or "").strip()
    return ImportRequest(
        switch_id=switches.switch_id(values.get("switch_id")),
        format=fmt,
        file_name=str(values.get("file_name") or "upload.csv")[:200],
        size_bytes=max(size, 0),
        mapping_profile=profile,
    )


async def run_import(
    app: web.Application, job: ImportJob, request: ImportRequest, chunks: AsyncIterator[bytes]
) -> ImportJob:
    """Stream ``chunks`` to ingest; the job records progress, then the result or the failure."""
    tracker = app[IMPORTS]
    job.file_name, job.switch_id, job.format = request.file_name, request.switch_id, request.format
    job.size_bytes = request.size_bytes
    try:
        outcome = await app[keys.SERVICES].import_file(request, counted(job, chunks))
    except ServiceError as exc:
        tracker.fail(job, exc.message)
        raise
    except ImportTooLarge as exc:
        tracker.fail(job, str(exc))
        raise ApiError(413, "payload_too_large", str(exc)) from exc
    except http_guard.SlowBody as exc:  # answered 408 by the guard middleware
        tracker.fail(job, f"the upload was cut off: {exc}")
        raise
    except Exception:
        tracker.fail(job, "the import failed; see the gateway log")
        raise
    tracker.finish(job, outcome)
    return job


async def body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    async for chunk in request.content.iter_chunked(CHUNK_BYTES):
        yield chunk


@documented(
    "Import a CSV file (the request body, streamed to ingest); answers when every line is read",
    "imports",
    ref("ImportJob"),
    admin=True,
    params=IMPORT_PARAMS,
    body={"type": "string"},
    body_content_type="text/csv",
    errors=(400, 404, 413, 503),
)
async def create_import(request: web.Request) -> web.StreamResponse:
    user = require_admin(request)
    with domain_errors():
        header = import_request(request.query, request.content_length or 0)
    job = request.app[IMPORTS].create(user.id)
    await run_import(request.app, job, header, body_chunks(request))
    return web.json_response(job_json(job))


@documented(
    "The caller's recent imports, newest first (running ones with progress)",
    "imports",
    arr(ref("ImportJob")),
    admin=True,
)
async def list_imports(request: web.Request) -> web.StreamResponse:
    user = require_admin(request)
    return web.json_response([job_json(j) for j in request.app[IMPORTS].of_owner(user.id)])


@documented(
    "One of the caller's imports",
    "imports",
    ref("ImportJob"),
    admin=True,
    params=(Param("id", "path", required=True),),
    errors=(404,),
)
async def get_import(request: web.Request) -> web.StreamResponse:
    user = require_admin(request)
    job = request.app[IMPORTS].get(request.match_info["id"], user.id)
    if job is None:
        raise ApiError(404, "not_found", "no such import")
    return web.json_response(job_json(job))


@documented("Saved CSV column mapping profiles", "imports", arr(ref("MappingProfile")), admin=True, errors=(503,))
async def list_profiles(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    profiles = await request.app[keys.SERVICES].list_mapping_profiles()
    return web.json_response([profile_json(p) for p in profiles])


@documented(
    "Create or replace a mapping profile (columns: canonical field -> header name or 1-based number)",
    "imports",
    ref("MappingProfile"),
    body=PROFILE_BODY,
    admin=True,
    params=(Param("name", "path", required=True),),
    errors=(400, 503),
)
async def put_profile(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    body = await read_json(request)
    with domain_errors():
        profile = switches.mapping_profile({**body, "name": request.match_info["name"]})
    saved = await request.app[keys.SERVICES].save_mapping_profile(profile)
    return web.json_response(profile_json(saved))


@documented(
    "Remove a mapping profile",
    "imports",
    None,
    status=204,
    admin=True,
    params=(Param("name", "path", required=True),),
    errors=(404, 503),
)
async def delete_profile(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    await request.app[keys.SERVICES].delete_mapping_profile(request.match_info["name"])
    return web.Response(status=204)


ROUTES = (
    ("POST", "/api/v1/imports", create_import, "api_imports_create"),
    ("GET", "/api/v1/imports", list_imports, "api_imports"),
    ("GET", "/api/v1/imports/{id}", get_import, "api_import"),
    ("GET", "/api/v1/mapping-profiles", list_profiles, "api_profiles"),
    ("PUT", "/api/v1/mapping-profiles/{name}", put_profile, "api_profile_put"),
    ("DELETE", "/api/v1/mapping-profiles/{name}", delete_profile, "api_profile_delete"),
)
SCHEMAS = {"ImportJob": JOB_SCHEMA, "MappingProfile": PROFILE_SCHEMA}
