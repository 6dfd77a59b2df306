"""Call direction from a switch's rules, for sources that record none (Asterisk, CSV files).

The admin lists rules in order ("context matches ^from-trunk -> inbound"); the first rule
whose pattern is found in its field wins. No match leaves the direction unknown, and
``normalise.enrich`` still marks extension-to-extension calls internal.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import DIRECTION_RULE_FIELDS, DIRECTIONS, DirectionRule, SwitchConfig


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def check_rules(rules: tuple[DirectionRule, ...]) -> None:
    """Raise InvalidCdr naming the first rule that cannot work (saved switches are checked with it)."""
    for index, rule in enumerate(rules):
        where = f"switch.direction_rules[{index}]"
        if rule.field not in DIRECTION_RULE_FIELDS:
            raise InvalidCdr(
                f"unknown field {rule.field!r}, expected one of {', '.join(DIRECTION_RULE_FIELDS)}",
                field=f"{where}.field",
            )
        if rule.direction not in DIRECTIONS:
            raise InvalidCdr(
                f"unknown direction {rule.direction!r}, expected one of {', '.join(DIRECTIONS)}",
                field=f"{where}.direction",
            )
        try:
            _compiled(rule.pattern)
        except re.error as exc:
            raise InvalidCdr(f"not a regular expression: {exc}", field=f"{where}.pattern") from exc


def direction_for(values: Mapping[str, str], switch: SwitchConfig) -> str:
    """Direction by the switch's first matching rule; "unknown" when none matches.

    ``values`` holds the rule fields (context, channel, dstchannel, caller_id_number,
    destination_number); a missing field matches only patterns that match "".
    """
    for index, rule in enumerate(switch.direction_rules):
        try:
            pattern = _compiled(rule.pattern)
        except re.error as exc:
            raise InvalidCdr(
                f"not a regular expression: {exc}", field=f"switch.direction_rules[{index}].pattern"
            ) from exc
        if pattern.search(values.get(rule.field, "")):
            return rule.direction
    return "unknown"
