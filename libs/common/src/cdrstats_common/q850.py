"""ITU-T Q.850 hangup cause names, one table for every page, e-mail and report that shows a cause."""

from __future__ import annotations

#: ITU-T Q.850 cause values a VoIP operator meets (the rest show as "cause N")
Q850 = {
    0: "Unknown",
    1: "Unallocated number",
    2: "No route to transit network",
    3: "No route to destination",
    6: "Channel unacceptable",
    16: "Normal clearing",
    17: "User busy",
    18: "No user responding",
    19: "No answer",
    20: "Subscriber absent",
    21: "Call rejected",
    22: "Number changed",
    27: "Destination out of order",
    28: "Invalid number format",
    29: "Facility rejected",
    31: "Normal, unspecified",
    34: "No circuit available",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    44: "Requested channel not available",
    47: "Resource unavailable",
    50: "Facility not subscribed",
    52: "Outgoing calls barred",
    54: "Incoming calls barred",
    57: "Bearer capability not authorized",
    58: "Bearer capability not available",
    63: "Service unavailable",
    65: "Bearer capability not implemented",
    69: "Facility not implemented",
    79: "Service not implemented",
    88: "Incompatible destination",
    95: "Invalid message",
    102: "Recovery on timer expiry",
    111: "Protocol error",
    127: "Interworking, unspecified",
}


def cause_name(code: int) -> str:
    return Q850.get(code, f"cause {code}")
