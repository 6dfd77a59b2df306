"""The destination matcher: every rule compiled into a digit trie and hash tables, a few µs per CDR.

Prefix entries live in a trie of dicts keyed by digit; a chain that leads to a single entry is
kept as one ``(remaining digits, bundle)`` tail instead of a node per digit (the bulk of a large
list, and most of its memory). A number walks the trie once, digit by digit, until its path leaves
the trie: the cost is the depth of the longest match, never the number of entries. Global verdicts
are pushed down the trie when it is frozen (each prefix knows the longest global white and black
at or above it), so the walk only remembers the deepest prefix it reached; a tenant's entries are
looked at only on the prefixes that have some. Country entries are a dict (a country counts as the
shortest prefix); geo rules a small dict by owner and switch.

Rules (alerting.proto, "Destination control"): inbound CDRs and CDRs without a destination are not
checked; applicable rules are the global ones and those of the tenant owning the CDR's account
code; a white match wins, then black, then geo. Within a list the longest prefix is reported; at
the same length the tenant's own entry is reported before a global one. Geo rules: the tenant's
before global ones, switch-specific before any-switch, then in id order; the first hit counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cdrstats_alerting.domain.destinations import GeoRule, ListEntry, Verdict, cdr_link, verdict_of

_WHITE, _BLACK = 0, 1
Pair = list[Verdict | None]  # [white, black]
#: while building: owner -> [white, black] of the entries on exactly this prefix
Draft = dict[str, Pair]
#: frozen: (global white, its length, global black, its length, {tenant: (white, black)} or None); the
#: global verdicts are the longest at or above this prefix (length -1: none)
Frozen = tuple[Verdict | None, int, Verdict | None, int, dict[str, tuple[Verdict | None, Verdict | None]] | None]
#: a trie node: digit -> child node or tail ``(remaining digits, bundle)``; key "" holds this prefix's bundle
Node = dict[str, Any]
_NONE: Frozen = (None, -1, None, -1, None)


class PrefixTrie:
    """Longest-prefix structure for digit strings of any length (a trie with single-entry tails)."""

    def __init__(self) -> None:
        self.root: Node = {}
        self.keys = 0

    def _draft(self, key: str) -> Draft:
        """The bundle of ``key``, created (and a tail split where needed) if new."""
        node, pos = self.root, 0
        while pos < len(key):
            child = node.get(key[pos])
            if child is None:
                draft: Draft = {}
                node[key[pos]] = (key[pos + 1 :], draft)
                self.keys += 1
                return draft
            if type(child) is tuple:
                suffix, tail_draft = child
                if suffix == key[pos + 1 :]:
                    return tail_draft
                split: Node = {"": tail_draft} if not suffix else {suffix[0]: (suffix[1:], tail_draft)}
                node[key[pos]] = child = split
            node, pos = child, pos + 1
        if "" not in node:
            node[""] = {}
            self.keys += 1
        here: Draft = node[""]
        return here

    def add(self, key: str, owner: str, slot: int, verdict: Verdict) -> None:
        pair = self._draft(key).setdefault(owner, [None, None])
        if pair[slot] is None:  # the first of duplicates wins (entries arrive in id order)
            pair[slot] = verdict

    def freeze(self) -> None:
        """Replace every draft by its frozen bundle, pushing the global verdicts down (iteratively: no recursion)."""
        stack: list[tuple[Node, int, Frozen]] = [(self.root, 0, _NONE)]
        while stack:
            node, depth, above = stack.pop()
            if "" in node:
                above = node[""] = _freeze(node[""], depth, above)
            for digit, child in node.items():
                if digit == "":
                    continue
                if type(child) is tuple:
                    suffix, draft = child
                    node[digit] = (suffix, _freeze(draft, depth + 1 + len(suffix), above))
                else:
                    stack.append((child, depth + 1, above))


def _freeze(draft: Draft, length: int, above: Frozen) -> Frozen:
    white, white_len, black, black_len, _ = above
    shared = draft.get("")
    if shared is not None and shared[_WHITE] is not None:
        white, white_len = shared[_WHITE], length
    if shared is not None and shared[_BLACK] is not None:
        black, black_len = shared[_BLACK], length
    tenants = {owner: (pair[_WHITE], pair[_BLACK]) for owner, pair in draft.items() if owner}
    return (white, white_len, black, black_len, tenants or None)


class Matcher:
    """Compiled rules plus account code -> tenant; immutable once built (rebuilt when the rules change)."""

    def __init__(
        self,
        entries: Iterable[ListEntry],
        geo_rules: Iterable[GeoRule],
        tenants: Mapping[str, str],
        *,
        version: int = 0,
        public_url: str = "",
    ) -> None:
        self.version = version
        self.public_url = public_url
        self._tenants = dict(tenants)
        self._prefixes = PrefixTrie()
        ordered = sorted(entries, key=lambda e: e.id)
        self._prefix_tenants = {entry.owner for entry in ordered if entry.owner and entry.prefix}
        self._countries: dict[str, Draft] = {}
        for entry in ordered:
            slot = _WHITE if entry.list == "white" else _BLACK
            if entry.prefix:
                self._prefixes.add(entry.prefix, entry.owner, slot, verdict_of(entry))
            else:
                pair = self._countries.setdefault(entry.country, {}).setdefault(entry.owner, [None, None])
                pair[slot] = pair[slot] or verdict_of(entry)
        self._prefixes.freeze()
        #: owner -> switch -> [(countries, allow, verdict)]; a rule hits when ``(country in countries) != allow``
        self._geo: dict[str, dict[str, list[tuple[frozenset[str], bool, Verdict]]]] = {}
        for rule in sorted(geo_rules, key=lambda r: r.id):
            compiled = (frozenset(rule.countries), rule.mode == "allow", verdict_of(rule))
            self._geo.setdefault(rule.owner, {}).setdefault(rule.switch_id, []).append(compiled)

    def tenant_of(self, accountcode: str) -> str:
        return self._tenants.get(accountcode, "")

    def link(self, cdr_id: str) -> str:
        return cdr_link(self.public_url, cdr_id)

    def check(self, cdr: Mapping[str, Any]) -> Verdict | None:
        """The verdict for one canonical CDR dict, or None (no rule matched, inbound, no destination)."""
        if cdr.get("direction") == "inbound":
            return None
        e164 = cdr.get("destination_e164")
        if not e164:
            return None
        tenant = self._tenants.get(cdr.get("accountcode") or "", "")
        return self.check_number(e164, cdr.get("country") or "", cdr.get("switch_id") or "", tenant)

    def check_number(self, e164: str, country: str, switch_id: str, tenant: str) -> Verdict | None:
        """The same rules for a destination already resolved to its tenant (also CheckDestination's path).

        One walk down the trie, shortest prefix first: a deeper match overwrites a shallower one, and at
        each prefix the tenant's entry is taken before the global one.
        """
        digits = e164[1:] if e164[:1] == "+" else e164
        deepest: Frozen = _NONE
        own_white: Verdict | None = None
        own_black: Verdict | None = None
        own_white_len = own_black_len = -1
        # a tenant without prefix entries of its own needs no look-ups on the way down
        walker = tenant if tenant in self._prefix_tenants else ""
        node, pos, tail = self._prefixes.root, 0, None
        for digit in digits:
            child = node.get(digit)
            if child is None:
                break
            pos += 1
            if type(child) is tuple:
                if digits.startswith(child[0], pos):
                    tail = child  # a tail ends the walk
                break
            node = child
            bundle = child.get("")
            if bundle is not None:
                deepest = bundle
                if walker and bundle[4] is not None and (own := bundle[4].get(walker)) is not None:
                    if own[_WHITE] is not None:
                        own_white, own_white_len = own[_WHITE], pos
                    if own[_BLACK] is not None:
                        own_black, own_black_len = own[_BLACK], pos
        if tail is not None:
            deepest = tail[1]
            if walker and deepest[4] is not None and (own := deepest[4].get(walker)) is not None:
                length = pos + len(tail[0])
                if own[_WHITE] is not None:
                    own_white, own_white_len = own[_WHITE], length
                if own[_BLACK] is not None:
                    own_black, own_black_len = own[_BLACK], length
        white, white_len, black, black_len, _ = deepest
        if own_white is not None and own_white_len >= white_len:
            white = own_white
        if own_black is not None and own_black_len >= black_len:
            black = own_black
        if white is not None:
            return white  # any white match wins over black and geo
        if not country:
            return black  # no country: neither a country entry nor a geo rule can match
        countries = self._countries.get(country)
        if countries is not None:
            own_pair = countries.get(tenant) if tenant else None
            shared_pair = countries.get("")
            if own_pair is not None and own_pair[_WHITE] is not None:
                return own_pair[_WHITE]
            if shared_pair is not None and shared_pair[_WHITE] is not None:
                return shared_pair[_WHITE]
            if black is None and own_pair is not None:
                black = own_pair[_BLACK]
            if black is None and shared_pair is not None:
                black = shared_pair[_BLACK]
        if black is not None or not self._geo:
            return black
        return self._check_geo(country, switch_id, tenant)

    def _check_geo(self, country: str, switch_id: str, tenant: str) -> Verdict | None:
        for owner in (tenant, "") if tenant else ("",):
            by_switch = self._geo.get(owner)
            if by_switch is None:
                continue
            for switch in (switch_id, "") if switch_id else ("",):
                for countries, allow, verdict in by_switch.get(switch, ()):
                    if (country in countries) != allow:
                        return verdict
        return None

    def counts(self) -> dict[str, int]:
        """Sizes, for logs and the benchmark."""
        return {
            "prefixes": self._prefixes.keys,
            "countries": len(self._countries),
            "geo_rules": sum(len(rules) for by_switch in self._geo.values() for rules in by_switch.values()),
            "accountcodes": len(self._tenants),
        }
