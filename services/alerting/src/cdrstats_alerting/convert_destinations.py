"""Destination control: proto <-> domain conversion, nothing else."""

from __future__ import annotations

from cdrstats.alerting.v1 import alerting_pb2 as pb
from cdrstats_alerting.destinations_service import Checked
from cdrstats_alerting.domain.destinations import GeoRule, Hit, ListEntry
from cdrstats_alerting.domain.errors import Caller


def caller_from_proto(scope: pb.Scope) -> Caller:
    """Raises PermissionDenied for a scope that is neither an admin nor a customer tenant."""
    return Caller(admin=scope.admin, tenant="" if scope.admin else scope.tenant)


def entry_from_proto(message: pb.ListEntry) -> ListEntry:
    """A requested entry (list, owner, prefix or country, note); id and time are the server's."""
    return ListEntry(
        id="", list=message.list, owner=message.owner, prefix=message.prefix, country=message.country, note=message.note
    )


def entry_to_proto(entry: ListEntry) -> pb.ListEntry:
    return pb.ListEntry(
        id=entry.id,
        list=entry.list,
        owner=entry.owner,
        prefix=entry.prefix,
        country=entry.country,
        note=entry.note,
        created_us=entry.created_us,
    )


def geo_rule_from_proto(message: pb.GeoRule) -> GeoRule:
    return GeoRule(
        id=message.id,
        owner=message.owner,
        switch_id=message.switch_id,
        mode=message.mode,
        countries=tuple(message.countries),
        note=message.note,
    )


def geo_rule_to_proto(rule: GeoRule) -> pb.GeoRule:
    return pb.GeoRule(
        id=rule.id,
        owner=rule.owner,
        switch_id=rule.switch_id,
        mode=rule.mode,
        countries=list(rule.countries),
        note=rule.note,
        created_us=rule.created_us,
    )


def verdict_to_proto(checked: Checked) -> pb.DestinationVerdict:
    verdict = checked.verdict
    return pb.DestinationVerdict(
        verdict=verdict.verdict if verdict else "none",
        rule_id=verdict.rule_id if verdict else "",
        rule=verdict.rule if verdict else "",
        country=checked.country,
        destination_e164=checked.destination_e164,
    )


def hit_to_proto(hit: Hit) -> pb.Hit:
    return pb.Hit(
        id=hit.id,
        cdr_id=hit.cdr_id,
        switch_id=hit.switch_id,
        accountcode=hit.accountcode,
        destination_e164=hit.destination_e164,
        country=hit.country,
        verdict=hit.verdict,
        rule_id=hit.rule_id,
        rule=hit.rule,
        owner=hit.owner,
        start_us=hit.start_us,
        time_us=hit.time_us,
    )
