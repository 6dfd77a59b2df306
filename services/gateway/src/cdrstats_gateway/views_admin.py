"""Admin pages: customers (tenants) with their account codes, and users."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from cdrstats_gateway import auth, keys, tenant_sync
from cdrstats_gateway.domain import accounts
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.errors import Conflict, InvalidInput, NotFound
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.rendering import render
from cdrstats_gateway.store.base import UserExists

LIST_LIMIT = 1000


def require_admin_page(request: web.Request) -> User:
    """Logged in (else to the login page) and an admin (else 403)."""
    user = auth.require_user(request)
    if not user.is_admin:
        raise web.HTTPForbidden(text="This page is for admins.")
    return user


class PageError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@contextmanager
def page_errors() -> Iterator[None]:
    """Domain errors -> a message shown above the form, with the HTTP status the API would use."""
    try:
        yield
    except InvalidInput as exc:
        raise PageError(str(exc), 400) from exc
    except UserExists as exc:
        raise PageError(f"username: {exc} is taken", 409) from exc
    except Conflict as exc:
        raise PageError(str(exc), 409) from exc
    except NotFound as exc:
        raise web.HTTPNotFound(text=f"No {exc}.") from exc


def _id(request: web.Request) -> int:
    value = request.match_info["id"]
    if not plain_digits(value):
        raise web.HTTPNotFound(text="No such item.")
    return int(value)


def _redirect(request: web.Request, name: str, **parts: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(str(request.app.router[name].url_for(**parts)))


# --- customers --------------------------------------------------------------------------------


async def _customers_page(
    request: web.Request, *, error: str = "", status: int = 200, form: Any = None
) -> web.Response:
    store = request.app[keys.STORE]
    customers = await asyncio.to_thread(store.list_customers, limit=LIST_LIMIT)
    context = {"customers": customers, "error": error, "form": form or {}}
    return render(request, "admin_customers.html", context, status=status)


async def customers(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    return await _customers_page(request)


async def customers_post(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    form = await request.post()
    store = request.app[keys.STORE]
    try:
        with page_errors():
            name = accounts.customer_name(form.get("name"))
            codes = accounts.accountcodes(str(form.get("accountcodes", "")))
            reassign = form.get("reassign") == "on"
            created = await asyncio.to_thread(lambda: store.create_customer(name, codes, reassign=reassign))
            tenant_sync.changed(request.app, created.id, reassign=reassign)  # tell alerting and notify
    except PageError as exc:
        return await _customers_page(request, error=str(exc), status=exc.status, form=form)
    raise _redirect(request, "admin_customer", id=str(created.id))


async def _customer_page(request: web.Request, customer_id: int, *, error: str = "", status: int = 200) -> web.Response:
    store = request.app[keys.STORE]
    customer = await asyncio.to_thread(store.get_customer, customer_id)
    if customer is None:
        raise web.HTTPNotFound(text="No such customer.")
    users = await asyncio.to_thread(lambda: store.list_users(customer_id=customer_id, limit=LIST_LIMIT))
    context = {"customer": customer, "users": users, "error": error, "saved": request.query.get("saved")}
    return render(request, "admin_customer.html", context, status=status)


async def customer(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    return await _customer_page(request, _id(request))


async def customer_post(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    customer_id = _id(request)
    form = await request.post()
    store = request.app[keys.STORE]
    try:
        with page_errors():
            if form.get("action") == "delete":
                await asyncio.to_thread(store.delete_customer, customer_id)
                tenant_sync.changed(request.app, customer_id)
                raise _redirect(request, "admin_customers")
            name = accounts.customer_name(form.get("name"))
            codes = accounts.accountcodes(str(form.get("accountcodes", "")))
            reassign = form.get("reassign") == "on"
            await asyncio.to_thread(
                lambda: store.update_customer(customer_id, name=name, accountcodes=codes, reassign=reassign)
            )
            tenant_sync.changed(request.app, customer_id, reassign=reassign)
    except PageError as exc:
        return await _customer_page(request, customer_id, error=str(exc), status=exc.status)
    raise web.HTTPSeeOther(f"{request.app.router['admin_customer'].url_for(id=str(customer_id))}?saved=1")


# --- users ------------------------------------------------------------------------------------


async def _users_page(request: web.Request, *, error: str = "", status: int = 200, form: Any = None) -> web.Response:
    store = request.app[keys.STORE]
    users, customer_list = await asyncio.gather(
        asyncio.to_thread(store.list_users, limit=LIST_LIMIT),
        asyncio.to_thread(store.list_customers, limit=LIST_LIMIT),
    )
    context = {"users": users, "customers": customer_list, "error": error, "form": form or {}}
    return render(request, "admin_users.html", context, status=status)


async def users(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    return await _users_page(request)


def _form_customer(form: Any) -> int | None:
    value = str(form.get("customer_id", "")).strip()
    if not value:
        return None
    if not plain_digits(value):
        raise InvalidInput("customer_id", "a customer from the list")
    return int(value)


async def users_post(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    form = await request.post()
    store = request.app[keys.STORE]
    try:
        with page_errors():
            username = accounts.username(form.get("username"))
            password = accounts.password(form.get("password"))
            role = accounts.role(form.get("role"))
            customer_id = _form_customer(form)
            email = accounts.email(form.get("email"))
            await asyncio.to_thread(
                lambda: store.create_user(username, password, role, customer_id=customer_id, email=email)
            )
    except PageError as exc:
        return await _users_page(request, error=str(exc), status=exc.status, form=form)
    raise _redirect(request, "admin_users")


async def _user_page(
    request: web.Request, user_id: int, *, error: str = "", message: str = "", status: int = 200
) -> web.Response:
    store = request.app[keys.STORE]
    shown = await asyncio.to_thread(store.get_user, user_id)
    if shown is None:
        raise web.HTTPNotFound(text="No such user.")
    customer_list = await asyncio.to_thread(store.list_customers, limit=LIST_LIMIT)
    context = {"shown": shown, "customers": customer_list, "error": error, "message": message}
    return render(request, "admin_user.html", context, status=status)


async def user(request: web.Request) -> web.StreamResponse:
    require_admin_page(request)
    return await _user_page(request, _id(request), message="Saved." if request.query.get("saved") else "")


async def user_post(request: web.Request) -> web.StreamResponse:
    admin = require_admin_page(request)
    user_id = _id(request)
    form = await request.post()
    store = request.app[keys.STORE]
    action = form.get("action")
    try:
        with page_errors():
            if action == "delete":
                await asyncio.to_thread(store.delete_user, user_id)
                raise _redirect(request, "admin_users")
            if action == "password":
                password = accounts.password(form.get("password"))
                keep = request.get(keys.SESSION_ID) if user_id == admin.id else None
                await asyncio.to_thread(lambda: store.set_password(user_id, password, keep_session_id=keep))
                return await _user_page(request, user_id, message="Password set; the user's sessions were logged out.")
            role = accounts.role(form.get("role"))
            customer_id = None if role == "admin" else _form_customer(form)
            email = accounts.email(form.get("email"))
            await asyncio.to_thread(lambda: store.update_user(user_id, role=role, customer_id=customer_id, email=email))
    except PageError as exc:
        return await _user_page(request, user_id, error=str(exc), status=exc.status)
    raise web.HTTPSeeOther(f"{request.app.router['admin_user'].url_for(id=str(user_id))}?saved=1")


ROUTES = (
    ("GET", "/admin/customers", customers, "admin_customers"),
    ("POST", "/admin/customers", customers_post, "admin_customers_post"),
    ("GET", "/admin/customers/{id}", customer, "admin_customer"),
    ("POST", "/admin/customers/{id}", customer_post, "admin_customer_post"),
    ("GET", "/admin/users", users, "admin_users"),
    ("POST", "/admin/users", users_post, "admin_users_post"),
    ("GET", "/admin/users/{id}", user, "admin_user"),
    ("POST", "/admin/users/{id}", user_post, "admin_user_post"),
)
