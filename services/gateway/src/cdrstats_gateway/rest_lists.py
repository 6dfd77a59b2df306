"""REST API of destination control (alerting owns it): list entries, geographic rules, checks.

Customers manage their tenant's entries and rules and read the global ones; admins' entries are
global. Another tenant's id answers 404, exactly like a missing one.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.domain import control, destinations
from cdrstats_gateway.domain.control import EntryQuery, GeoRule, ListEntry, control_scope
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.formatting import rfc3339
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.rest import BOOL, STR, TIME, Param, arr, documented, obj, read_json, ref
from cdrstats_gateway.rest_control import (
    MAX_ID,
    choice_param,
    decode_cursor,
    encode_cursor,
    path_id,
    query_limit,
    service_fields,
)

MAX_LIMIT = 500
ID_PARAM = (Param("id", "path", STR, required=True, description="the entry or rule id"),)
NULLABLE_CURSOR = {"type": ["string", "null"]}
LIST_ENTRY = obj(
    {
        "id": STR,
        "list": {"enum": list(control.LISTS)},
        "owner": {"type": "string", "description": '"" = global (the installation), else "customer:<id>"'},
        "prefix": STR,
        "country": STR,
        "note": STR,
        "created_at": TIME,
    }
)
ENTRY_IN = obj({"list": {"enum": list(control.LISTS)}, "prefix": STR, "country": STR, "note": STR}, required=("list",))
CREATE_BODY = {
    **obj(
        {"entries": arr(ENTRY_IN), "global": {**BOOL, "description": "admins: the entries are global (the default)"}},
        required=("entries",),
    ),
    "examples": [{"entries": [{"list": "black", "prefix": "+4490", "note": "premium rate"}]}],
}
GEO_RULE = obj(
    {
        "id": STR,
        "owner": STR,
        "switch_id": {"type": "string", "description": "empty: every switch"},
        "mode": {"enum": list(control.GEO_MODES)},
        "countries": arr(STR),
        "note": STR,
        "created_at": TIME,
    }
)
GEO_RULE_IN = {
    **obj(
        {
            "switch_id": STR,
            "mode": {"enum": list(control.GEO_MODES)},
            "countries": arr(STR),
            "note": STR,
            "global": BOOL,
        },
        required=("mode", "countries"),
    ),
    "examples": [{"mode": "forbid", "countries": ["KP"], "note": "no calls there"}],
}
VERDICT = obj(
    {
        "verdict": {"enum": list(control.VERDICTS)},
        "rule_id": STR,
        "rule": STR,
        "country": STR,
        "destination_e164": STR,
    }
)


def entry_json(entry: ListEntry) -> dict[str, Any]:
    shown = dataclasses.asdict(entry)
    shown["created_at"] = rfc3339(shown.pop("created_us"))
    return shown


def rule_json(rule: GeoRule) -> dict[str, Any]:
    shown = dataclasses.asdict(rule)
    shown["countries"] = list(rule.countries)
    shown["created_at"] = rfc3339(shown.pop("created_us"))
    return shown


def entries_from_body(body: dict[str, Any]) -> list[ListEntry]:
    items = body.get("entries")
    if not isinstance(items, list) or not 1 <= len(items) <= 1000:
        raise InvalidInput("entries", "a list of 1 to 1,000 entries")
    entries = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput(f"entries[{i}]", "an object with list and prefix or country")
        prefix, country = str(item.get("prefix") or ""), str(item.get("country") or "")
        if bool(prefix) == bool(country):
            raise InvalidInput(f"entries[{i}].prefix", "a prefix or a country (one of the two)")
        entries.append(
            ListEntry(
                list=str(item.get("list", "")),
                prefix=destinations.normalize_prefix(prefix, f"entries[{i}].prefix") if prefix else "",
                country=destinations.normalize_country(country, f"entries[{i}].country") if country else "",
                note=str(item.get("note") or "")[:200],
            )
        )
    return entries


def rule_from_body(body: dict[str, Any], rule_id: str = "") -> GeoRule:
    countries = body.get("countries")
    if not isinstance(countries, list) or not all(isinstance(c, str) for c in countries):
        raise InvalidInput("countries", "a list of ISO 3166 alpha-2 country codes")
    return GeoRule(
        id=rule_id,
        switch_id=str(body.get("switch_id") or "")[:MAX_ID],
        mode=str(body.get("mode") or ""),
        countries=tuple(c.strip().upper() for c in countries),
        note=str(body.get("note") or "")[:200],
    )


def _global(request: web.Request, body: dict[str, Any]) -> bool:
    value = body.get("global", request[keys.USER].is_admin)
    if not isinstance(value, bool):
        raise InvalidInput("global", "true or false")
    return value


@documented(
    "Black/white-list entries: yours and the global ones (cursor pages)",
    "destinations",
    obj({"items": arr(ref("ListEntry")), "next_cursor": NULLABLE_CURSOR}),
    params=(
        Param("list", schema={"enum": list(control.LISTS)}, description="absent: both lists"),
        Param("country", description="one country's entries (the country and its prefixes)"),
        Param("prefix", description="prefixes starting with these digits"),
        Param("cursor", description="next_cursor of the previous page"),
        Param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}),
    ),
    errors=(400, 503),
)
async def list_entries(request: web.Request) -> web.StreamResponse:
    query = EntryQuery(
        list=choice_param(request, "list", control.LISTS),
        prefix_starts="".join(ch for ch in request.query.get("prefix", "") if ch.isdigit())[:15],
        country=request.query.get("country", "").strip().upper()[:2],
        after_id=decode_cursor(request, "after"),
        limit=query_limit(request, 100, MAX_LIMIT),
    )
    with service_fields():
        page = await request.app[keys.SERVICES].list_entries(control_scope(request[keys.USER]), query)
    items = [entry_json(e) for e in page.entries]
    return web.json_response({"items": items, "next_cursor": encode_cursor("after", page.next_after_id)})


@documented(
    "Add entries (all or none; a duplicate is kept once). Customers' entries apply to their codes.",
    "destinations",
    obj({"items": arr(ref("ListEntry"))}),
    status=201,
    body=CREATE_BODY,
    errors=(400, 403, 503),
)
async def create_entries(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    with service_fields():
        entries, global_ = entries_from_body(body), _global(request, body)
        created = await request.app[keys.SERVICES].create_entries(
            control_scope(request[keys.USER]), entries, global_=global_
        )
    return web.json_response({"items": [entry_json(e) for e in created]}, status=201)


@documented("Delete an entry of yours", "destinations", None, status=204, params=ID_PARAM, errors=(403, 404, 503))
async def delete_entry(request: web.Request) -> web.StreamResponse:
    with service_fields():
        await request.app[keys.SERVICES].delete_entry(control_scope(request[keys.USER]), path_id(request))
    return web.Response(status=204)


@documented("Geographic rules: yours and the global ones", "destinations", arr(ref("GeoRule")), errors=(503,))
async def list_rules(request: web.Request) -> web.StreamResponse:
    with service_fields():
        rules = await request.app[keys.SERVICES].list_geo_rules(control_scope(request[keys.USER]))
    return web.json_response([rule_json(r) for r in rules])


@documented(
    "Create a geographic rule (allow: only these countries; forbid: not these)",
    "destinations",
    ref("GeoRule"),
    status=201,
    body=GEO_RULE_IN,
    errors=(400, 403, 503),
)
async def create_rule(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    with service_fields():
        rule, global_ = rule_from_body(body), _global(request, body)
        saved = await request.app[keys.SERVICES].save_geo_rule(control_scope(request[keys.USER]), rule, global_=global_)
    return web.json_response(rule_json(saved), status=201)


@documented(
    "Replace a geographic rule of yours",
    "destinations",
    ref("GeoRule"),
    body=GEO_RULE_IN,
    params=ID_PARAM,
    errors=(400, 403, 404, 503),
)
async def update_rule(request: web.Request) -> web.StreamResponse:
    rule_id = path_id(request)
    body = await read_json(request)
    with service_fields():
        rule, global_ = rule_from_body(body, rule_id), _global(request, body)
        saved = await request.app[keys.SERVICES].save_geo_rule(control_scope(request[keys.USER]), rule, global_=global_)
    return web.json_response(rule_json(saved))


@documented(
    "Delete a geographic rule of yours", "destinations", None, status=204, params=ID_PARAM, errors=(403, 404, 503)
)
async def delete_rule(request: web.Request) -> web.StreamResponse:
    with service_fields():
        await request.app[keys.SERVICES].delete_geo_rule(control_scope(request[keys.USER]), path_id(request))
    return web.Response(status=204)


@documented(
    "What the rules say about a number now (nothing is stored or alerted)",
    "destinations",
    ref("DestinationVerdict"),
    params=(
        Param("number", required=True, description="E.164, with or without +"),
        Param("switch", description="a switch id (its geographic rules)"),
        Param("accountcode", description="an account code (its customer's entries)"),
    ),
    errors=(400, 503),
)
async def check(request: web.Request) -> web.StreamResponse:
    number = request.query.get("number", "").strip()
    if not number or len(number) > 32:
        raise ApiError(400, "invalid_argument", "number: expected an E.164 number", {"field": "number"})
    with service_fields():
        verdict = await request.app[keys.SERVICES].check_destination(
            control_scope(request[keys.USER]),
            number,
            request.query.get("switch", "")[:MAX_ID],
            request.query.get("accountcode", "")[:MAX_ID],
        )
    return web.json_response(dataclasses.asdict(verdict))


ROUTES = (
    ("GET", "/api/v1/lists", list_entries, "api_lists"),
    ("POST", "/api/v1/lists", create_entries, "api_lists_create"),
    ("DELETE", "/api/v1/lists/{id}", delete_entry, "api_list_delete"),
    ("GET", "/api/v1/geo-rules", list_rules, "api_geo_rules"),
    ("POST", "/api/v1/geo-rules", create_rule, "api_geo_rules_create"),
    ("PUT", "/api/v1/geo-rules/{id}", update_rule, "api_geo_rule_update"),
    ("DELETE", "/api/v1/geo-rules/{id}", delete_rule, "api_geo_rule_delete"),
    ("GET", "/api/v1/destinations/check", check, "api_destination_check"),
)
SCHEMAS = {"ListEntry": LIST_ENTRY, "GeoRule": GEO_RULE, "DestinationVerdict": VERDICT}
