"""Black/white/geo verdicts next to CDRs: alerting's hit log, asked once per page of CDRs.

Flags are an aid, not the page: when alerting cannot answer, the CDRs are shown without
them and the page says so.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain.control import Hit, control_scope
from cdrstats_gateway.domain.formatting import rfc3339
from cdrstats_gateway.domain.models import User

log = logging.getLogger(__name__)

MAX_IDS = 1000


@dataclasses.dataclass(frozen=True)
class Flags:
    hits: dict[str, Hit]  # CDR id -> the verdict recorded for it
    available: bool  # False: alerting did not answer, the page shows no flags


async def flags_for(request: web.Request, user: User, cdr_ids: Sequence[str]) -> Flags:
    if not cdr_ids:
        return Flags({}, True)
    try:
        found = await request.app[keys.SERVICES].get_hits(control_scope(user), list(cdr_ids)[:MAX_IDS])
    except ServiceError as exc:
        log.info("CDR flags unavailable", extra={"fields": {"error": exc.message}})
        return Flags({}, False)
    return Flags({hit.cdr_id: hit for hit in found}, True)


def verdict_json(hit: Hit | None) -> dict[str, Any] | None:
    """The REST ``destination_verdict``: null when no entry or rule matched (or alerting was not reachable)."""
    if hit is None:
        return None
    return {
        "verdict": hit.verdict,
        "rule": hit.rule,
        "rule_id": hit.rule_id,
        "owner": hit.owner,
        "country": hit.country,
        "checked_at": rfc3339(hit.time_us),
    }


VERDICT_SCHEMA: dict[str, Any] = {
    "oneOf": [
        {
            "type": "object",
            "description": "what alerting's black/white lists and geographic rules said about this call",
            "properties": {
                "verdict": {"enum": ["white", "black", "geo"]},
                "rule": {"type": "string"},
                "rule_id": {"type": "string"},
                "owner": {"type": "string"},
                "country": {"type": "string"},
                "checked_at": {"type": "string", "format": "date-time"},
            },
            "required": ["verdict", "rule", "rule_id", "owner", "country", "checked_at"],
            "additionalProperties": False,
        },
        {"type": "null", "description": "no entry or rule matched, or alerting was not reachable"},
    ]
}
