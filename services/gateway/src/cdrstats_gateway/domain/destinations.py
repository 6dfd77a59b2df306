"""Prefix suggestions for "pick a country and tick its prefixes", from libphonenumber's metadata.

For a country: its calling code (and the area codes that set it apart when it shares the code,
like Jamaica's +1 876), then the short national prefixes where its mobile, premium-rate,
shared-cost and personal numbers start. The prefixes come from the metadata's number patterns
(expanded to their first digits), each labelled with every kind of number that starts there, so
an operator sees when a prefix also covers ordinary fixed lines before ticking it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import re
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata

from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.labels import country as country_label

#: kinds worth a black/white-list entry, with how the page names them
WATCHED = (
    ("premium_rate", "premium rate"),
    ("shared_cost", "shared cost"),
    ("personal_number", "personal number"),
    ("mobile", "mobile"),
)
#: other kinds, named when a suggested prefix also covers them
OTHERS = (
    ("fixed_line", "fixed line"),
    ("toll_free", "toll free"),
    ("voip", "VoIP"),
    ("pager", "pager"),
    ("uan", "UAN"),
)
#: the stdlib's own regex parser (``sre_parse`` is deprecated; no type stubs): patterns become trees
sre_parse: Any = importlib.import_module("re._parser")
MAX_CHOICES = 60
MAX_PREFIX = 15
DIGIT_SET = frozenset("0123456789")


@dataclasses.dataclass(frozen=True)
class PrefixChoice:
    prefix: str  # E.164 digits
    kinds: tuple[str, ...]  # what numbers start here, watched kinds first
    example: str = ""  # an example number of the first kind, formatted


@dataclasses.dataclass(frozen=True)
class CountryPrefixes:
    country: str
    name: str
    calling_code: int
    shared_with: tuple[str, ...]  # other regions on the same calling code
    country_prefixes: tuple[str, ...]  # the code, or code + area codes when the code is shared
    choices: tuple[PrefixChoice, ...]


def _class_digits(items: list[Any]) -> set[str]:
    digits: set[str] = set()
    negate = False
    for op, av in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            digits.add(chr(av))
        elif name == "RANGE":
            digits.update(chr(c) for c in range(av[0], av[1] + 1))
        elif name == "CATEGORY" and str(av) == "CATEGORY_DIGIT":
            digits.update(DIGIT_SET)
    return set(DIGIT_SET - digits) if negate else digits & DIGIT_SET


def _heads_seq(items: list[Any], k: int) -> set[str]:
    """Strings of ``items``' language cut to k digits (shorter ones only when complete)."""
    if k == 0 or not items:
        return {""}
    out: set[str] = set()
    rest = items[1:]
    for head in _heads_item(items[0], k):
        if len(head) == k:
            out.add(head)
        else:
            out.update(head + tail for tail in _heads_seq(rest, k - len(head)))
    return out


def _heads_item(item: Any, k: int) -> set[str]:
    op, av = item
    name = str(op)
    if name == "LITERAL":
        return {chr(av)}
    if name == "NOT_LITERAL":
        return set(DIGIT_SET - {chr(av)})
    if name == "IN":
        return _class_digits(list(av))
    if name == "SUBPATTERN":
        return _heads_seq(list(av[-1]), k)
    if name == "BRANCH":
        return set().union(*(_heads_seq(list(alt), k) for alt in av[1]))
    if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
        low, high, sub = av
        out: set[str] = set()
        for n in range(low, min(high, k) + 1):
            out |= _heads_seq(list(sub) * n, k)
        return out
    return {""}  # anchors and the like match no digit


@functools.lru_cache(maxsize=2048)
def heads(pattern: str, k: int) -> frozenset[str]:
    """The first k digits any number matching ``pattern`` can start with (complete shorter ones too)."""
    return frozenset(_heads_seq(list(sre_parse.parse(pattern)), k))


def _pattern(meta: PhoneMetadata, kind: str) -> str:
    desc = getattr(meta, kind, None)
    return str(desc.national_number_pattern) if desc is not None and desc.national_number_pattern else ""


def _national_digits(meta: PhoneMetadata) -> int:
    """NANP national numbers start with a 3-digit area code: more digits say something there."""
    if meta.country_code == 1:
        return 3 if meta.main_country_for_code else 4
    return 2


def _example(meta: PhoneMetadata, kind: str) -> str:
    desc = getattr(meta, kind, None)
    if desc is None or not desc.example_number:
        return ""
    try:
        number = phonenumbers.parse(f"+{meta.country_code}{desc.example_number}")
    except phonenumbers.NumberParseException:
        return ""
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


def _country_prefixes(meta: PhoneMetadata) -> tuple[str, ...]:
    code = str(meta.country_code)
    if meta.main_country_for_code or not meta.leading_digits:
        return (code,)
    complete = sorted(h for h in heads(meta.leading_digits, 6) if 0 < len(h) < 6)
    return tuple(code + h for h in complete) or (code,)


def _choices(meta: PhoneMetadata, country_prefixes: tuple[str, ...]) -> list[PrefixChoice]:
    n = _national_digits(meta)
    fixed = _pattern(meta, "fixed_line")
    kinds_at: dict[str, list[str]] = {}
    first_kind: dict[str, str] = {}
    for kind, label in WATCHED:
        pattern = _pattern(meta, kind)
        if not pattern or (kind == "mobile" and pattern == fixed):
            continue  # where mobiles and fixed lines share one plan, a mobile prefix would be a lie
        for head in sorted(heads(pattern, n)):
            if len(head) == n:
                kinds_at.setdefault(head, []).append(label)
                first_kind.setdefault(head, kind)
    for kind, label in OTHERS:
        pattern = _pattern(meta, kind)
        if pattern:
            covered = heads(pattern, n)
            for head, labels in kinds_at.items():
                if head in covered:
                    labels.append(label)
    code = str(meta.country_code)
    examples = {kind: _example(meta, kind) for kind, _ in WATCHED}
    choices = []
    for head, kinds in _collapse({h: tuple(k) for h, k in kinds_at.items()}).items():
        prefix = code + head
        if prefix in country_prefixes:
            continue
        if len(country_prefixes) > 1 and not prefix.startswith(country_prefixes):
            continue  # another region's area code on a shared calling code
        example = examples[first_kind.get(head) or first_kind[min(h for h in first_kind if h.startswith(head))]]
        shown = example if re.sub(r"\D", "", example).startswith(prefix) else ""
        choices.append(PrefixChoice(prefix, kinds, shown))
    return choices[:MAX_CHOICES]


def _collapse(kinds_at: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Ten sibling prefixes of the same kinds become their parent (France's 60..69 mobile: 6)."""
    merged = dict(kinds_at)
    for length in range(max(map(len, merged), default=0), 1, -1):
        parents = {h[:-1] for h in merged if len(h) == length}
        for parent in parents:
            children = [parent + d for d in "0123456789"]
            kinds = {merged.get(c) for c in children}
            if len(kinds) == 1 and None not in kinds:
                for child in children:
                    del merged[child]
                merged[parent] = kinds.pop()  # type: ignore[assignment]
    return dict(sorted(merged.items()))


@functools.lru_cache(maxsize=512)
def country_prefixes(country: str) -> CountryPrefixes:
    """Suggestions for one ISO 3166 alpha-2 country; InvalidInput when libphonenumber has no plan for it."""
    region = country.strip().upper()
    meta = PhoneMetadata.metadata_for_region(region) if re.fullmatch(r"[A-Z]{2}", region) else None
    if meta is None:
        raise InvalidInput("country", f"an ISO 3166 alpha-2 country code with a numbering plan, got {country[:8]!r}")
    code = int(meta.country_code or 0)
    shared = tuple(r for r in phonenumbers.region_codes_for_country_code(code) if r != region)
    prefixes = _country_prefixes(meta)
    name = country_label(region)[0]
    return CountryPrefixes(region, name, code, shared, prefixes, tuple(_choices(meta, prefixes)))


@functools.cache
def countries() -> tuple[tuple[str, str, int], ...]:
    """(alpha-2, name, calling code) of every region with a numbering plan, by name."""
    found = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        meta = PhoneMetadata.metadata_for_region(region)
        if meta is not None:
            found.append((region, country_label(region)[0], int(meta.country_code or 0)))
    return tuple(sorted(found, key=lambda c: c[1]))


def normalize_prefix(value: str, field: str = "prefix") -> str:
    """``+44 74``, ``0044-74`` or ``4474`` -> ``4474`` (E.164 digits; an international 00 is dropped)."""
    text = re.sub(r"[\s\-().]", "", value)
    text = text[1:] if text.startswith("+") else text[2:] if text.startswith("00") else text
    if not (text.isascii() and text.isdigit()) or text.startswith("0") or len(text) > MAX_PREFIX:
        raise InvalidInput(field, f"E.164 digits after the +, 1 to {MAX_PREFIX} of them, got {value[:20]!r}")
    return text


def normalize_country(value: str, field: str = "country") -> str:
    region = value.strip().upper()
    if PhoneMetadata.metadata_for_region(region) is None if re.fullmatch(r"[A-Z]{2}", region) else True:
        raise InvalidInput(field, f"an ISO 3166 alpha-2 country code such as DE, got {value[:8]!r}")
    return region
