"""Routes and state of the platform half: account, admin and import pages, their REST API, OpenAPI."""

from __future__ import annotations

from aiohttp import web

from cdrstats_gateway import openapi, views_account, views_admin, views_import, views_switches
from cdrstats_gateway.domain.imports import ImportTracker
from cdrstats_gateway.rest_imports import IMPORTS

PAGE_MODULES = (views_account, views_admin, views_switches, views_import)


def setup_platform(app: web.Application) -> None:
    app[IMPORTS] = ImportTracker()
    for module in PAGE_MODULES:
        openapi.add_routes(app.router, module.ROUTES)
    for module in openapi.PLATFORM_REST_MODULES:
        openapi.add_routes(app.router, module.ROUTES)
    app.router.add_get(openapi.OPENAPI_PATH, openapi.openapi_json, name="openapi")
    app.on_startup.append(openapi.build_on_startup)
