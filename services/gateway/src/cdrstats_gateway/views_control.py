"""Destination control pages: black/white lists (pick a country and tick prefixes, or type one),
a "check a number" box, geographic rules and the recent hits. Alerting owns the data.

Admins act for the installation (their entries are global); a customer acts for its tenant
and also sees the global entries, read-only. When alerting is down the pages still render
and say so.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from aiohttp import web

from cdrstats_gateway import auth, keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import control, destinations
from cdrstats_gateway.domain.control import ControlScope, EntryQuery, GeoRule, ListEntry, control_scope
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.rendering import render
from cdrstats_gateway.views_cdrs import local_time, viewer_zone

PAGE_SIZE = 100
HITS_PAGE = 100
MAX_ID = 64
HIT_VERDICTS = ("", "black", "geo", "white")


async def owner_names(request: web.Request, user: User) -> dict[str, str]:
    """Tenant id -> customer name (admins see owners); "" is the installation."""
    names = {"": "Global"}
    if user.is_admin:
        customers = await asyncio.to_thread(request.app[keys.STORE].list_customers, limit=1000)
        names.update({control.tenant_id(c.id): c.name for c in customers})
    elif user.customer_id is not None:
        names[control.tenant_id(user.customer_id)] = user.customer_name or "Yours"
    return names


def can_change(user: User, owner: str) -> bool:
    return user.is_admin or (owner != "" and owner == control_scope(user).tenant)


def form_error(exc: ServiceError | InvalidInput) -> dict[str, str]:
    """{field, message} for the template: the message goes next to the field it names."""
    if isinstance(exc, InvalidInput):
        return {"field": exc.field, "message": str(exc)}
    return {"field": control.error_field(exc.message) if exc.status == 400 else "", "message": exc.message}


def _tabs(request: web.Request, current: str, list_name: str = "black") -> list[dict[str, Any]]:
    router = request.app.router
    lists = str(router["destinations"].url_for())
    return [
        {"href": f"{lists}?list=black", "label": "Black list", "current": current == "list" and list_name == "black"},
        {"href": f"{lists}?list=white", "label": "White list", "current": current == "list" and list_name == "white"},
        {"href": str(router["destinations_geo"].url_for()), "label": "Geographic rules", "current": current == "geo"},
        {"href": str(router["destinations_hits"].url_for()), "label": "Recent hits", "current": current == "hits"},
    ]


async def _check(request: web.Request, scope: ControlScope) -> dict[str, Any] | None:
    number = request.query.get("number", "").strip()[:32]
    if not number:
        return None
    accountcode = request.query.get("accountcode", "").strip()[:MAX_ID]
    shown = {"number": number, "accountcode": accountcode, "error": None}
    try:
        verdict = await request.app[keys.SERVICES].check_destination(
            scope, number, request.query.get("switch", "")[:MAX_ID], accountcode
        )
    except ServiceError as exc:
        return {**shown, "error": form_error(exc)}
    return {**shown, "verdict": verdict}


async def _lists_page(
    request: web.Request,
    user: User,
    *,
    error: dict[str, str] | None = None,
    form: Any = None,
    status: int = 200,
) -> web.Response:
    given = form if form is not None else request.query
    list_name = str(given.get("list", "black"))
    list_name = list_name if list_name in control.LISTS else "black"
    country = str(given.get("country", "")).strip().upper()[:2]
    try:
        picked = destinations.country_prefixes(country) if country else None
    except InvalidInput:
        picked = None
    query = EntryQuery(
        list=list_name,
        prefix_starts="".join(ch for ch in request.query.get("starts", "") if ch.isdigit())[:15],
        country=request.query.get("filter_country", "").strip().upper()[:2],
        after_id=request.query.get("after", "")[:MAX_ID],
        limit=PAGE_SIZE,
    )
    scope = control_scope(user)
    services = request.app[keys.SERVICES]
    page, unavailable = None, ""
    try:
        page = await services.list_entries(scope, query)
    except ServiceError as exc:
        unavailable = exc.message
    context = {
        "tabs": _tabs(request, "list", list_name),
        "list_name": list_name,
        "query": query,
        "page": page,
        "unavailable": unavailable,
        "countries": destinations.countries(),
        "picked": picked,
        "check": await _check(request, scope),
        "names": await owner_names(request, user),
        "can_change": lambda owner: can_change(user, owner),
        "when": _when(request, user),
        "error": error,
        "message": {"added": "Added to the list.", "deleted": "Entry deleted."}.get(request.query.get("done", ""), ""),
        "form": {
            "note": given.get("note", ""),
            "prefix": given.get("prefix", ""),
            "ticked": _ticked(given),
            "whole_country": given.get("whole_country") == "on",
        },
    }
    return render(request, "control.html", context, status=status)


def _when(request: web.Request, user: User) -> Any:
    """Epoch microseconds -> a local time in the viewer's zone (pages show times like the CDR pages)."""
    zone = viewer_zone(request, user)
    return lambda us: local_time(us, zone, seconds=False).replace("T", " ") if us else "—"


def _ticked(given: Any) -> set[str]:
    getall = getattr(given, "getall", None)
    return {str(p) for p in getall("prefixes", [])} if getall is not None else set()


async def lists(request: web.Request) -> web.StreamResponse:
    return await _lists_page(request, auth.require_user(request))


def entries_from_form(form: Any) -> list[ListEntry]:
    """Ticked prefixes, "whole country" and typed prefixes of one list, with one note."""
    list_name = str(form.get("list", ""))
    if list_name not in control.LISTS:
        raise InvalidInput("list", "black or white")
    note = str(form.get("note", "")).strip()[:200]
    entries = []
    if form.get("whole_country") == "on":
        country = destinations.normalize_country(str(form.get("country", "")))
        entries.append(ListEntry(list=list_name, country=country, note=note))
    ticked = [str(p) for p in form.getall("prefixes", [])]
    typed = control.split_lines(str(form.get("prefix", "")))
    for value in (*ticked, *typed):
        entries.append(ListEntry(list=list_name, prefix=destinations.normalize_prefix(value), note=note))
    if not entries:
        raise InvalidInput("prefix", "tick at least one prefix or the whole country, or type a prefix")
    return entries


async def lists_post(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    form = await request.post()
    services = request.app[keys.SERVICES]
    scope = control_scope(user)
    list_name = str(form.get("list", "black"))
    target = (
        f"{request.app.router['destinations'].url_for()}?list={list_name if list_name in control.LISTS else 'black'}"
    )
    try:
        if form.get("action") == "delete":
            await services.delete_entry(scope, str(form.get("id", ""))[:MAX_ID])
            raise web.HTTPSeeOther(f"{target}&done=deleted")
        await services.create_entries(scope, entries_from_form(form), global_=user.is_admin)
    except (ServiceError, InvalidInput) as exc:
        if isinstance(exc, ServiceError) and exc.status not in (400, 404):
            raise
        status = exc.status if isinstance(exc, ServiceError) else 400
        return await _lists_page(request, user, error=form_error(exc), form=form, status=status)
    raise web.HTTPSeeOther(f"{target}&done=added")


async def prefixes_json(request: web.Request) -> web.StreamResponse:
    """GET /destinations/prefixes?country=GB: the picker's checkboxes (the page's script asks)."""
    auth.require_user(request)
    try:
        found = destinations.country_prefixes(request.query.get("country", ""))
    except InvalidInput as exc:
        return web.json_response({"error": "invalid_argument", "message": str(exc)}, status=400)
    return web.json_response(dataclasses.asdict(found))


# --- geographic rules ---------------------------------------------------------------------------


def rule_from_form(form: Any) -> GeoRule:
    mode = str(form.get("mode", ""))
    if mode not in control.GEO_MODES:
        raise InvalidInput("mode", "allow (only these countries) or forbid (not these)")
    countries = tuple(
        destinations.normalize_country(c, "countries") for c in control.split_lines(str(form.get("countries", "")))
    )
    if not countries:
        raise InvalidInput("countries", "at least one ISO country code, such as DE, FR")
    return GeoRule(
        id=str(form.get("id", ""))[:MAX_ID],
        switch_id=str(form.get("switch_id", "")).strip()[:MAX_ID],
        mode=mode,
        countries=tuple(dict.fromkeys(countries)),
        note=str(form.get("note", "")).strip()[:200],
    )


async def _geo_page(
    request: web.Request, user: User, *, error: dict[str, str] | None = None, form: Any = None, status: int = 200
) -> web.Response:
    services = request.app[keys.SERVICES]
    rules, unavailable = [], ""
    try:
        rules = await services.list_geo_rules(control_scope(user))
    except ServiceError as exc:
        unavailable = exc.message
    try:
        switches = await services.switches()
    except ServiceError:
        switches = []
    editing = next((r for r in rules if r.id == request.query.get("edit")), None)
    shown = form or {}
    if editing is not None and form is None:
        shown = {**dataclasses.asdict(editing), "countries": ", ".join(editing.countries)}
    context = {
        "tabs": _tabs(request, "geo"),
        "rules": rules,
        "switches": switches,
        "unavailable": unavailable,
        "names": await owner_names(request, user),
        "can_change": lambda owner: can_change(user, owner),
        "error": error,
        "form": shown,
        "countries": destinations.countries(),
        "message": {"saved": "Rule saved.", "deleted": "Rule deleted."}.get(request.query.get("done", ""), ""),
    }
    return render(request, "control_geo.html", context, status=status)


async def geo(request: web.Request) -> web.StreamResponse:
    return await _geo_page(request, auth.require_user(request))


async def geo_post(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    form = await request.post()
    services = request.app[keys.SERVICES]
    scope = control_scope(user)
    target = str(request.app.router["destinations_geo"].url_for())
    try:
        if form.get("action") == "delete":
            await services.delete_geo_rule(scope, str(form.get("id", ""))[:MAX_ID])
            raise web.HTTPSeeOther(f"{target}?done=deleted")
        await services.save_geo_rule(scope, rule_from_form(form), global_=user.is_admin)
    except (ServiceError, InvalidInput) as exc:
        if isinstance(exc, ServiceError) and exc.status not in (400, 404):
            raise
        status = exc.status if isinstance(exc, ServiceError) else 400
        return await _geo_page(request, user, error=form_error(exc), form=dict(form), status=status)
    raise web.HTTPSeeOther(f"{target}?done=saved")


# --- recent hits --------------------------------------------------------------------------------


async def hits(request: web.Request) -> web.StreamResponse:
    """100 hits a page, newest first; "Older" pages back by check time (``before``, epoch microseconds)."""
    user = auth.require_user(request)
    verdict = request.query.get("verdict", "")
    verdict = verdict if verdict in HIT_VERDICTS else ""
    before = request.query.get("before", "").strip()
    if before and not plain_digits(before):
        raise web.HTTPBadRequest(text="before: expected the Older link's value (epoch microseconds)")
    before_us = int(before or 0)
    found, unavailable = [], ""
    try:
        found = await request.app[keys.SERVICES].list_hits(
            control_scope(user), verdict, 0, HITS_PAGE + 1, before_us=before_us
        )
    except ServiceError as exc:
        unavailable = exc.message
    zone = viewer_zone(request, user)
    context = {
        "tabs": _tabs(request, "hits"),
        "hits": found[:HITS_PAGE],
        "before_us": before_us,
        "next_before_us": found[HITS_PAGE - 1].time_us if len(found) > HITS_PAGE else 0,
        "verdict": verdict,
        "verdicts": HIT_VERDICTS,
        "unavailable": unavailable,
        "names": await owner_names(request, user),
        "time_zone": zone,
        "local_time": lambda us: local_time(us, zone),
    }
    return render(request, "control_hits.html", context)


ROUTES = (
    ("GET", "/destinations", lists, "destinations"),
    ("POST", "/destinations", lists_post, "destinations_post"),
    ("GET", "/destinations/prefixes", prefixes_json, "destinations_prefixes"),
    ("GET", "/destinations/geo", geo, "destinations_geo"),
    ("POST", "/destinations/geo", geo_post, "destinations_geo_post"),
    ("GET", "/destinations/hits", hits, "destinations_hits"),
)
