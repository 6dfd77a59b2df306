"""Number intelligence with libphonenumber: E.164, country, type, prefix, per-switch rules."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from cdrstats_ingest.domain import numbers
from cdrstats_ingest.domain.numbers import NumberInfo, classify, is_extension
from cdrstats_ingest.domain.switch import SwitchConfig

US = SwitchConfig(id="us", home_country="US")
GB = SwitchConfig(id="gb", home_country="GB")
FR = SwitchConfig(id="fr", home_country="FR")
DE = SwitchConfig(id="de", home_country="DE")


@pytest.mark.parametrize(
    ("number", "switch", "expected"),
    [
        ("+12125550123", US, NumberInfo("+12125550123", "US", "fixed_or_mobile", "+1212")),
        ("(212) 555-0123", US, NumberInfo("+12125550123", "US", "fixed_or_mobile", "+1212")),
        ("18005550199", US, NumberInfo("+18005550199", "US", "toll_free", "+1800")),
        ("+19005550199", US, NumberInfo("+19005550199", "US", "premium", "+1900")),
        ("02079460958", GB, NumberInfo("+442079460958", "GB", "fixed", "+4420")),
        ("020 7946 0958", GB, NumberInfo("+442079460958", "GB", "fixed", "+4420")),
        ("07400123456", GB, NumberInfo("+447400123456", "GB", "mobile", "+447400")),
        ("09001234567", GB, NumberInfo("+449001234567", "GB", "premium", "+44900")),
        ("08001234567", GB, NumberInfo("+448001234567", "GB", "toll_free", "+44800")),
        ("07012345678", GB, NumberInfo("+447012345678", "GB", "personal", "+4470")),
        ("03001234567", GB, NumberInfo("+443001234567", "GB", "uan", "+44300")),
        ("0142685300", FR, NumberInfo("+33142685300", "FR", "fixed", "+331")),
        ("+33612345678", US, NumberInfo("+33612345678", "FR", "mobile", "+336")),
        ("030901820", DE, NumberInfo("+4930901820", "DE", "fixed", "+4930")),
        ("+4915123456789", GB, NumberInfo("+4915123456789", "DE", "mobile", "+491512")),
        # 00 is an international prefix whatever the home country; 011 is the US one
        ("0044 20 7946 0958", US, NumberInfo("+442079460958", "GB", "fixed", "+4420")),
        ("00442079460958", FR, NumberInfo("+442079460958", "GB", "fixed", "+4420")),
        ("011442079460958", US, NumberInfo("+442079460958", "GB", "fixed", "+4420")),
        ("sip:+442079460958@203.0.113.5;user=phone", US, NumberInfo("+442079460958", "GB", "fixed", "+4420")),
        # possible but not valid: E.164 and country code only
        ("+15555550100", US, NumberInfo("+15555550100", "", "unknown", "+1")),
    ],
)
def test_classify(number: str, switch: SwitchConfig, expected: NumberInfo) -> None:
    assert classify(number, switch) == expected


@pytest.mark.parametrize("number", ["", "abc", "*97", "+1001", "12345678901234567890", "+", "1-800-FLOWERS"])
def test_unparseable_numbers_give_empty_fields(number: str) -> None:
    assert classify(number, US) == NumberInfo("", "", "", "")


@pytest.mark.parametrize(("number", "expected"), [("1001", True), ("12345", True), ("123456", False), ("+1001", False)])
def test_extensions(number: str, expected: bool) -> None:
    assert is_extension(number, US) is expected
    if expected:
        assert classify(number, US) == NumberInfo(number_type="extension")


def test_extension_length_is_per_switch() -> None:
    pbx = SwitchConfig(id="pbx", internal_extension_max_len=3)
    assert classify("1001", pbx).number_type != "extension"
    assert classify("101", pbx).number_type == "extension"


def test_remove_prefix_takes_the_longest_match_once() -> None:
    switch = SwitchConfig(id="uk", home_country="GB", remove_prefixes=("9", "99"))
    # "99" must win over "9": stripping only "9" would leave 902079460958
    assert classify("9902079460958", switch).e164 == "+442079460958"
    assert classify("902079460958", switch).e164 == "+442079460958"
    assert classify("02079460958", switch).e164 == "+442079460958"
    carrier = SwitchConfig(id="c", home_country="US", remove_prefixes=("1234#",))
    assert classify("1234#0033142685300", carrier) == NumberInfo("+33142685300", "FR", "fixed", "+331")


def test_remove_prefix_can_leave_an_extension() -> None:
    switch = SwitchConfig(id="pbx", remove_prefixes=("*8",))
    assert classify("*81001", switch).number_type == "extension"


def test_results_are_memoised_per_home_country_and_rules() -> None:
    numbers._classify.cache_clear()
    first = classify("02079460958", GB)
    assert classify("02079460958", GB) is first
    assert numbers._classify.cache_info().hits == 1
    # the same digits mean something else for another home country: not served from the cache
    assert classify("02079460958", FR).country != "GB"
    assert numbers._classify.cache_info().misses == 2


def _library_answer(number: str) -> tuple[str, str, str, str]:
    """What the plain phonenumbers calls say: the definition the fast path must match."""
    parsed = phonenumbers.parse(number, None)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not phonenumbers.is_valid_number(parsed):
        return e164, "", "unknown", "+" + str(parsed.country_code)
    region = phonenumbers.region_code_for_number(parsed) or ""
    national = phonenumbers.national_significant_number(parsed)
    ndc = phonenumbers.length_of_national_destination_code(parsed)
    kind = numbers._TYPE_NAMES.get(phonenumbers.number_type(parsed), "unknown")
    prefix = "+" + str(parsed.country_code) + (national[:ndc] if ndc > 0 else "")
    return e164, "" if region == "001" else region, kind, prefix


def test_fast_classification_equals_the_library_for_every_region_and_type() -> None:
    checked = 0
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE, PhoneNumberType.TOLL_FREE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
            for variant in (e164, e164[:-1] + str((int(e164[-1]) + 3) % 10), e164[:-2]):
                if not phonenumbers.is_possible_number(phonenumbers.parse(variant, None)):
                    continue
                info = numbers.classify(variant, US)
                assert (info.e164, info.country, info.number_type, info.prefix) == _library_answer(variant), variant
                checked += 1
    assert checked > 500
