"""The canonical CDR dict and its proto form convert both ways without loss."""

from __future__ import annotations

import pytest

from cdrstats_common.cdr import DEFAULTS, from_proto, new_cdr, to_proto


def test_round_trip_keeps_every_field() -> None:
    cdr = new_cdr(
        id="01J",
        switch_id="sw",
        uuid="u",
        start_time_us=1_764_000_000_123_456,
        answer_time_us=1_764_000_001_000_000,
        end_time_us=1_764_000_061_000_000,
        billsec_ms=60_000,
        pdd_ms=-1,
        answered=True,
        hangup_cause=16,
        mos=4.25,
        extra={"sip_user_agent": "FS", "empty": ""},
    )
    assert from_proto(to_proto(cdr)) == cdr


def test_defaults_survive_the_wire() -> None:
    assert from_proto(to_proto(new_cdr())) == DEFAULTS


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(KeyError, match="billsec"):
        new_cdr(billsec=3)
