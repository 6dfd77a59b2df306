"""REST API for the caller's own account: who am I, settings, password change, API tokens."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from cdrstats_gateway import auth, keys
from cdrstats_gateway.domain import accounts
from cdrstats_gateway.domain.models import ApiToken, User
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
    path_int,
    read_json,
    ref,
    time_or_none,
)

MAX_TOKEN_NAME = 100

USER_SCHEMA = obj(
    {
        "id": INT,
        "username": STR,
        "role": {"type": "string", "enum": ["admin", "customer"]},
        "customer_id": {"type": ["integer", "null"]},
        "customer_name": STR,
        "accountcodes": arr(STR),
        "email": STR,
        "time_zone": STR,
        "created_at": TIME,
    }
)
TOKEN_SCHEMA = obj(
    {"id": INT, "name": STR, "prefix": STR, "created_at": TIME, "last_used_at": TIME_OR_NULL, "revoked": BOOL}
)
NEW_TOKEN_SCHEMA = obj({"token": STR, "record": ref("ApiToken")})
SETTINGS_BODY = obj({"email": STR, "time_zone": STR}, required=())
PASSWORD_BODY = obj({"current_password": STR, "new_password": STR})
TOKEN_BODY = obj({"name": STR})


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "customer_id": user.customer_id,
        "customer_name": user.customer_name,
        "accountcodes": list(user.accountcodes),
        "email": user.email,
        "time_zone": user.time_zone,
        "created_at": time_or_none(user.created_at),
    }


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": time_or_none(token.created_at),
        "last_used_at": time_or_none(token.last_used_at),
        "revoked": token.revoked,
    }


@documented("The caller: role, customer and the account codes they see", "account", ref("User"))
async def me(request: web.Request) -> web.StreamResponse:
    user = await asyncio.to_thread(request.app[keys.STORE].get_user, request[keys.USER].id)
    if user is None:
        raise ApiError(401, "unauthenticated", "the user no longer exists")
    return web.json_response(user_json(user))


@documented("Change the caller's settings (e-mail, display time zone)", "account", ref("User"), body=SETTINGS_BODY)
async def update_me(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    with domain_errors():
        email = accounts.email(body["email"]) if "email" in body else None
        zone = accounts.time_zone(body["time_zone"]) if "time_zone" in body else None
        user = await asyncio.to_thread(
            request.app[keys.STORE].update_user, request[keys.USER].id, email=email, time_zone=zone
        )
    return web.json_response(user_json(user))


@documented(
    "Change the caller's password (every session ends)",
    "account",
    None,
    status=204,
    body=PASSWORD_BODY,
    errors=(400, 403, 429),
)
async def change_password(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    store = request.app[keys.STORE]
    user = request[keys.USER]
    with domain_errors():
        new_password = accounts.password(body.get("new_password"), "new_password")
        if not await auth.check_current_password(request, user, str(body.get("current_password") or "")):
            raise ApiError(403, "forbidden", "current_password: does not match", {"field": "current_password"})
        await asyncio.to_thread(store.set_password, user.id, new_password)
    return web.Response(status=204)


@documented("The caller's API tokens (never the secret)", "tokens", arr(ref("ApiToken")))
async def list_tokens(request: web.Request) -> web.StreamResponse:
    tokens = await asyncio.to_thread(request.app[keys.STORE].list_api_tokens, request[keys.USER].id)
    return web.json_response([token_json(t) for t in tokens])


@documented(
    "Create an API token; the secret is in this answer only",
    "tokens",
    NEW_TOKEN_SCHEMA,
    status=201,
    body=TOKEN_BODY,
)
async def create_token(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name.strip()) <= MAX_TOKEN_NAME:
        raise ApiError(400, "invalid_argument", f"name: expected 1 to {MAX_TOKEN_NAME} characters", {"field": "name"})
    token, record = await asyncio.to_thread(
        request.app[keys.STORE].create_api_token, request[keys.USER].id, name.strip()
    )
    return web.json_response({"token": token, "record": token_json(record)}, status=201)


@documented(
    "Revoke one of the caller's tokens",
    "tokens",
    None,
    status=204,
    params=(Param("id", "path", INT, required=True),),
    errors=(404,),
)
async def revoke_token(request: web.Request) -> web.StreamResponse:
    token_id = path_int(request)
    if not await asyncio.to_thread(request.app[keys.STORE].revoke_api_token, request[keys.USER].id, token_id):
        raise ApiError(404, "not_found", f"no token {token_id}")
    return web.Response(status=204)


ROUTES = (
    ("GET", "/api/v1/me", me, "api_me"),
    ("PATCH", "/api/v1/me", update_me, "api_me_update"),
    ("POST", "/api/v1/me/password", change_password, "api_me_password"),
    ("GET", "/api/v1/tokens", list_tokens, "api_tokens"),
    ("POST", "/api/v1/tokens", create_token, "api_tokens_create"),
    ("DELETE", "/api/v1/tokens/{id}", revoke_token, "api_token_revoke"),
)
SCHEMAS = {"User": USER_SCHEMA, "ApiToken": TOKEN_SCHEMA}
