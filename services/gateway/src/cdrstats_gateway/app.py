"""The aiohttp application factory (aio-libs demos/polls style)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from cdrstats_common import http_guard
from cdrstats_gateway import (
    auth,
    keys,
    report_rpc,
    rest,
    rest_alarms,
    rest_cdrs,
    rest_hits,
    rest_lists,
    rest_notify,
    rest_reports,
    views,
    views_alarms,
    views_cdrs,
    views_contacts,
    views_control,
    views_notify,
    views_reports,
)
from cdrstats_gateway.clients import ServiceClients, Services
from cdrstats_gateway.middlewares import error_middleware, form_utf8_middleware, security_headers
from cdrstats_gateway.platform_routes import setup_platform
from cdrstats_gateway.rendering import STATIC_DIR, make_environment
from cdrstats_gateway.settings import GatewaySettings
from cdrstats_gateway.store import open_store
from cdrstats_gateway.tenant_sync import setup_tenant_sync
from cdrstats_gateway.throttle import LoginThrottle, SendThrottle

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/", views.index, name="index")
    router.add_get("/login", views.login_form, name="login")
    router.add_post("/login", views.login, name="login_post")
    router.add_post("/logout", views.logout, name="logout")
    router.add_get("/dashboard", views.dashboard, name="dashboard")
    router.add_get("/account/tokens", views.tokens, name="tokens")
    router.add_post("/account/tokens", views.tokens_post, name="tokens_post")
    router.add_get("/healthz", views.healthz, name="healthz")
    router.add_get("/livez", views.livez, name="livez")
    router.add_get("/readyz", views.readyz, name="readyz")
    router.add_get("/api/v1/reports/dashboard", rest.dashboard, name="api_dashboard")
    setup_pages_routes(router)
    for method, path, handler, name in (*views_alarms.ROUTES, *rest_alarms.ROUTES):  # alarms (C1)
        router.add_route(method, path, handler, name=name)
    control_pages = (*views_control.ROUTES, *views_notify.ROUTES, *views_contacts.ROUTES)
    control_routes = (*control_pages, *rest_lists.ROUTES, *rest_hits.ROUTES, *rest_notify.ROUTES)
    for method, path, handler, name in control_routes:  # destination control and notifications (C2)
        router.add_route(method, path, handler, name=name)
    router.add_static("/static", STATIC_DIR, name="static", append_version=False)


def setup_pages_routes(router: web.UrlDispatcher) -> None:
    """CDR and report pages and their REST endpoints (views_cdrs, views_reports, rest_cdrs, rest_reports)."""
    router.add_get("/cdrs", views_cdrs.search, name="cdrs")
    router.add_get("/cdrs/export", views_cdrs.export, name="cdrs_export")
    router.add_get("/cdrs/{id}", views_cdrs.detail, name="cdr_detail")
    router.add_get("/dashboard/events", views_reports.dashboard_events, name="dashboard_events")
    router.add_get("/reports/live/events", views_reports.live_events, name="live_events")
    for report in report_rpc.REPORTS:
        name = f"report_{report.replace('-', '_')}"
        router.add_get(f"/reports/{report}", views_reports.report_page(report), name=name)
    for method, path, handler, name in (*rest_cdrs.ROUTES, *rest_reports.ROUTES):
        router.add_route(method, path, handler, name=name)


def setup_store(app: web.Application) -> None:
    async def store_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        store = await asyncio.to_thread(open_store, settings.store_url)
        app[keys.STORE] = store
        app[keys.THROTTLE] = LoginThrottle(store)  # counts in the store: shared by replicas
        app[keys.SEND_THROTTLE] = SendThrottle(store)
        app[keys.SECRET_KEY] = await asyncio.to_thread(store.secret_key, settings.secret_key)
        if settings.admin_password:
            await asyncio.to_thread(store.ensure_admin, settings.admin_password)
        else:
            log.warning("CDRSTATS_ADMIN_PASSWORD is not set: the admin user is neither created nor updated")
        yield
        store.close()

    app.cleanup_ctx.append(store_ctx)


def setup_services(app: web.Application, clients: Services | None) -> None:
    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        if clients is not None:
            app[keys.SERVICES] = clients
            yield
            return
        real = ServiceClients.from_settings(app[keys.SETTINGS])
        app[keys.SERVICES] = real
        yield
        await real.close()

    app.cleanup_ctx.append(services_ctx)


async def create_app(settings: GatewaySettings, *, clients: Services | None = None) -> web.Application:
    """The whole gateway; tests pass in-memory ``clients`` through this seam."""
    app = web.Application(
        middlewares=[
            error_middleware,
            http_guard.guard_middleware(settings.http_read_timeout_s),
            form_utf8_middleware,
            auth.api_auth_middleware,
            auth.session_middleware,
        ],
        client_max_size=MAX_BODY_BYTES,
    )
    app[keys.SETTINGS] = settings
    app[keys.TEMPLATES] = make_environment()
    setup_store(app)
    setup_services(app, clients)
    setup_tenant_sync(app)  # after the store and the services: it pushes customers' codes to both
    setup_routes(app)
    setup_platform(app)
    app.on_response_prepare.append(security_headers)
    return app
