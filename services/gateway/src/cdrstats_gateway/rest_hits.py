"""REST API of the destination hit log (alerting owns it): the newest hits, paged back by check time.

A customer sees only hits of its account codes; an admin sees every hit.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.alarm_json import parse_time, time_us
from cdrstats_gateway.domain.control import Hit, control_scope
from cdrstats_gateway.domain.formatting import rfc3339
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.rest import STR, TIME, Param, arr, documented, obj, ref
from cdrstats_gateway.rest_control import choice_param, query_limit, service_fields

MAX_HITS = 1000
HIT = obj(
    {
        "id": STR,
        "cdr_id": STR,
        "switch_id": STR,
        "accountcode": STR,
        "destination_e164": STR,
        "country": STR,
        "verdict": {"enum": ["white", "black", "geo"]},
        "rule_id": STR,
        "rule": STR,
        "owner": STR,
        "start_time": TIME,
        "checked_at": TIME,
    }
)


def hit_json(hit: Hit) -> dict[str, Any]:
    shown = dataclasses.asdict(hit)
    shown["start_time"] = rfc3339(shown.pop("start_us"))
    shown["checked_at"] = rfc3339(shown.pop("time_us"))
    return shown


def _since(request: web.Request) -> int:
    text = request.query.get("since", "").strip()
    if not text:
        return 0
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError as exc:
        message = "since: expected an RFC 3339 time such as 2026-03-01T00:00:00Z"
        raise ApiError(400, "invalid_argument", message, {"field": "since"}) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp() * 1_000_000)


HITS_PAGE = obj(
    {
        "items": arr(ref("Hit")),
        "next_cursor": {
            "type": ["string", "null"],
            "format": "date-time",
            "description": "pass as before for the next older page; null on the last page",
        },
    }
)


@documented(
    "The newest destination hits of your calls (black list and geo unless verdict says otherwise); "
    "page back with before=<next_cursor>",
    "destinations",
    HITS_PAGE,
    params=(
        Param("verdict", schema={"enum": ["black", "geo", "white"]}),
        Param("since", schema=TIME, description="only calls checked at or after this time"),
        Param("before", schema=TIME, description="RFC 3339: only calls checked strictly before this time"),
        Param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_HITS}),
    ),
    errors=(400, 503),
)
async def list_hits(request: web.Request) -> web.StreamResponse:
    verdict = choice_param(request, "verdict", ("black", "geo", "white"))
    since, limit = _since(request), query_limit(request, 100, MAX_HITS)
    before = parse_time("before", request.query["before"]) if request.query.get("before") else 0
    ask = min(limit + 1, MAX_HITS)  # one more tells whether an older page exists (alerting's maximum aside)
    with service_fields():
        found = await request.app[keys.SERVICES].list_hits(
            control_scope(request[keys.USER]), verdict, since, ask, before_us=before
        )
    more = len(found) > limit or (ask == limit and len(found) == limit)
    cursor = time_us(found[limit - 1].time_us) if more else None  # check times are distinct: nothing skipped
    return web.json_response({"items": [hit_json(h) for h in found[:limit]], "next_cursor": cursor})


ROUTES = (("GET", "/api/v1/hits", list_hits, "api_hits"),)
SCHEMAS = {"Hit": HIT}
