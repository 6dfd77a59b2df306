"""Notification pages: contacts (where destination alerts go) with test sends, and the delivery log.

Owner rules as on the mail-report page (``views_notify``): a customer acts for its tenant, an
admin for the installation or, by picking one, a customer.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cdrstats_gateway import auth, keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import control
from cdrstats_gateway.domain.control import Contacts, DeliveryQuery, control_scope
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.rendering import render
from cdrstats_gateway.send_limit import allow_send
from cdrstats_gateway.views_cdrs import local_time, viewer_zone
from cdrstats_gateway.views_control import form_error, owner_names
from cdrstats_gateway.views_notify import MAX_FIELD, chosen_owner, owner_query, tabs

DELIVERY_PAGE = 50


# --- contacts --------------------------------------------------------------------------------


async def _contacts_page(
    request: web.Request,
    user: User,
    owner: str,
    names: dict[str, str],
    *,
    shown: Contacts | None = None,
    error: dict[str, str] | None = None,
    message: str = "",
    status: int = 200,
) -> web.Response:
    unavailable = ""
    if shown is None:
        try:
            shown = await request.app[keys.SERVICES].get_contacts(control_scope(user), owner)
        except ServiceError as exc:
            shown, unavailable = Contacts(owner=owner), exc.message
    context = {
        "tabs": tabs(request, "contacts", owner_query(user, owner)),
        "owner": owner,
        "names": names,
        "contacts": shown,
        "unavailable": unavailable,
        "error": error,
        "message": message or ("Contacts saved." if request.query.get("saved") else ""),
    }
    return render(request, "contacts.html", context, status=status)


async def contacts(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    names = await owner_names(request, user)
    return await _contacts_page(request, user, chosen_owner(user, request.query.get("owner"), names), names)


async def contacts_post(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    form = await request.post()
    names = await owner_names(request, user)
    owner = chosen_owner(user, form.get("owner"), names)
    services = request.app[keys.SERVICES]
    scope = control_scope(user)
    action = form.get("action")
    typed = Contacts(
        owner,
        control.split_lines(str(form.get("emails", ""))[:4000]),
        control.split_lines(str(form.get("webhooks", ""))[:4000]),
    )
    try:
        if action in ("test_email", "test_webhook"):
            target = str(form.get("target", "")).strip()[:MAX_FIELD]
            field = "email" if action == "test_email" else "webhook"
            if not target:
                raise InvalidInput(field, "an address to send the test to")
            await allow_send(request, user)
            sent = await services.send_test(scope, **{field: target})
            message = sent.message or f"Test {field} queued; see the delivery log."
            return await _contacts_page(request, user, owner, names, message=message)
        await services.save_contacts(scope, typed)
    except (ServiceError, InvalidInput) as exc:
        if isinstance(exc, ServiceError) and exc.status not in (400, 404):
            raise
        status = exc.status if isinstance(exc, ServiceError) else 400
        shown = typed if action not in ("test_email", "test_webhook") else None
        return await _contacts_page(request, user, owner, names, shown=shown, error=form_error(exc), status=status)
    query = owner_query(user, owner)
    raise web.HTTPSeeOther(f"{request.app.router['contacts'].url_for()}{query}{'&' if query else '?'}saved=1")


# --- delivery log --------------------------------------------------------------------------------


def delivery_query(query: Any, limit: int) -> DeliveryQuery:
    def pick(name: str, allowed: tuple[str, ...]) -> str:
        value = str(query.get(name, ""))
        if value and value not in allowed:
            raise InvalidInput(name, f"one of {', '.join(allowed)}")
        return value

    before = str(query.get("before", "")).strip()
    if before and not plain_digits(before):
        raise InvalidInput("before", "the next-page value of the previous page")
    return DeliveryQuery(
        status=pick("status", control.DELIVERY_STATUSES),
        channel=pick("channel", control.CHANNELS),
        kind=pick("kind", control.DELIVERY_KINDS),
        before_us=int(before or 0),
        limit=limit,
    )


async def deliveries(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    try:
        query = delivery_query(request.query, DELIVERY_PAGE)
    except InvalidInput as exc:
        raise web.HTTPBadRequest(text=str(exc)) from exc
    page, unavailable = None, ""
    try:
        page = await request.app[keys.SERVICES].list_deliveries(control_scope(user), query)
    except ServiceError as exc:
        unavailable = exc.message
    zone = viewer_zone(request, user)
    context = {
        "tabs": tabs(request, "deliveries", ""),
        "query": query,
        "page": page,
        "unavailable": unavailable,
        "names": await owner_names(request, user),
        "statuses": control.DELIVERY_STATUSES,
        "channels": control.CHANNELS,
        "kinds": control.DELIVERY_KINDS,
        "time_zone": zone,
        "when": lambda us: local_time(us, zone) if us else "",
    }
    return render(request, "deliveries.html", context)


ROUTES = (
    ("GET", "/contacts", contacts, "contacts"),
    ("POST", "/contacts", contacts_post, "contacts_post"),
    ("GET", "/deliveries", deliveries, "deliveries"),
)
