"""The OpenAPI 3.1 document of /api/v1, generated from the live router (the one route table).

Every /api/v1 route of the application appears here; what it says comes from the
handler's ``@rest.documented`` metadata, or for routes registered by other modules
without it, from ``ROUTE_DOCS`` by route name. A route without either is listed with
``x-undocumented`` so the test that forbids that names it.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from cdrstats_gateway import (
    rest,
    rest_account,
    rest_admin,
    rest_alarms,
    rest_hits,
    rest_imports,
    rest_lists,
    rest_notify,
    rest_rejects,
    rest_switches,
)
from cdrstats_gateway.openapi_external import ROUTE_DOCS, external_schemas
from cdrstats_gateway.rest import ApiDoc, Param

API_V1 = "/api/v1/"
OPENAPI_PATH = "/api/v1/openapi.json"
DOCUMENT = web.AppKey("openapi_document", dict)
#: modules whose ``SCHEMAS`` become components (append a module when it adds named schemas)
SCHEMA_MODULES: tuple[types.ModuleType, ...] = (
    rest_account,
    rest_admin,
    rest_switches,
    rest_imports,
    rest_rejects,
    rest_alarms,
    rest_lists,
    rest_hits,
    rest_notify,
)
#: REST modules whose ``ROUTES`` the platform registers (G-pages registers rest_cdrs/rest_reports itself)
PLATFORM_REST_MODULES: tuple[types.ModuleType, ...] = (
    rest_account,
    rest_admin,
    rest_switches,
    rest_imports,
    rest_rejects,
)
ERROR_SCHEMA = rest.obj(
    {"error": rest.STR, "message": rest.STR, "details": {"type": "object"}},
)
_STATUS_TEXT = {
    400: "Invalid argument (details.field names it)",
    401: "Missing or wrong credentials",
    403: "Not allowed for this user",
    404: "Not found (also another tenant's object)",
    409: "Conflicts with existing data",
    413: "Body too large",
    429: "Too many failed logins, or sends (report now); wait Retry-After seconds",
    503: "A back-end service is unavailable",
}
RouteSpec = tuple[str, str, Any, str]


def add_routes(router: web.UrlDispatcher, routes: Iterable[RouteSpec]) -> None:
    for method, path, handler, name in routes:
        router.add_route(method, path, handler, name=name)


def _parameter(param: Param) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": param.name, "in": param.where, "schema": param.schema}
    if param.required or param.where == "path":
        spec["required"] = True
    if param.description:
        spec["description"] = param.description
    return spec


def _body_required(schema: dict[str, Any]) -> bool:
    """An object body whose fields are all optional may be left out: read_json takes no body as ``{}``."""
    return schema.get("type") != "object" or bool(schema.get("required"))


def _error(status: int) -> dict[str, Any]:
    content = {"application/json": {"schema": rest.ref("Error")}}
    return {"description": _STATUS_TEXT.get(status, "Error"), "content": content}


def operation(name: str, doc: ApiDoc | None, handler: Any) -> dict[str, Any]:
    if doc is None:
        first_line = (handler.__doc__ or name).strip().splitlines()[0]
        return {
            "operationId": name,
            "summary": first_line,
            "x-undocumented": True,
            "responses": {"default": {"description": "undocumented"}},
        }
    ok: dict[str, Any] = {"description": doc.description or doc.summary}
    if doc.response is not None:
        media_types = (doc.response_content_type, *doc.other_content_types)
        ok["content"] = {media_type: {"schema": doc.response} for media_type in media_types}
    responses = {str(doc.status): ok, "401": _error(401)}
    for status in (*doc.errors, *((403,) if doc.admin else ())):
        responses[str(status)] = _error(status)
    spec: dict[str, Any] = {
        "operationId": name,
        "summary": doc.summary,
        "tags": [doc.tag],
        "responses": responses,
        "x-admin-only": doc.admin,
    }
    if doc.params:
        spec["parameters"] = [_parameter(p) for p in doc.params]
    if doc.body is not None:
        content = {doc.body_content_type: {"schema": doc.body}}
        spec["requestBody"] = {"required": _body_required(doc.body), "content": content}
    return spec


def build_document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if not path.startswith(API_V1) or route.method == "HEAD" or path == OPENAPI_PATH:
            continue
        name = route.name or f"{route.method.lower()}_{path}"
        doc = rest.doc_of(route.handler) or ROUTE_DOCS.get(name)
        paths.setdefault(path, {})[route.method.lower()] = operation(name, doc, route.handler)
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA, **external_schemas()}
    for module in SCHEMA_MODULES:
        schemas.update(getattr(module, "SCHEMAS", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CDR-Stats API",
            "version": "1",
            "description": (
                "CDRs, reports, switches, users and customers. Authenticate with an API token "
                "(Authorization: Bearer <token>, created under Account > API tokens) or HTTP basic. "
                "Customers see only their account codes. Times are RFC 3339 UTC; lists page by cursor."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"basic": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API token"},
                "basic": {"type": "http", "scheme": "basic"},
            },
        },
    }


async def build_on_startup(app: web.Application) -> None:
    """Once the router is complete (on_startup runs after every route is added)."""
    app[DOCUMENT] = build_document(app)


async def openapi_json(request: web.Request) -> web.StreamResponse:
    """The document itself; public (it holds no data)."""
    return web.json_response(request.app[DOCUMENT])
