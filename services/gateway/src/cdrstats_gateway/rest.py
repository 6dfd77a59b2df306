"""The REST API under /api/v1 (JSON; errors as {"error", "message", "details"})."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.domain.formatting import rfc3339
from cdrstats_gateway.domain.models import Dashboard
from cdrstats_gateway.middlewares import ApiError
from cdrstats_gateway.views import MAX_SWITCH_ID


def dashboard_json(report: Dashboard) -> dict[str, Any]:
    return {
        "window": {"start": rfc3339(report.window_start_us), "end": rfc3339(report.window_end_us)},
        "attempts": report.attempts,
        "answered": report.answered,
        "asr": report.asr,
        "acd": report.acd,
        "minutes": report.minutes,
        "ach": report.ach,
        "hours": [
            {"start": rfc3339(h.start_us), "attempts": h.attempts, "answered": h.answered, "minutes": h.minutes}
            for h in report.hours
        ],
    }


async def dashboard(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/reports/dashboard?switch=<id>: the last 24 hours in the caller's scope."""
    switch_id = request.query.get("switch", "").strip()
    if len(switch_id) > MAX_SWITCH_ID:
        raise ApiError(
            400, "invalid_argument", f"switch: expected at most {MAX_SWITCH_ID} characters", {"field": "switch"}
        )
    user = request[keys.USER]
    report = await request.app[keys.SERVICES].dashboard(user.scope, switch_id or None)
    return web.json_response(dashboard_json(report))
