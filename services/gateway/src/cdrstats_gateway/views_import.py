"""CSV import pages (admin): upload with a mapping, a progress bar from the job the gateway tracks.

The upload is a multipart POST read part by part: the file part is streamed to
ingest's ImportFile as it arrives (constant memory, any size). The page's script
first creates the job (so it knows what to poll), then uploads and polls the job's
status until ingest has answered (100 %).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

from aiohttp import BodyPartReader, web

from cdrstats_gateway import auth, keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import formatting, switches
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.imports import ImportJob
from cdrstats_gateway.rendering import render
from cdrstats_gateway.rest_imports import IMPORTS, import_request, job_json, run_import
from cdrstats_gateway.views_admin import require_admin_page

MAX_FIELD_BYTES = 64 * 1024
REJECTS_PAGE = 50
CHUNK_BYTES = 64 * 1024


async def _lists(request: web.Request) -> tuple[list[Any], list[Any], str]:
    services = request.app[keys.SERVICES]
    try:
        return await services.list_switch_configs(), await services.list_mapping_profiles(), ""
    except ServiceError as exc:
        return [], [], exc.message


async def import_page(request: web.Request, *, error: str = "", status: int = 200) -> web.Response:
    user = require_admin_page(request)
    switch_list, profiles, service_error = await _lists(request)
    context = {
        "switches": switch_list,
        "profiles": profiles,
        "formats": switches.IMPORT_FORMATS,
        "jobs": request.app[IMPORTS].of_owner(user.id),
        "selected_switch": request.query.get("switch", ""),
        "error": error or service_error,
    }
    return render(request, "import.html", context, status=status)


async def import_form(request: web.Request) -> web.StreamResponse:
    return await import_page(request)


async def create_job(request: web.Request) -> web.StreamResponse:
    """POST /import/jobs (X-CSRF-Token): a job id to poll while the upload runs."""
    user = require_admin_page(request)
    job = request.app[IMPORTS].create(user.id)
    return web.json_response(_job_links(request, job), status=201)


def _job_links(request: web.Request, job: ImportJob) -> dict[str, Any]:
    router = request.app.router
    return {
        **job_json(job),
        "status_url": str(router["import_job_status"].url_for(id=job.id)),
        "page_url": str(router["import_job"].url_for(id=job.id)),
    }


def _inline_mapping(fields: dict[str, str]) -> switches.MappingProfile | None:
    if fields.get("format") != "generic_csv" or fields.get("mapping_profile") or not fields.get("columns", "").strip():
        return None
    columns = {}
    for i, line in enumerate(fields["columns"].splitlines()):
        if line.strip():
            field, sep, column = line.partition("=")
            if not sep:
                raise InvalidInput(f"columns line {i + 1}", "field=column")
            columns[field.strip()] = column.strip()
    return switches.mapping_profile(
        {**fields, "name": "inline", "has_header": "has_header" in fields, "columns": columns}
    )


async def _file_chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(CHUNK_BYTES):
        yield chunk


async def upload(request: web.Request) -> web.StreamResponse:
    """POST /import (multipart; fields first, the file last)."""
    user = require_admin_page(request)
    wants_json = "application/json" in request.headers.get("Accept", "")
    tracker = request.app[IMPORTS]
    reader = await auth.multipart_reader(request)
    fields: dict[str, str] = {}
    job: ImportJob | None = None
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name == auth.CSRF_FIELD:
            continue
        if part.name != "file":
            fields[str(part.name)] = (await part.read_chunk(MAX_FIELD_BYTES)).decode("utf-8", "replace")
            continue
        try:
            size = int(fields.get("size") or 0)
            header = import_request({**fields, "file_name": part.filename or "upload.csv"}, size)
            mapping = _inline_mapping(fields)
        except (InvalidInput, ValueError) as exc:
            return await _upload_error(request, str(exc), 400, wants_json)
        if mapping is not None:
            header = dataclasses.replace(header, mapping=mapping)
        job = tracker.get(fields.get("job", ""), user.id) or tracker.create(user.id)
        with contextlib.suppress(ServiceError):  # recorded on the job; its page shows the message
            await run_import(request.app, job, header, _file_chunks(part))
        break
    if job is None:
        return await _upload_error(request, "file: choose a CSV file to import", 400, wants_json)
    if wants_json:
        return web.json_response(_job_links(request, job), status=200 if job.state == "done" else 502)
    raise web.HTTPSeeOther(str(request.app.router["import_job"].url_for(id=job.id)))


async def _upload_error(request: web.Request, message: str, status: int, wants_json: bool) -> web.StreamResponse:
    if wants_json:
        return web.json_response({"error": "invalid_argument", "message": message, "details": {}}, status=status)
    return await import_page(request, error=message, status=status)


def _owned_job(request: web.Request) -> ImportJob:
    user = require_admin_page(request)
    job = request.app[IMPORTS].get(request.match_info["id"], user.id)
    if job is None:
        raise web.HTTPNotFound(text="No such import.")
    return job


async def job_page(request: web.Request) -> web.StreamResponse:
    job = _owned_job(request)
    return render(request, "import_job.html", {"job": job, "links": _job_links(request, job)})


async def job_status(request: web.Request) -> web.StreamResponse:
    return web.json_response(_job_links(request, _owned_job(request)))


async def profile_save(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    form = await request.post()
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    try:
        mapping = _inline_mapping({**fields, "format": "generic_csv", "mapping_profile": ""})
        if mapping is None:
            raise InvalidInput("columns", "at least one line field=column")
        profile = dataclasses.replace(mapping, name=switches.profile_name(fields.get("name")))
    except InvalidInput as exc:
        return await import_page(request, error=str(exc), status=400)
    await request.app[keys.SERVICES].save_mapping_profile(profile)
    raise web.HTTPSeeOther(str(request.app.router["import_page"].url_for()))


async def profile_delete(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    form = await request.post()
    await request.app[keys.SERVICES].delete_mapping_profile(str(form.get("name", "")))
    raise web.HTTPSeeOther(str(request.app.router["import_page"].url_for()))


async def rejects_page(request: web.Request) -> web.StreamResponse:
    """Rejected records with their raw input: correct one and retry it, or retry as it was."""
    require_admin_page(request)
    switch_id = request.query.get("switch", "").strip()[:64]
    cursor = request.query.get("cursor", "")[:200]
    page = await request.app[keys.SERVICES].list_rejects(switch_id, cursor, REJECTS_PAGE, include_reimported=False)
    context = {
        "page": page,
        "switch_id": switch_id,
        "message": request.query.get("message", "")[:300],
        "format_time": lambda us: formatting.timestamp(us / 1_000_000),
    }
    return render(request, "import_rejects.html", context)


async def reject_retry(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    form = await request.post()
    raw = str(form.get("raw", ""))
    outcome = await request.app[keys.SERVICES].retry_reject(request.match_info["id"], raw)
    message = f"{outcome.status}: {outcome.reason}" if outcome.reason else f"{outcome.status} (CDR {outcome.cdr_id})"
    query = urlencode({"switch": str(form.get("switch", "")), "message": message})
    raise web.HTTPSeeOther(f"{request.app.router['import_rejects'].url_for()}?{query}")


ROUTES = (
    ("GET", "/import", import_form, "import_page"),
    ("GET", "/import/rejects", rejects_page, "import_rejects"),
    ("POST", "/import/rejects/{id}/retry", reject_retry, "import_reject_retry"),
    ("POST", "/import", upload, "import_upload"),
    ("POST", "/import/jobs", create_job, "import_jobs_create"),
    ("GET", "/import/jobs/{id}", job_page, "import_job"),
    ("GET", "/import/jobs/{id}/status", job_status, "import_job_status"),
    ("POST", "/import/profiles", profile_save, "import_profile_save"),
    ("POST", "/import/profiles/delete", profile_delete, "import_profile_delete"),
)
