"""CIC: the current run of consecutive unanswered attempts per scope, exact whatever order CDRs arrive in.

Attempts are ordered by (start time, CDR id) - the id breaks ties between equal start times. The
run of a scope is every unanswered attempt ordered after the newest answered one. So per scope
key a store keeps two things: the order key of the newest answered attempt seen, and the
unanswered attempts ordered after it (the run's members). A late CDR then lands where it belongs:
- a late unanswered attempt joins the run only if it starts after the newest answered one;
- a late answered attempt that starts after some members ends the run there: the members before
  it leave, the ones after it stay (they are still consecutive at the end);
- an answered attempt older than the newest answered one changes nothing.
The result equals ``cdrstats_common.metrics.cic`` over every attempt sorted by start time.

Scope keys: ``<owner>|<kind>|<value>``. Every CDR feeds the admin keys ``|all|``, ``|switch|<id>``,
``|accountcode|<code>`` and ``|country|<cc>``, and - when a tenant owns its account code - that
tenant's ``all``, ``switch`` and ``country`` keys (a tenant's alarm sees only its account codes).
An account-code key is the same for every owner. Prefix keys exist only for prefixes that CIC
alarms name (any length is possible, so they are not all tracked).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cdrstats_alerting.domain.alarms import Alarm
from cdrstats_common.metrics import is_answered

OrderKey = tuple[int, str]  # (start_time_us, cdr id)
#: run members kept per key; beyond it the oldest are dropped and only counted (docs/alerting.md)
MAX_RUN_MEMBERS = 100_000


def scope_key(owner: str, kind: str, value: str) -> str:
    return f"{'' if kind == 'accountcode' else owner}|{kind}|{value}"


def alarm_scope_key(alarm: Alarm) -> str:
    return scope_key(alarm.owner, alarm.scope.kind, alarm.scope.value)


def order_key(cdr: Mapping[str, Any]) -> OrderKey:
    return int(cdr.get("start_time_us") or 0), str(cdr.get("id") or cdr.get("uuid") or "")


def cdr_scope_keys(
    cdr: Mapping[str, Any], tenant_of: Mapping[str, str], prefixes: Iterable[tuple[str, str]] = ()
) -> list[str]:
    """Every tracked scope key one CDR belongs to; ``prefixes`` are the (owner, digits) of CIC alarms."""
    switch, code, country = (
        str(cdr.get("switch_id") or ""),
        str(cdr.get("accountcode") or ""),
        str(cdr.get("country") or ""),
    )
    tenant = tenant_of.get(code, "") if code else ""
    keys = [scope_key("", "all", "")]
    for owner in ("", tenant) if tenant else ("",):
        if owner:
            keys.append(scope_key(owner, "all", ""))
        if switch:
            keys.append(scope_key(owner, "switch", switch))
        if country:
            keys.append(scope_key(owner, "country", country))
    if code:
        keys.append(scope_key("", "accountcode", code))
    digits = str(cdr.get("destination_e164") or "").removeprefix("+")
    if digits:
        for owner, prefix in prefixes:
            if digits.startswith(prefix) and owner in ("", tenant):
                keys.append(scope_key(owner, "prefix", prefix))
    return keys


@dataclasses.dataclass(slots=True)
class KeyBatch:
    """What one batch of CDRs says about one scope key."""

    last_answered: OrderKey | None = None
    unanswered: list[OrderKey] = dataclasses.field(default_factory=list)


def plan(
    cdrs: Sequence[Mapping[str, Any]], tenant_of: Mapping[str, str], prefixes: Iterable[tuple[str, str]] = ()
) -> dict[str, KeyBatch]:
    """Group a batch by scope key: the newest answered attempt and the unanswered ones after it."""
    wanted = list(prefixes)
    batches: dict[str, KeyBatch] = {}
    for cdr in cdrs:
        key_order = order_key(cdr)
        answered = is_answered(int(cdr.get("answer_time_us") or 0), int(cdr.get("billsec_ms") or 0))
        for key in cdr_scope_keys(cdr, tenant_of, wanted):
            batch = batches.setdefault(key, KeyBatch())
            if not answered:
                batch.unanswered.append(key_order)
            elif batch.last_answered is None or key_order > batch.last_answered:
                batch.last_answered = key_order
    for batch in batches.values():
        if batch.last_answered is not None:
            last = batch.last_answered
            batch.unanswered = [member for member in batch.unanswered if member > last]
    return batches


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    length: int
    first_start_us: int = 0  # start of the oldest kept member (0: no run)


class CicTracker:
    """The per-key state in memory: the reference the stores follow (and what the unit tests drive)."""

    def __init__(self) -> None:
        self.last: dict[str, OrderKey] = {}
        self.members: dict[str, set[OrderKey]] = {}

    def apply(self, batches: Mapping[str, KeyBatch]) -> None:
        for key, batch in batches.items():
            last = self.last.get(key)
            if batch.last_answered is not None and (last is None or batch.last_answered > last):
                last = self.last[key] = batch.last_answered
            members = self.members.setdefault(key, set())
            members.update(batch.unanswered)
            if last is not None:
                self.members[key] = {member for member in members if member > last}

    def run(self, key: str) -> Run:
        members = self.members.get(key, set())
        return Run(len(members), min(members)[0] if members else 0)
