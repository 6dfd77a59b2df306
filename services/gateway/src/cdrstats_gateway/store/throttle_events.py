"""What both adapters share about throttle events: how long they are kept.

The login, current-password and send throttles (cdrstats_gateway.throttle) count events in the
gateway's store so every replica sees the same failures and a restart keeps a block. Each write
prunes events older than ``KEEP_S``: longer than any throttle window, short enough to bound the table
by the event rate (a flood of random usernames adds rows for an hour, not for ever).
"""

from __future__ import annotations

#: events older than this are deleted on the next write; every throttle window must be shorter
KEEP_S = 3600.0
