"""REST API for the switch registry (ingest owns it): admins manage, customers see names only."""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import switches
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.switches import SwitchConfig
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.rest import (
    BOOL,
    INT,
    STR,
    Param,
    arr,
    documented,
    domain_errors,
    obj,
    read_json,
    ref,
    require_admin,
)

ID_PARAM = (Param("id", "path", STR, required=True, description="the switch id"),)
RULE = obj(
    {
        "field": {"enum": list(switches.DIRECTION_FIELDS)},
        "pattern": STR,
        "direction": {"enum": list(switches.DIRECTIONS)},
    }
)
CONNECTOR = obj(
    {
        "type": {"enum": list(switches.CONNECTOR_TYPES)},
        "dsn": STR,
        "table": STR,
        "poll_interval_s": INT,
        "columns": {"type": "object", "additionalProperties": STR},
        "enrich_from_acc": BOOL,
        "layout": STR,
    }
)
SWITCH_SCHEMA = obj(
    {
        "id": STR,
        "name": STR,
        "type": {"enum": list(switches.SWITCH_TYPES)},
        "enabled": BOOL,
        "home_country": STR,
        "username": STR,
        "time_zone": STR,
        "internal_extension_max_len": INT,
        "remove_prefixes": arr(STR),
        "direction_rules": arr(RULE),
        "connector": CONNECTOR,
        "has_password": BOOL,
    },
    required=("id", "name", "type", "enabled"),
)
CONNECTOR_IN = {**CONNECTOR, "properties": {**CONNECTOR["properties"], "password": STR}, "required": []}
SWITCH_BODY = {
    **SWITCH_SCHEMA,
    "properties": {
        **{k: v for k, v in SWITCH_SCHEMA["properties"].items() if k != "has_password"},
        "connector": CONNECTOR_IN,
        "password": STR,
    },
    "required": [],
    "examples": [{"id": "pbx-lyon", "name": "Lyon PBX", "type": "asterisk", "home_country": "FR", "enabled": True}],
}
CREDENTIALS = obj({"username": STR, "password": STR})
SWITCH_WITH_CREDENTIALS = obj({"switch": ref("Switch"), "credentials": {"oneOf": [CREDENTIALS, {"type": "null"}]}})
SETUP_SCHEMA = obj({"ingest_url": STR, "snippet": STR, "snippet_language": STR, "call_state_url": STR})


def switch_json(config: SwitchConfig, *, admin: bool = True) -> dict[str, Any]:
    summary = {"id": config.id, "name": config.name or config.id, "type": config.type, "enabled": config.enabled}
    if not admin:
        return summary
    c = config.connector
    return {
        **summary,
        "home_country": config.home_country,
        "username": config.username,
        "time_zone": config.time_zone,
        "internal_extension_max_len": config.internal_extension_max_len,
        "remove_prefixes": list(config.remove_prefixes),
        "direction_rules": [dataclasses.asdict(r) for r in config.direction_rules],
        "connector": {
            "type": c.type,
            "dsn": c.dsn,
            "table": c.table,
            "poll_interval_s": c.poll_interval_s,
            "columns": dict(c.columns),
            "enrich_from_acc": c.enrich_from_acc,
            "layout": c.layout,
        },
        "has_password": config.has_password,
    }


def new_switch_password() -> str:
    return secrets.token_urlsafe(18)


def path_switch_id(request: web.Request) -> str:
    try:
        return switches.switch_id(request.match_info["id"])
    except InvalidInput as exc:
        raise ApiError(404, "not_found", f"no switch {request.match_info['id'][:64]!r}") from exc


async def exists(request: web.Request, switch_id: str) -> bool:
    try:
        await request.app[keys.SERVICES].get_switch(switch_id)
    except ServiceError as exc:
        if exc.status == 404:
            return False
        raise
    return True


@documented("Switches; customers get id, name, type and enabled only", "switches", arr(ref("Switch")), errors=(503,))
async def list_switches(request: web.Request) -> web.StreamResponse:
    admin = request[keys.USER].is_admin
    found = await request.app[keys.SERVICES].list_switch_configs()
    return web.json_response([switch_json(s, admin=admin) for s in found])


@documented(
    "Register a switch; without a password one is generated. The password is in this answer only.",
    "switches",
    SWITCH_WITH_CREDENTIALS,
    status=201,
    body=SWITCH_BODY,
    admin=True,
    errors=(400, 409, 503),
)
async def create_switch(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    body = await read_json(request)
    with domain_errors():
        config = switches.switch_config(body)
    if await exists(request, config.id):
        raise ApiError(
            409, "conflict", f"id: switch {config.id!r} exists (PUT /api/v1/switches/{config.id} changes it)"
        )
    password = str(body.get("password") or "") or new_switch_password()
    if not config.username:
        config = dataclasses.replace(config, username=config.id)
    saved = await request.app[keys.SERVICES].upsert_switch(config, password)
    credentials = {"username": saved.username, "password": password}
    return web.json_response({"switch": switch_json(saved), "credentials": credentials}, status=201)


@documented("One switch", "switches", ref("Switch"), admin=True, params=ID_PARAM, errors=(404, 503))
async def get_switch(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    config = await request.app[keys.SERVICES].get_switch(path_switch_id(request))
    return web.json_response(switch_json(config))


@documented(
    "Replace a switch's settings (rules, connector, enabled); the password stays unless given",
    "switches",
    ref("Switch"),
    body=SWITCH_BODY,
    admin=True,
    params=ID_PARAM,
    errors=(400, 404, 503),
)
async def update_switch(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    switch_id = path_switch_id(request)
    body = await read_json(request)
    current = await request.app[keys.SERVICES].get_switch(switch_id)
    with domain_errors():
        config = switches.switch_config({**body, "id": switch_id}, has_password=current.has_password)
    saved = await request.app[keys.SERVICES].upsert_switch(config, str(body.get("password") or ""))
    return web.json_response(switch_json(saved))


@documented(
    "Remove a switch (its CDRs stay; it can no longer push or be pulled)",
    "switches",
    None,
    status=204,
    admin=True,
    params=ID_PARAM,
    errors=(404, 503),
)
async def delete_switch(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    await request.app[keys.SERVICES].delete_switch(path_switch_id(request))
    return web.Response(status=204)


@documented(
    "Set a new random password for the switch's pushes; shown in this answer only",
    "switches",
    CREDENTIALS,
    admin=True,
    params=ID_PARAM,
    errors=(404, 503),
)
async def reset_switch_password(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    services = request.app[keys.SERVICES]
    config = await services.get_switch(path_switch_id(request))
    if not config.username:
        config = dataclasses.replace(config, username=config.id)
    password = new_switch_password()
    saved = await services.upsert_switch(config, password)
    return web.json_response({"username": saved.username, "password": password})


@documented(
    "The switch's ingest URL and the configuration snippet for its type",
    "switches",
    SETUP_SCHEMA,
    admin=True,
    params=ID_PARAM,
    errors=(404, 503),
)
async def switch_setup(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    setup = await request.app[keys.SERVICES].switch_setup(path_switch_id(request))
    return web.json_response(dataclasses.asdict(setup))


ROUTES = (
    ("GET", "/api/v1/switches", list_switches, "api_switches"),
    ("POST", "/api/v1/switches", create_switch, "api_switches_create"),
    ("GET", "/api/v1/switches/{id}", get_switch, "api_switch"),
    ("PUT", "/api/v1/switches/{id}", update_switch, "api_switch_update"),
    ("DELETE", "/api/v1/switches/{id}", delete_switch, "api_switch_delete"),
    ("POST", "/api/v1/switches/{id}/password", reset_switch_password, "api_switch_password"),
    ("GET", "/api/v1/switches/{id}/setup", switch_setup, "api_switch_setup"),
)
SCHEMAS = {"Switch": SWITCH_SCHEMA}
