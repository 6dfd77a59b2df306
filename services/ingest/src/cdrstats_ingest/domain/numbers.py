"""Number intelligence: E.164, country, number type and destination prefix via libphonenumber.

Pure and memoised: the same destinations repeat all day, and parsing costs ~50 µs.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType
from phonenumbers.phonenumberutil import NON_DIGITS_PATTERN, _number_type_helper

from cdrstats_ingest.domain.switch import SwitchConfig

EXTENSION = "extension"

_TYPE_NAMES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "fixed",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}
#: Visual separators a dialled number may carry; anything else non-digit makes it unparseable.
_SEPARATORS = re.compile(r"[\s\-().\[\]/]")
_URI_SCHEME = re.compile(r"^(?:sips?|tel):", re.IGNORECASE)
_DIALLABLE = re.compile(r"\+?[0-9]+")
_NON_GEOGRAPHIC_REGION = "001"  # phonenumbers' region for +800, +882... (not an ISO country)
CACHE_SIZE = 100_000


@dataclasses.dataclass(frozen=True, slots=True)
class NumberInfo:
    e164: str = ""
    country: str = ""  # ISO 3166 alpha-2, only for valid numbers
    number_type: str = ""  # fixed, mobile, ..., "extension", "unknown"; "" when unparseable
    prefix: str = ""  # "+" country code + national destination code


UNPARSEABLE = NumberInfo()


def classify(number: str, switch: SwitchConfig) -> NumberInfo:
    """Classify a dialled number with the switch's home country and remove-prefix rules. Never raises."""
    return _classify(number, switch.home_country, switch.remove_prefixes, switch.internal_extension_max_len)


def is_extension(number: str, switch: SwitchConfig) -> bool:
    """A short, digits-only number (after remove-prefix rules): an internal extension."""
    return classify(number, switch).number_type == EXTENSION


def strip_prefix(number: str, remove_prefixes: tuple[str, ...]) -> str:
    """Remove the longest matching prefix rule (only one)."""
    for prefix in sorted((p for p in remove_prefixes if p), key=len, reverse=True):
        if number.startswith(prefix):
            return number[len(prefix) :]
    return number


def user_part(number: str) -> str:
    """The user part of a SIP/tel URI (``sip:+4420...@host;user=phone``), else the trimmed number."""
    return _URI_SCHEME.sub("", number.strip()).split("@", 1)[0].split(";", 1)[0]


def clean(number: str) -> str:
    """Drop separators; turn the ``00`` international prefix into ``+``. May stay non-diallable."""
    digits = _SEPARATORS.sub("", number)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits


@functools.lru_cache(maxsize=CACHE_SIZE)
def _classify(number: str, home_country: str, remove_prefixes: tuple[str, ...], extension_max_len: int) -> NumberInfo:
    dialled = clean(strip_prefix(user_part(number), remove_prefixes))
    if not _DIALLABLE.fullmatch(dialled):
        return UNPARSEABLE
    if not dialled.startswith("+") and len(dialled) <= extension_max_len:
        return NumberInfo(number_type=EXTENSION)
    try:
        parsed = phonenumbers.parse(dialled, (home_country or "").upper() or None)
    except phonenumbers.NumberParseException:
        return UNPARSEABLE
    if not phonenumbers.is_possible_number(parsed):
        return UNPARSEABLE
    national = phonenumbers.national_significant_number(parsed)
    country_code = str(parsed.country_code)
    e164 = "+" + country_code + national  # what format_number(E164) builds, without its cost
    region, kind = _region_and_type(parsed, national)
    if kind == PhoneNumberType.UNKNOWN:  # exactly is_valid_number's verdict
        return NumberInfo(e164=e164, number_type="unknown", prefix="+" + country_code)
    ndc_len = _ndc_length(int(parsed.country_code or 0), national, kind)
    return NumberInfo(
        e164=e164,
        country="" if region == _NON_GEOGRAPHIC_REGION else region,
        number_type=_TYPE_NAMES.get(kind, "unknown"),
        prefix="+" + country_code + (national[:ndc_len] if ndc_len > 0 else ""),
    )


def _region_and_type(parsed: phonenumbers.PhoneNumber, national: str) -> tuple[str, int]:
    """Region and number type in one pass.

    ``is_valid_number``, ``region_code_for_number`` and ``number_type`` each redo the
    region search and the type match; this is the same logic done once (it was half
    of the time spent on a number never seen before).
    """
    region = phonenumbers.region_code_for_number(parsed)
    if region is None:
        return "", PhoneNumberType.UNKNOWN
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(int(parsed.country_code or 0), region)
    if metadata is None:
        return region, PhoneNumberType.UNKNOWN
    return region, _number_type_helper(national, metadata)


@functools.lru_cache(maxsize=4096)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _ndc_length(country_code: int, national: str, kind: int) -> int:
    """``length_of_national_destination_code`` for a valid number without an extension, cheaper.

    The library formats the number (choosing a format with regexes compiled on every
    call) and computes the number type a second time; this follows the same steps with
    compiled patterns kept and the type already known. A test compares the two.
    """
    main_region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, main_region.upper())
    if metadata is None:
        return 0
    formatted = national
    for candidate in metadata.intl_number_format or metadata.number_format:
        leading = candidate.leading_digits_pattern
        if leading and not _regex(leading[-1]).match(national):
            continue
        pattern = _regex(candidate.pattern)
        if pattern.fullmatch(national):
            formatted = pattern.sub(candidate.format or "", national)
            break
    groups = re.split(NON_DIGITS_PATTERN, f"+{country_code} {formatted}")
    if len(groups) <= 3:
        return 0
    if kind == PhoneNumberType.MOBILE and phonenumbers.country_mobile_token(country_code):
        return len(groups[2]) + len(groups[3])
    return len(groups[2])
