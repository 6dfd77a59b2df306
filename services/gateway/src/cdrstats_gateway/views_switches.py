"""Admin pages for switches: list, create/edit (rules, connector), enable/disable, password reset, setup."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import formatting, switches
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.switches import ConnectorState, SwitchConfig, SwitchSetup
from cdrstats_gateway.rendering import render
from cdrstats_gateway.rest_switches import exists, new_switch_password
from cdrstats_gateway.views_admin import require_admin_page

EMPTY = SwitchConfig(id="")


def _columns(text: str) -> dict[str, str]:
    pairs = {}
    for i, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        field, sep, column = line.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise InvalidInput(f"connector_columns line {i + 1}", "field=column")
        pairs[field.strip()] = column.strip()
    return pairs


def form_values(form: Any, switch_id: str) -> dict[str, Any]:
    """The switch form as the dict ``switches.switch_config`` reads (the API's JSON shape)."""
    return {
        "id": switch_id,
        "name": form.get("name", ""),
        "type": form.get("type", ""),
        "home_country": form.get("home_country", ""),
        "username": form.get("username", ""),
        "enabled": form.get("enabled") == "on",
        "time_zone": form.get("time_zone", ""),
        "internal_extension_max_len": form.get("internal_extension_max_len", ""),
        "remove_prefixes": str(form.get("remove_prefixes", "")),
        "direction_rules": str(form.get("direction_rules", "")),
        "connector": {
            "type": form.get("connector_type", ""),
            "dsn": form.get("connector_dsn", ""),
            "table": form.get("connector_table", ""),
            "poll_interval_s": form.get("connector_poll_interval_s", ""),
            "password": form.get("connector_password", ""),
            "columns": _columns(str(form.get("connector_columns", ""))),
            "enrich_from_acc": form.get("connector_enrich_from_acc") == "on",
            "layout": form.get("connector_layout", ""),
        },
    }


def _choices() -> dict[str, Any]:
    return {
        "switch_types": switches.SWITCH_TYPES,
        "connector_types": switches.CONNECTOR_TYPES,
        "direction_fields": switches.DIRECTION_FIELDS,
    }


async def switch_list(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    found = await request.app[keys.SERVICES].list_switch_configs()
    return render(request, "admin_switches.html", {"switches": found})


def _edit_page(
    request: web.Request,
    config: SwitchConfig,
    *,
    new: bool,
    setup: SwitchSetup | None = None,
    setup_error: str = "",
    credentials: tuple[str, str] | None = None,
    connector_state: ConnectorState | None = None,
    connector_error: str = "",
    message: str = "",
    error: str = "",
    status: int = 200,
) -> web.Response:
    context = {
        "connector_state": connector_state,
        "connector_error": connector_error,
        "format_time": lambda seconds: formatting.timestamp(seconds or None),
        "switch": config,
        "new": new,
        "setup": setup,
        "setup_error": setup_error,
        "credentials": credentials,
        "message": message,
        "error": error,
        "columns_text": "\n".join(f"{f}={c}" for f, c in config.connector.columns),
        "rules_text": "\n".join(f"{r.field} {r.pattern} {r.direction}" for r in config.direction_rules),
        **_choices(),
    }
    return render(request, "admin_switch.html", context, status=status)


async def switch_new(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    return _edit_page(request, SwitchConfig(id="", enabled=True), new=True)


async def switch_create(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    form = await request.post()
    try:
        config = switches.switch_config(form_values(form, str(form.get("id", ""))))
    except InvalidInput as exc:
        draft = dataclasses.replace(EMPTY, id=str(form.get("id", ""))[:64], name=str(form.get("name", ""))[:100])
        return _edit_page(request, draft, new=True, error=str(exc), status=400)
    if await exists(request, config.id):
        return _edit_page(request, config, new=True, error=f"id: switch {config.id!r} exists", status=409)
    password = str(form.get("password", "")) or new_switch_password()
    config = dataclasses.replace(config, username=config.username or config.id)
    saved = await request.app[keys.SERVICES].upsert_switch(config, password)
    return await _show(request, saved, credentials=(saved.username, password), status=201, message="Switch created.")


async def _show(request: web.Request, config: SwitchConfig, *, status: int = 200, **extra: Any) -> web.Response:
    services = request.app[keys.SERVICES]
    try:
        setup, setup_error = await services.switch_setup(config.id), ""
    except ServiceError as exc:
        setup, setup_error = None, exc.message
    connector_state, connector_error = None, ""
    if config.connector.type:
        try:
            connector_state = await services.connector_state(config.id)
        except ServiceError as exc:
            connector_error = exc.message
    return _edit_page(
        request,
        config,
        new=False,
        setup=setup,
        setup_error=setup_error,
        connector_state=connector_state,
        connector_error=connector_error,
        status=status,
        **extra,
    )


def _path_id(request: web.Request) -> str:
    try:
        return switches.switch_id(request.match_info["id"])
    except InvalidInput as exc:
        raise web.HTTPNotFound(text="No such switch.") from exc


async def switch_edit(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    config = await request.app[keys.SERVICES].get_switch(_path_id(request))
    return await _show(request, config, message="Saved." if request.query.get("saved") else "")


async def switch_post(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    services = request.app[keys.SERVICES]
    current = await services.get_switch(_path_id(request))
    form = await request.post()
    action = form.get("action")
    if action == "delete":
        await services.delete_switch(current.id)
        raise web.HTTPSeeOther(str(request.app.router["admin_switches"].url_for()))
    if action == "reset_password":
        password = new_switch_password()
        saved = await services.upsert_switch(
            dataclasses.replace(current, username=current.username or current.id), password
        )
        return await _show(request, saved, credentials=(saved.username, password), message="New password set.")
    if action in ("enable", "disable"):
        await services.upsert_switch(dataclasses.replace(current, enabled=action == "enable"))
    else:
        try:
            config = switches.switch_config(form_values(form, current.id), has_password=current.has_password)
        except InvalidInput as exc:
            return await _show(request, current, error=str(exc), status=400)
        await services.upsert_switch(config)
    target = request.app.router["admin_switch"].url_for(id=current.id)
    raise web.HTTPSeeOther(f"{target}?saved=1")


ROUTES = (
    ("GET", "/admin/switches", switch_list, "admin_switches"),
    ("GET", "/admin/switches/new", switch_new, "admin_switch_new"),
    ("POST", "/admin/switches/new", switch_create, "admin_switch_create"),
    ("GET", "/admin/switches/{id}", switch_edit, "admin_switch"),
    ("POST", "/admin/switches/{id}", switch_post, "admin_switch_post"),
)
