"""REST API for admins: users and customers (tenants) with their account codes."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from cdrstats_gateway import keys, tenant_sync
from cdrstats_gateway.domain import accounts
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.models import Customer
from cdrstats_gateway.rest import (
    BOOL,
    CURSOR_PARAMS,
    INT,
    STR,
    TIME,
    Param,
    arr,
    documented,
    domain_errors,
    obj,
    page_body,
    page_of,
    page_params,
    path_int,
    read_json,
    ref,
    require_admin,
    time_or_none,
)
from cdrstats_gateway.rest_account import user_json
from cdrstats_gateway.store.base import KEEP, Keep

ID_PARAM = (Param("id", "path", INT, required=True),)
CUSTOMER_SCHEMA = obj({"id": INT, "name": STR, "accountcodes": arr(STR), "users": INT, "created_at": TIME})
NULLABLE_INT = {"type": ["integer", "null"]}
USER_CREATE = {
    **obj(
        {"username": STR, "password": STR, "role": STR, "customer_id": NULLABLE_INT, "email": STR},
        required=("username", "password", "role"),
    ),
    "examples": [{"username": "noc-viewer", "password": "change-me-at-once", "role": "customer", "customer_id": None}],
}
USER_UPDATE = obj(
    {"role": STR, "customer_id": NULLABLE_INT, "email": STR, "time_zone": STR, "password": STR}, required=()
)
CUSTOMER_BODY = obj({"name": STR, "accountcodes": arr(STR), "reassign": BOOL}, required=("name",))
CUSTOMER_UPDATE = obj({"name": STR, "accountcodes": arr(STR), "reassign": BOOL}, required=())


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "accountcodes": list(customer.accountcodes),
        "users": customer.users,
        "created_at": time_or_none(customer.created_at),
    }


def _customer_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not plain_digits(str(value)):
        raise InvalidInput("customer_id", "the id of a customer, or null")
    return int(value)


def _reassign(body: dict[str, Any]) -> bool:
    value = body.get("reassign", False)
    if not isinstance(value, bool):
        raise InvalidInput("reassign", "true or false")
    return value


def _codes(body: dict[str, Any]) -> tuple[str, ...] | None:
    if "accountcodes" not in body:
        return None
    value = body["accountcodes"]
    if not isinstance(value, list):
        raise InvalidInput("accountcodes", "a list of account codes")
    return accounts.accountcodes(value)


# --- users ------------------------------------------------------------------------------------


@documented("Users, in id order", "users", page_of(ref("User")), admin=True, params=(*CURSOR_PARAMS,))
async def list_users(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    after, limit = page_params(request)
    users = await asyncio.to_thread(request.app[keys.STORE].list_users, after_id=after, limit=limit + 1)
    return web.json_response(page_body([user_json(u) for u in users], [u.id for u in users], limit))


@documented("Create a user", "users", ref("User"), status=201, body=USER_CREATE, admin=True, errors=(400, 404, 409))
async def create_user(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    body = await read_json(request)
    store = request.app[keys.STORE]
    with domain_errors():
        username = accounts.username(body.get("username"))
        password = accounts.password(body.get("password"))
        role = accounts.role(body.get("role"))
        customer_id = _customer_id(body.get("customer_id"))
        email = accounts.email(body.get("email"))
        user = await asyncio.to_thread(
            lambda: store.create_user(username, password, role, customer_id=customer_id, email=email)
        )
    return web.json_response(user_json(user), status=201)


@documented("One user", "users", ref("User"), admin=True, params=ID_PARAM, errors=(404,))
async def get_user(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    with domain_errors():
        user = await asyncio.to_thread(request.app[keys.STORE].require_user, path_int(request))
    return web.json_response(user_json(user))


@documented(
    "Change a user's role, customer, settings or password (a new password ends their sessions)",
    "users",
    ref("User"),
    body=USER_UPDATE,
    admin=True,
    params=ID_PARAM,
    errors=(400, 404, 409),
)
async def update_user(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    user_id = path_int(request)
    body = await read_json(request)
    store = request.app[keys.STORE]
    with domain_errors():
        role = accounts.role(body["role"]) if "role" in body else None
        customer: int | None | Keep = _customer_id(body["customer_id"]) if "customer_id" in body else KEEP
        email = accounts.email(body["email"]) if "email" in body else None
        zone = accounts.time_zone(body["time_zone"]) if "time_zone" in body else None
        password = accounts.password(body["password"]) if "password" in body else None
        user = await asyncio.to_thread(
            lambda: store.update_user(user_id, role=role, customer_id=customer, email=email, time_zone=zone)
        )
        if password is not None:
            await asyncio.to_thread(store.set_password, user_id, password)
    return web.json_response(user_json(user))


@documented(
    "Remove a user, their sessions and tokens",
    "users",
    None,
    status=204,
    admin=True,
    params=ID_PARAM,
    errors=(404, 409),
)
async def delete_user(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    with domain_errors():
        await asyncio.to_thread(request.app[keys.STORE].delete_user, path_int(request))
    return web.Response(status=204)


# --- customers --------------------------------------------------------------------------------


@documented(
    "Customers (tenants) and their account codes",
    "customers",
    page_of(ref("Customer")),
    admin=True,
    params=CURSOR_PARAMS,
)
async def list_customers(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    after, limit = page_params(request)
    found = await asyncio.to_thread(request.app[keys.STORE].list_customers, after_id=after, limit=limit + 1)
    return web.json_response(page_body([customer_json(c) for c in found], [c.id for c in found], limit))


@documented(
    "Create a customer owning account codes (reassign: take codes other customers own)",
    "customers",
    ref("Customer"),
    status=201,
    body=CUSTOMER_BODY,
    admin=True,
    errors=(400, 409),
)
async def create_customer(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    body = await read_json(request)
    store = request.app[keys.STORE]
    with domain_errors():
        name = accounts.customer_name(body.get("name"))
        codes = _codes(body) or ()
        reassign = _reassign(body)
        customer = await asyncio.to_thread(lambda: store.create_customer(name, codes, reassign=reassign))
    tenant_sync.changed(request.app, customer.id, reassign=reassign)  # tell alerting and notify
    return web.json_response(customer_json(customer), status=201)


@documented("One customer", "customers", ref("Customer"), admin=True, params=ID_PARAM, errors=(404,))
async def get_customer(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    with domain_errors():
        customer = await asyncio.to_thread(request.app[keys.STORE].require_customer, path_int(request))
    return web.json_response(customer_json(customer))


@documented(
    "Rename a customer or set its account codes (history follows: scoping is by code at query time)",
    "customers",
    ref("Customer"),
    body=CUSTOMER_UPDATE,
    admin=True,
    params=ID_PARAM,
    errors=(400, 404, 409),
)
async def update_customer(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    customer_id = path_int(request)
    body = await read_json(request)
    store = request.app[keys.STORE]
    with domain_errors():
        name = accounts.customer_name(body["name"]) if "name" in body else None
        codes = _codes(body)
        reassign = _reassign(body)
        customer = await asyncio.to_thread(
            lambda: store.update_customer(customer_id, name=name, accountcodes=codes, reassign=reassign)
        )
    tenant_sync.changed(request.app, customer_id, reassign=reassign)
    return web.json_response(customer_json(customer))


@documented(
    "Remove a customer without users (its codes become unassigned)",
    "customers",
    None,
    status=204,
    admin=True,
    params=ID_PARAM,
    errors=(404, 409),
)
async def delete_customer(request: web.Request) -> web.StreamResponse:
    require_admin(request)
    with domain_errors():
        await asyncio.to_thread(request.app[keys.STORE].delete_customer, path_int(request))
    tenant_sync.changed(request.app, path_int(request))
    return web.Response(status=204)


ROUTES = (
    ("GET", "/api/v1/users", list_users, "api_users"),
    ("POST", "/api/v1/users", create_user, "api_users_create"),
    ("GET", "/api/v1/users/{id}", get_user, "api_user"),
    ("PATCH", "/api/v1/users/{id}", update_user, "api_user_update"),
    ("DELETE", "/api/v1/users/{id}", delete_user, "api_user_delete"),
    ("GET", "/api/v1/customers", list_customers, "api_customers"),
    ("POST", "/api/v1/customers", create_customer, "api_customers_create"),
    ("GET", "/api/v1/customers/{id}", get_customer, "api_customer"),
    ("PATCH", "/api/v1/customers/{id}", update_customer, "api_customer_update"),
    ("DELETE", "/api/v1/customers/{id}", delete_customer, "api_customer_delete"),
)
SCHEMAS = {"Customer": CUSTOMER_SCHEMA}
