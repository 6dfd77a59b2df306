"""Hangup causes: FreeSWITCH cause names <-> codes, SIP -> Q.850, and the canonical disposition.

Two numbering schemes meet here and both are kept on purpose:

* ``CAUSE_CODES`` holds FreeSWITCH's own cause numbers (``switch_call_cause_t``). Up to
  127 they are the Q.850 codes; above that they are FreeSWITCH-internal, e.g.
  ``ORIGINATOR_CANCEL`` = 487, ``LOSE_RACE`` = 702 (``code_for_name``).
* What a switch *reports* as Q.850 (``hangup_cause_q850``) folds every internal cause
  above 127 into 16 (NORMAL_CLEARING), exactly like ``switch_channel_cause_q850``.
  ``reported_q850`` / ``q850_for_name`` reproduce that, so a CDR's ``hangup_cause`` is the
  same whether or not the switch sent the numeric field.

The disposition is decided from the *internal* code (so a cancelled call is CANCEL even
though its reported Q.850 code is 16); see ``disposition_for``.
"""

from __future__ import annotations

#: FreeSWITCH cause name -> FreeSWITCH cause number (switch_types.h / switch_channel.c CAUSE_CHART).
CAUSE_CODES: dict[str, int] = {
    "NONE": 0,
    "UNALLOCATED_NUMBER": 1,
    "NO_ROUTE_TRANSIT_NET": 2,
    "NO_ROUTE_DESTINATION": 3,
    "CHANNEL_UNACCEPTABLE": 6,
    "CALL_AWARDED_DELIVERED": 7,
    "NORMAL_CLEARING": 16,
    "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18,
    "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20,
    "CALL_REJECTED": 21,
    "NUMBER_CHANGED": 22,
    "REDIRECTION_TO_NEW_DESTINATION": 23,
    "EXCHANGE_ROUTING_ERROR": 25,
    "DESTINATION_OUT_OF_ORDER": 27,
    "INVALID_NUMBER_FORMAT": 28,
    "FACILITY_REJECTED": 29,
    "RESPONSE_TO_STATUS_ENQUIRY": 30,
    "NORMAL_UNSPECIFIED": 31,
    "NORMAL_CIRCUIT_CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38,
    "NORMAL_TEMPORARY_FAILURE": 41,
    "SWITCH_CONGESTION": 42,
    "ACCESS_INFO_DISCARDED": 43,
    "REQUESTED_CHAN_UNAVAIL": 44,
    "PRE_EMPTED": 45,
    "FACILITY_NOT_SUBSCRIBED": 50,
    "OUTGOING_CALL_BARRED": 52,
    "INCOMING_CALL_BARRED": 54,
    "BEARERCAPABILITY_NOTAUTH": 57,
    "BEARERCAPABILITY_NOTAVAIL": 58,
    "SERVICE_UNAVAILABLE": 63,
    "BEARERCAPABILITY_NOTIMPL": 65,
    "CHAN_NOT_IMPLEMENTED": 66,
    "FACILITY_NOT_IMPLEMENTED": 69,
    "SERVICE_NOT_IMPLEMENTED": 79,
    "INVALID_CALL_REFERENCE": 81,
    "INCOMPATIBLE_DESTINATION": 88,
    "INVALID_MSG_UNSPECIFIED": 95,
    "MANDATORY_IE_MISSING": 96,
    "MESSAGE_TYPE_NONEXIST": 97,
    "WRONG_MESSAGE": 98,
    "IE_NONEXIST": 99,
    "INVALID_IE_CONTENTS": 100,
    "WRONG_CALL_STATE": 101,
    "RECOVERY_ON_TIMER_EXPIRE": 102,
    "MANDATORY_IE_LENGTH_ERROR": 103,
    "PROTOCOL_ERROR": 111,
    "INTERWORKING": 127,
    # FreeSWITCH-internal causes (> 127): reported in hangup_cause_q850 as 16.
    "SUCCESS": 142,
    "ORIGINATOR_CANCEL": 487,
    "CRASH": 700,
    "SYSTEM_SHUTDOWN": 701,
    "LOSE_RACE": 702,
    "MANAGER_REQUEST": 703,
    "BLIND_TRANSFER": 800,
    "ATTENDED_TRANSFER": 801,
    "ALLOTTED_TIMEOUT": 802,
    "USER_CHALLENGE": 803,
    "MEDIA_TIMEOUT": 804,
    "PICKED_OFF": 805,
    "USER_NOT_REGISTERED": 806,
    "PROGRESS_TIMEOUT": 807,
    "INVALID_GATEWAY": 808,
    "GATEWAY_DOWN": 809,
    "INVALID_URL": 810,
    "INVALID_PROFILE": 811,
    "NO_PICKUP": 812,
    "SRTP_READ_ERROR": 813,
    "BOWOUT": 814,
    "BUSY_EVERYWHERE": 815,
    "DECLINE": 816,
    "DOES_NOT_EXIST_ANYWHERE": 817,
    "NOT_ACCEPTABLE": 818,
    "UNWANTED": 819,
    "NO_IDENTITY": 820,
    "BAD_IDENTITY_INFO": 821,
    "UNSUPPORTED_CERTIFICATE": 822,
    "INVALID_IDENTITY": 823,
    "STALE_DATE": 824,
    "REJECT_ALL": 825,
}
CAUSE_NAMES: dict[int, str] = {code: name for name, code in CAUSE_CODES.items()}

NORMAL_CLEARING = 16
ORIGINATOR_CANCEL = 487
MAX_Q850 = 127  # INTERWORKING: the last real Q.850 code

#: SIP final response -> FreeSWITCH cause (sofia's mapping; STACK.md). 487 gives ORIGINATOR_CANCEL (internal).
SIP_TO_CAUSE: dict[int, int] = {
    200: 16,
    404: 1,
    486: 17,
    600: 17,
    480: 18,
    408: 102,
    504: 102,
    401: 21,
    402: 21,
    403: 21,
    407: 21,
    603: 21,
    484: 28,
    502: 38,
    400: 41,
    481: 41,
    500: 41,
    503: 41,
    488: 88,
    606: 88,
    410: 22,
    485: 3,
    604: 3,
    487: ORIGINATOR_CANCEL,
}
SIP_DEFAULT_CAUSE = 31  # NORMAL_UNSPECIFIED

#: Asterisk CDR disposition -> Q.850. CANCEL maps to 21 (CALL_REJECTED): a caller's cancel is
#: no network failure (it counts for NER), and Asterisk reports no finer cause.
ASTERISK_DISPOSITION_TO_Q850: dict[str, int] = {
    "ANSWERED": 16,
    "BUSY": 17,
    "NO ANSWER": 19,
    "NO_ANSWER": 19,
    "CANCEL": 21,
    "CONGESTION": 34,
    "FAILED": 41,
}

_NO_ANSWER_CAUSES = frozenset({18, 19, 812})  # NO_USER_RESPONSE, NO_ANSWER, NO_PICKUP
_BUSY_CAUSES = frozenset({17, 815})  # USER_BUSY, BUSY_EVERYWHERE
_CONGESTION_CAUSES = frozenset({34, 42})


def code_for_name(name: str) -> int | None:
    """FreeSWITCH cause number for a cause name (case-insensitive); None when unknown."""
    return CAUSE_CODES.get(name.strip().upper())


def name_for_code(code: int) -> str:
    """Cause name for a FreeSWITCH cause number; "" when unknown."""
    return CAUSE_NAMES.get(code, "")


def reported_q850(code: int) -> int:
    """What FreeSWITCH puts in ``hangup_cause_q850``: internal causes (> 127) become 16."""
    return code if 0 <= code <= MAX_Q850 else NORMAL_CLEARING


def q850_for_name(name: str) -> int | None:
    """Reported Q.850 code for a cause name (ORIGINATOR_CANCEL -> 16); None when unknown."""
    code = code_for_name(name)
    return None if code is None else reported_q850(code)


def sip_to_cause(sip_code: int) -> int:
    """FreeSWITCH cause for a SIP final response (487 -> ORIGINATOR_CANCEL = 487)."""
    return SIP_TO_CAUSE.get(sip_code, SIP_DEFAULT_CAUSE)


def sip_to_q850(sip_code: int) -> int:
    """Q.850 code for a SIP final response, as FreeSWITCH reports it (487 -> 16, unknown -> 31)."""
    return reported_q850(sip_to_cause(sip_code))


def asterisk_disposition_to_q850(disposition: str) -> int:
    """Q.850 code for an Asterisk disposition (``NO ANSWER`` -> 19); unknown -> 31."""
    return ASTERISK_DISPOSITION_TO_Q850.get(disposition.strip().upper(), SIP_DEFAULT_CAUSE)


def disposition_for(cause: int, answered: bool) -> str:
    """Canonical disposition for a cause code (Q.850 or FreeSWITCH-internal) and the answered flag.

    Pass the internal code when known (``code_for_name``): ORIGINATOR_CANCEL (487) is CANCEL,
    but its reported Q.850 code 16 alone would say FAILED for an unanswered leg.
    """
    if answered:
        return "ANSWERED"
    if cause == ORIGINATOR_CANCEL:
        return "CANCEL"
    if cause in _BUSY_CAUSES:
        return "BUSY"
    if cause in _NO_ANSWER_CAUSES:
        return "NO_ANSWER"
    if cause in _CONGESTION_CAUSES:
        return "CONGESTION"
    return "FAILED"
