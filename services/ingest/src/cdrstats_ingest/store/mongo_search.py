"""CDR search, export and replay on MongoDB: the same contract as SQLite, with keyset pages on ``_id``.

Documents are mongo_codec's (the CDR id is ``_id``). Order is the sort field
then ``_id``; every sort index ends with ``_id`` so pages come from an index, and a ``$in``
over account codes is merged from per-code index ranges by the server (SORT_MERGE).
Only plain query operators are used (no ``$dateTrunc``/``$bucketAuto``): mongomock runs it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pymongo

from cdrstats_ingest.domain.query import SORT_KEYS, CdrSearch, Position, SearchPage, TextFilter
from cdrstats_ingest.store.mongo_codec import CDRS, doc_to_cdr

_ASC, _DESC = pymongo.ASCENDING, pymongo.DESCENDING
#: (name, keys) of the search indexes; besides them the store keeps only its unique (switch_id, uuid)
INDEXES: list[tuple[str, list[tuple[str, int]]]] = [
    ("search_start", [("start_time_us", _ASC), ("_id", _ASC)]),
    ("search_switch_start", [("switch_id", _ASC), ("start_time_us", _ASC), ("_id", _ASC)]),
    ("search_account_start", [("accountcode", _ASC), ("start_time_us", _ASC), ("_id", _ASC)]),
    ("search_country_start", [("country", _ASC), ("start_time_us", _ASC), ("_id", _ASC)]),
    ("search_e164", [("destination_e164", _ASC)]),
    ("search_dialled", [("destination_number", _ASC)]),
    ("search_caller", [("caller_id_number", _ASC)]),
    ("search_duration", [("duration_ms", _ASC), ("_id", _ASC)]),
    ("search_billsec", [("billsec_ms", _ASC), ("_id", _ASC)]),
    ("search_uuid", [("uuid", _ASC)]),
    ("search_call_id", [("call_id", _ASC)]),
]
_SORT_FIELDS = frozenset(SORT_KEYS.values())
_NUMBER_OPS = {"eq": "$eq", "gt": "$gt", "ge": "$gte", "lt": "$lt", "le": "$lte"}


class MongoSearchMixin:
    """Search part of MongoCdrStore (uses ``self.db``; pymongo is thread-safe, no lock needed)."""

    db: Any

    def migrate_search(self) -> None:
        """Idempotent (create_index is a no-op for an existing identical index); MongoCdrStore calls it at start-up."""
        for name, keys in INDEXES:
            self.db[CDRS].create_index(keys, name=name)

    def search_cdrs(self, search: CdrSearch, limit: int, *, with_total: bool = False) -> SearchPage:
        docs = self._page(search, limit + 1, search.after)
        total = self.db[CDRS].count_documents(_filter(search, None)) if with_total else None
        return SearchPage([doc_to_cdr(doc) for doc in docs[:limit]], len(docs) > limit, total)

    def export_cdrs(
        self, search: CdrSearch, *, batch_size: int = 1000, limit: int = 0
    ) -> Iterator[list[dict[str, Any]]]:
        position, sent = search.after, 0
        while True:
            size = batch_size if not limit else min(batch_size, limit - sent)
            if size <= 0:
                return
            batch = [doc_to_cdr(doc) for doc in self._page(search, size, position)]
            if not batch:
                return
            last = batch[-1]
            position = Position(last[search.sort], last["id"])
            sent += len(batch)
            yield batch
            if len(batch) < size:
                return

    def replay_cdrs(self, after_id: str = "", batch_size: int = 1000) -> Iterator[list[dict[str, Any]]]:
        while True:
            docs = list(self.db[CDRS].find({"_id": {"$gt": after_id}}).sort("_id", _ASC).limit(batch_size))
            if not docs:
                return
            after_id = docs[-1]["_id"]
            yield [doc_to_cdr(doc) for doc in docs]
            if len(docs) < batch_size:
                return

    def _page(self, search: CdrSearch, limit: int, after: Position | None) -> list[dict[str, Any]]:
        if search.sort not in _SORT_FIELDS:
            raise ValueError(f"unknown sort field {search.sort!r}")
        field = _field(search.sort)
        direction = _ASC if search.ascending else _DESC
        order = [(field, direction)] if field == "_id" else [(field, direction), ("_id", direction)]
        return list(self.db[CDRS].find(_filter(search, after)).sort(order).limit(limit))


def _field(sort: str) -> str:
    return "_id" if sort == "id" else sort


def _filter(search: CdrSearch, after: Position | None) -> dict[str, Any]:
    query = search.query
    conditions: list[dict[str, Any]] = []
    start: dict[str, int] = {}
    if query.start_from_us:
        start["$gte"] = query.start_from_us
    if query.start_to_us:
        start["$lt"] = query.start_to_us
    if start:
        conditions.append({"start_time_us": start})
    codes = search.accountcodes
    if query.accountcode is not None and query.accountcode.op == "equals":
        codes = tuple(code for code in (codes or (query.accountcode.value,)) if code == query.accountcode.value)
    elif query.accountcode is not None:
        conditions.append(_text("accountcode", query.accountcode))
    if codes is not None:
        conditions.append({"accountcode": {"$in": list(codes)}})
    for field, values in (
        ("switch_id", query.switch_ids),
        ("direction", query.directions),
        ("hangup_cause", query.hangup_causes),
        ("sip_code", query.sip_codes),
        ("country", query.countries),
        ("source", query.sources),
    ):
        if values:
            conditions.append({field: {"$in": list(values)}})
    if query.destination_number is not None:
        conditions.append(
            {
                "$or": [
                    _text("destination_number", query.destination_number),
                    _text("destination_e164", query.destination_number),
                ]
            }
        )
    if query.caller_id_number is not None:
        conditions.append(_text("caller_id_number", query.caller_id_number))
    if query.caller_id_name is not None:
        conditions.append(_text("caller_id_name", query.caller_id_name, ignore_case=True))
    for field, numbers in (("duration_ms", query.duration_ms), ("billsec_ms", query.billsec_ms)):
        conditions.extend({field: {_NUMBER_OPS[n.op]: n.value}} for n in numbers)
    if query.answered is not None:
        conditions.append({"answered": query.answered})
    if query.uuid:
        conditions.append({"uuid": query.uuid})
    if query.call_id:
        conditions.append({"call_id": query.call_id})
    if query.destination_prefixes:
        prefixes = [_text("destination_e164", TextFilter("begins", p)) for p in query.destination_prefixes]
        conditions.append({"$or": prefixes})
    if after is not None:
        conditions.append(_keyset(search, after))
    return {"$and": conditions} if conditions else {}


def _text(field: str, text: TextFilter, *, ignore_case: bool = False) -> dict[str, Any]:
    """equals and begins ("^..." regex) use the field's index; contains and ends scan."""
    if text.op == "equals" and not ignore_case:
        return {field: text.value}
    escaped = re.escape(text.value)
    pattern = {"equals": f"^{escaped}$", "begins": f"^{escaped}", "contains": escaped, "ends": f"{escaped}$"}[text.op]
    return {field: {"$regex": pattern, "$options": "i"} if ignore_case else {"$regex": pattern}}


def _keyset(search: CdrSearch, after: Position) -> dict[str, Any]:
    beyond = "$gt" if search.ascending else "$lt"
    field = _field(search.sort)
    if field == "_id":
        return {"_id": {beyond: after.id}}
    return {"$or": [{field: {beyond: after.value}}, {field: after.value, "_id": {beyond: after.id}}]}
