"""Cause tables: FreeSWITCH names, SIP -> Q.850 (STACK.md), Asterisk dispositions, canonical disposition."""

from __future__ import annotations

import pytest

from cdrstats_ingest.domain import causes


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("UNALLOCATED_NUMBER", 1),
        ("NORMAL_CLEARING", 16),
        ("USER_BUSY", 17),
        ("NO_USER_RESPONSE", 18),
        ("NO_ANSWER", 19),
        ("SUBSCRIBER_ABSENT", 20),
        ("CALL_REJECTED", 21),
        ("DESTINATION_OUT_OF_ORDER", 27),
        ("INVALID_NUMBER_FORMAT", 28),
        ("NORMAL_UNSPECIFIED", 31),
        ("NORMAL_CIRCUIT_CONGESTION", 34),
        ("NETWORK_OUT_OF_ORDER", 38),
        ("NORMAL_TEMPORARY_FAILURE", 41),
        ("SWITCH_CONGESTION", 42),
        ("INCOMPATIBLE_DESTINATION", 88),
        ("RECOVERY_ON_TIMER_EXPIRE", 102),
        ("INTERWORKING", 127),
        ("ORIGINATOR_CANCEL", 487),
        ("LOSE_RACE", 702),
        ("PROGRESS_TIMEOUT", 807),
    ],
)
def test_names_and_codes(name: str, code: int) -> None:
    assert causes.code_for_name(name) == code
    assert causes.code_for_name(name.lower()) == code
    assert causes.name_for_code(code) == name


def test_internal_causes_are_reported_as_normal_clearing() -> None:
    assert causes.q850_for_name("ORIGINATOR_CANCEL") == 16
    assert causes.q850_for_name("MEDIA_TIMEOUT") == 16
    assert causes.q850_for_name("USER_BUSY") == 17
    assert causes.q850_for_name("NO_SUCH_CAUSE") is None
    assert causes.code_for_name("NO_SUCH_CAUSE") is None
    assert causes.reported_q850(127) == 127
    assert causes.reported_q850(128) == 16


def test_names_are_unique() -> None:
    assert len(causes.CAUSE_NAMES) == len(causes.CAUSE_CODES)


@pytest.mark.parametrize(
    ("sip", "q850"),
    [
        (200, 16),
        (404, 1),
        (486, 17),
        (600, 17),
        (480, 18),
        (408, 102),
        (504, 102),
        (401, 21),
        (402, 21),
        (403, 21),
        (407, 21),
        (603, 21),
        (484, 28),
        (502, 38),
        (400, 41),
        (481, 41),
        (500, 41),
        (503, 41),
        (488, 88),
        (606, 88),
        (410, 22),
        (485, 3),
        (604, 3),
        (487, 16),  # ORIGINATOR_CANCEL, reported as 16
        (499, 31),
        (0, 31),
    ],
)
def test_sip_to_q850(sip: int, q850: int) -> None:
    assert causes.sip_to_q850(sip) == q850


def test_sip_487_is_originator_cancel_internally() -> None:
    assert causes.sip_to_cause(487) == causes.ORIGINATOR_CANCEL == 487


@pytest.mark.parametrize(
    ("disposition", "q850"),
    [
        ("ANSWERED", 16),
        ("BUSY", 17),
        ("NO ANSWER", 19),
        ("no answer", 19),
        ("CANCEL", 21),
        ("CONGESTION", 34),
        ("FAILED", 41),
        ("SOMETHING ELSE", 31),
    ],
)
def test_asterisk_disposition_to_q850(disposition: str, q850: int) -> None:
    assert causes.asterisk_disposition_to_q850(disposition) == q850


@pytest.mark.parametrize(
    ("cause", "answered", "disposition"),
    [
        (16, True, "ANSWERED"),
        (41, True, "ANSWERED"),  # answered, then failed: still an answered call
        (16, False, "FAILED"),
        (487, False, "CANCEL"),
        (17, False, "BUSY"),
        (18, False, "NO_ANSWER"),
        (19, False, "NO_ANSWER"),
        (34, False, "CONGESTION"),
        (42, False, "CONGESTION"),
        (21, False, "FAILED"),
        (1, False, "FAILED"),
        (0, False, "FAILED"),
    ],
)
def test_disposition_for(cause: int, answered: bool, disposition: str) -> None:
    assert causes.disposition_for(cause, answered) == disposition
