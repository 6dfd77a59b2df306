"""WHERE clauses of CDR searches on SQLite: bound parameters only, column names from literals here.

``plain`` columns are written with a unary ``+`` (same value, no index): that is how the
search adapter steers SQLite's planner, which has no statistics to go by.
"""

from __future__ import annotations

from typing import Any

from cdrstats_ingest.domain.query import CdrQuery, CdrSearch, Position, TextFilter

_NUMBER_SQL = {"eq": "=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
#: every stored switch id, one index seek each (a skip scan of the (switch_id, start_time_us) index)
_SWITCH_IDS = (
    "WITH RECURSIVE s(x) AS (SELECT min(switch_id) FROM cdrs UNION ALL "
    "SELECT (SELECT min(switch_id) FROM cdrs WHERE switch_id > s.x) FROM s WHERE s.x IS NOT NULL) "
    "SELECT x FROM s WHERE x IS NOT NULL"
)
NUMBER_COLUMNS = ("destination_number", "destination_e164", "caller_id_number")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fan_out(search: CdrSearch, max_values: int) -> tuple[str | None, tuple[str, ...]]:
    """For start-time order over several account codes (or switches): the column and values to merge."""
    if search.sort != "start_time_us":
        return None, ()
    codes = account_codes(search)
    if codes is not None and 1 < len(codes) <= max_values:
        return "accountcode", codes
    if codes is None and 1 < len(search.query.switch_ids) <= max_values:
        return "switch_id", tuple(sorted(set(search.query.switch_ids)))
    return None, ()


def account_codes(search: CdrSearch) -> tuple[str, ...] | None:
    """The scope intersected with an ``accountcode equals`` filter; None: any account."""
    codes = search.accountcodes
    text = search.query.accountcode
    if text is not None and text.op == "equals":
        codes = tuple(code for code in (codes or (text.value,)) if code == text.value)
    return codes


def indexed_numbers(query: CdrQuery) -> CdrQuery | None:
    """The number filters an index can answer (equals, begins, prefixes); None if there are none."""

    def indexed(text: TextFilter | None) -> TextFilter | None:
        return text if text is not None and text.op in ("equals", "begins") else None

    numbers = CdrQuery(
        destination_number=indexed(query.destination_number),
        caller_id_number=indexed(query.caller_id_number),
        destination_prefixes=query.destination_prefixes,
    )
    return numbers if numbers != CdrQuery() else None


def filters(search: CdrSearch, plain: frozenset[str] = frozenset()) -> tuple[list[str], list[Any]]:
    """WHERE terms and their parameters; columns in ``plain`` get a unary + so no index is used for them."""
    query = search.query
    where: list[str] = []
    params: list[Any] = []

    def add_text(column: str, text: TextFilter, ignore_case: bool = False) -> None:
        sql, values = text_term(column, text, ignore_case=ignore_case)
        add(sql, *values)

    def c(column: str) -> str:
        return f"+{column}" if column in plain else column

    def add(sql: str, *values: Any) -> None:
        where.append(sql)
        params.extend(values)

    def one_of(column: str, values: tuple[Any, ...]) -> None:
        if values:
            add(f"{column} IN ({', '.join('?' for _ in values)})", *values)

    if query.start_from_us:
        add(f"{c('start_time_us')} >= ?", query.start_from_us)
    if query.start_to_us:
        add(f"{c('start_time_us')} < ?", query.start_to_us)
    codes = account_codes(search)
    if codes is not None and not codes:
        add("0")  # an accountcode filter outside the caller's scope: nothing
    elif codes is not None:
        one_of(c("accountcode"), codes)
    if query.accountcode is not None and query.accountcode.op != "equals":
        add_text(c("accountcode"), query.accountcode)
    one_of(c("switch_id"), query.switch_ids)
    if query.destination_number is not None:
        dialled, dialled_params = text_term(c("destination_number"), query.destination_number)
        e164, e164_params = text_term(c("destination_e164"), query.destination_number)
        add(f"({dialled} OR {e164})", *dialled_params, *e164_params)
    if query.caller_id_number is not None:
        add_text(c("caller_id_number"), query.caller_id_number)
    if query.caller_id_name is not None:
        add_text("caller_id_name", query.caller_id_name, ignore_case=True)
    one_of("direction", query.directions)
    one_of("hangup_cause", query.hangup_causes)
    one_of("sip_code", query.sip_codes)
    one_of(c("country"), query.countries)
    one_of("source", query.sources)
    for column, numbers in (("duration_ms", query.duration_ms), ("billsec_ms", query.billsec_ms)):
        for number in numbers:
            add(f"{c(column)} {_NUMBER_SQL[number.op]} ?", number.value)
    if query.answered is not None:
        add("answered = ?", int(query.answered))
    if query.uuid:
        add("uuid = ?", query.uuid)
        if not query.switch_ids:  # the identity index (switch_id, uuid) then finds it: no index of its own
            add(f"switch_id IN ({_SWITCH_IDS})")
    if query.call_id:
        add("call_id = ?", query.call_id)
    if query.destination_prefixes:
        ranges = [
            text_term(c("destination_e164"), TextFilter("begins", prefix)) for prefix in query.destination_prefixes
        ]
        add("(" + " OR ".join(sql for sql, _ in ranges) + ")", *[v for _, values in ranges for v in values])
    return where, params


def text_term(column: str, text: TextFilter, *, ignore_case: bool = False) -> tuple[str, list[Any]]:
    """equals and begins use the column's index (begins as a range); contains and ends scan."""
    if ignore_case:
        value = text.value.translate(_ASCII_LOWER)
        subject = f"lower({column})"
        if text.op == "equals":
            return f"{subject} = ?", [value]
        if text.op == "begins":
            return f"substr({subject}, 1, ?) = ?", [len(value), value]
    else:
        value, subject = text.value, column
        if text.op == "equals":
            return f"{column} = ?", [value]
        if text.op == "begins":
            if ord(value[-1]) < 0x10FFFF:
                return f"({column} >= ? AND {column} < ?)", [value, value[:-1] + chr(ord(value[-1]) + 1)]
            return f"substr({column}, 1, ?) = ?", [len(value), value]
    if text.op == "contains":
        return f"instr({subject}, ?) > 0", [value]
    return f"substr({subject}, ?) = ?", [-len(value), value]


def keyset(search: CdrSearch, after: Position, after_rowid: int | None, plain: frozenset[str]) -> tuple[str, list[Any]]:
    """Rows strictly after ``after`` in (sort, rowid) order; a vanished cursor row skips its ties."""
    value = int(after.value) if isinstance(after.value, bool) else after.value
    sort = f"+{search.sort}" if search.sort in plain else search.sort
    beyond = ">" if search.ascending else "<"
    if after_rowid is None:
        return f"{sort} {beyond} ?", [value]
    return f"({sort} {beyond}= ? AND ({sort} {beyond} ? OR rowid {beyond} ?))", [value, value, after_rowid]
