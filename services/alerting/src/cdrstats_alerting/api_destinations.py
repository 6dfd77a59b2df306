"""gRPC side of destination control (mixed into AlertingServicer): lists, geo rules, checks, the hit log.

Domain errors become status codes in ``api_errors``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from cdrstats.alerting.v1 import alerting_pb2 as pb
from cdrstats_alerting import convert_destinations as convert
from cdrstats_alerting.api_errors import Ctx, abort, call, status_of
from cdrstats_alerting.destinations_service import DestinationsBackend, DestinationsService
from cdrstats_alerting.domain.errors import AlertingError, Caller

T = TypeVar("T")


async def _run(context: Ctx, scope: pb.Scope, fn: Callable[[Caller], T]) -> T:
    """Resolve the caller and run the blocking use-case in a thread; a domain error aborts with its status."""
    try:
        caller = convert.caller_from_proto(scope)
    except AlertingError as exc:
        await abort(context, status_of(exc), str(exc))
    return await call(context, functools.partial(fn, caller))


class DestinationsApi:
    """Needs ``self.store`` (the alerting store); builds its DestinationsService on first use."""

    store: Any

    @functools.cached_property
    def destinations(self) -> DestinationsService:
        backend: DestinationsBackend = self.store
        return DestinationsService(backend)

    async def ListListEntries(self, request: pb.ListListEntriesRequest, context: Ctx) -> pb.ListListEntriesReply:
        entries, next_after = await _run(
            context,
            request.scope,
            lambda caller: self.destinations.list_entries(
                caller,
                list_name=request.list,
                prefix_starts=request.prefix_starts,
                country=request.country,
                after_id=request.after_id,
                limit=request.limit,
            ),
        )
        return pb.ListListEntriesReply(entries=[convert.entry_to_proto(e) for e in entries], next_after_id=next_after)

    async def CreateListEntries(self, request: pb.CreateListEntriesRequest, context: Ctx) -> pb.ListListEntriesReply:
        requested = [convert.entry_from_proto(entry) for entry in request.entries]
        global_ = bool(getattr(request, "global"))  # a Python keyword as a field name
        stored = await _run(
            context, request.scope, lambda caller: self.destinations.create_entries(caller, requested, global_=global_)
        )
        return pb.ListListEntriesReply(entries=[convert.entry_to_proto(e) for e in stored])

    async def DeleteListEntry(self, request: pb.EntryRef, context: Ctx) -> pb.Deleted:
        deleted = await _run(context, request.scope, lambda caller: self.destinations.delete_entry(caller, request.id))
        return pb.Deleted(deleted=deleted)

    async def ListGeoRules(self, request: pb.ListGeoRulesRequest, context: Ctx) -> pb.ListGeoRulesReply:
        rules = await _run(context, request.scope, self.destinations.geo_rules)
        return pb.ListGeoRulesReply(rules=[convert.geo_rule_to_proto(rule) for rule in rules])

    async def SaveGeoRule(self, request: pb.SaveGeoRuleRequest, context: Ctx) -> pb.GeoRule:
        rule = convert.geo_rule_from_proto(request.rule)
        global_ = bool(getattr(request, "global"))
        saved = await _run(
            context, request.scope, lambda caller: self.destinations.save_geo_rule(caller, rule, global_=global_)
        )
        return convert.geo_rule_to_proto(saved)

    async def DeleteGeoRule(self, request: pb.EntryRef, context: Ctx) -> pb.Deleted:
        deleted = await _run(
            context, request.scope, lambda caller: self.destinations.delete_geo_rule(caller, request.id)
        )
        return pb.Deleted(deleted=deleted)

    async def CheckDestination(self, request: pb.CheckDestinationRequest, context: Ctx) -> pb.DestinationVerdict:
        checked = await _run(
            context,
            request.scope,
            lambda caller: self.destinations.check_destination(
                caller, request.number, request.switch_id, request.accountcode
            ),
        )
        return convert.verdict_to_proto(checked)

    async def GetHits(self, request: pb.GetHitsRequest, context: Ctx) -> pb.HitsReply:
        cdr_ids = list(request.cdr_ids)
        hits = await _run(context, request.scope, lambda caller: self.destinations.get_hits(caller, cdr_ids))
        return pb.HitsReply(hits=[convert.hit_to_proto(hit) for hit in hits])

    async def ListHits(self, request: pb.ListHitsRequest, context: Ctx) -> pb.HitsReply:
        hits = await _run(
            context,
            request.scope,
            lambda caller: self.destinations.list_hits(
                caller,
                verdict=request.verdict,
                since_us=request.since_us,
                before_us=request.before_us,
                limit=request.limit,
            ),
        )
        return pb.HitsReply(hits=[convert.hit_to_proto(hit) for hit in hits])
