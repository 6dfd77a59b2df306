"""Source-independent enrichment and validation of canonical CDRs (also what the bulk API goes through)."""

from __future__ import annotations

from typing import Any

import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.normalise import enrich, validate
from cdrstats_ingest.domain.switch import SwitchConfig

SWITCH = SwitchConfig(id="sw1", home_country="GB")
START = 1_714_557_600_000_000


def api_cdr(**overrides: Any) -> dict[str, Any]:
    """A canonical CDR as a bulk-API client would send it: no number intelligence, no disposition."""
    values: dict[str, Any] = {
        "switch_id": "sw1",
        "source": "api",
        "uuid": "leg-1",
        "caller_id_number": "+14155550100",
        "destination_number": "07400123456",
        "start_time_us": START,
        "answer_time_us": START + 3_000_000,
        "end_time_us": START + 63_000_000,
        "duration_ms": 63_000,
        "billsec_ms": 60_000,
        "hangup_cause": 16,
    }
    values.update(overrides)
    return new_cdr(**values)


def test_enrich_fills_number_intelligence_and_derived_fields() -> None:
    cdr = enrich(api_cdr(), SWITCH)
    assert cdr["destination_e164"] == "+447400123456"
    assert cdr["country"] == "GB"
    assert cdr["number_type"] == "mobile"
    assert cdr["destination_prefix"] == "+447400"
    assert cdr["answered"] is True
    assert cdr["disposition"] == "ANSWERED"
    assert cdr["direction"] == "unknown"
    validate(cdr)


def test_enrich_keeps_what_the_source_set_and_does_not_mutate() -> None:
    original = api_cdr(country="JE", destination_prefix="+447797", disposition="FAILED", direction="outbound")
    before = dict(original)
    cdr = enrich(original, SWITCH)
    assert original == before
    assert (cdr["country"], cdr["destination_prefix"], cdr["disposition"], cdr["direction"]) == (
        "JE",
        "+447797",
        "FAILED",
        "outbound",
    )
    assert cdr["destination_e164"] == "+447400123456"  # was empty: filled


def test_enrich_unanswered_busy() -> None:
    cdr = enrich(api_cdr(answer_time_us=0, billsec_ms=0, hangup_cause=17, answered=True), SWITCH)
    assert cdr["answered"] is False  # recomputed with metrics.is_answered
    assert cdr["disposition"] == "BUSY"


def test_enrich_marks_extension_calls_internal() -> None:
    cdr = enrich(api_cdr(caller_id_number="1001", destination_number="2002", direction="inbound"), SWITCH)
    assert cdr["direction"] == "internal"
    assert cdr["number_type"] == "extension"
    external = enrich(api_cdr(caller_id_number="1001", direction="outbound"), SWITCH)
    assert external["direction"] == "outbound"


def test_enrich_is_idempotent() -> None:
    once = enrich(api_cdr(), SWITCH)
    assert enrich(once, SWITCH) == once


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"uuid": ""}, "uuid"),
        ({"uuid": "   "}, "uuid"),
        ({"start_time_us": 0}, "start_time_us"),
        ({"start_time_us": -5}, "start_time_us"),
        ({"end_time_us": START - 1}, "end_time_us"),
        ({"duration_ms": -1}, "duration_ms"),
        ({"billsec_ms": -1}, "billsec_ms"),
        ({"answer_time_us": -1}, "answer_time_us"),
        ({"pdd_ms": -2}, "pdd_ms"),
        ({"direction": "sideways"}, "direction"),
        ({"source": "fax"}, "source"),
        ({"source": ""}, "source"),
        ({"disposition": "MAYBE"}, "disposition"),
        ({"start_time_us": "1714557600000000"}, "start_time_us"),
        ({"duration_ms": True}, "duration_ms"),
        ({"caller_id_number": 4155550100}, "caller_id_number"),
        ({"extra": {"a": 1}}, "extra"),
    ],
)
def test_validate_names_the_field(overrides: dict[str, Any], field: str) -> None:
    cdr = enrich(api_cdr(), SWITCH)
    cdr.update(overrides)
    with pytest.raises(InvalidCdr) as exc:
        validate(cdr)
    assert exc.value.field == field
    assert str(exc.value).startswith(f"{field}: ")


def test_validate_rejects_unknown_fields() -> None:
    cdr = enrich(api_cdr(), SWITCH)
    cdr["start_time"] = 1
    with pytest.raises(InvalidCdr) as exc:
        validate(cdr)
    assert exc.value.field == "start_time"


def test_validate_accepts_unknown_pdd_and_zero_length_failed_call() -> None:
    cdr = enrich(api_cdr(answer_time_us=0, billsec_ms=0, end_time_us=START, duration_ms=0, hangup_cause=41), SWITCH)
    assert cdr["pdd_ms"] == -1
    assert cdr["disposition"] == "FAILED"
    validate(cdr)
