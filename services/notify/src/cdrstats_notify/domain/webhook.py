"""Signed webhooks: what a receiver needs to trust a POST from CDR-Stats.

Each POST carries ``X-CDRStats-Signature: t=<unix seconds>,v1=<hex>`` where ``<hex>`` is
``HMAC-SHA256(secret, f"{t}.{body}")`` over the exact body bytes, plus ``X-CDRStats-Event`` (the kind)
and ``X-CDRStats-Delivery`` (the delivery id: the same id on every retry, so receivers can de-duplicate).
The timestamp in the signed text stops an old request from being replayed later; receivers reject
a signature older (or newer) than a tolerance. ``verify_signature`` is the reference check (docs/notify.md).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-CDRStats-Signature"
EVENT_HEADER = "X-CDRStats-Event"
DELIVERY_HEADER = "X-CDRStats-Delivery"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` keyed with ``secret``."""
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def headers(secret: str, body: bytes, *, kind: str, delivery_id: str, timestamp: int) -> dict[str, str]:
    """The headers of one POST; without a secret the request is sent unsigned (no signature header)."""
    result = {
        "Content-Type": "application/json",
        "User-Agent": "cdr-stats-notify",
        EVENT_HEADER: kind,
        DELIVERY_HEADER: delivery_id,
    }
    if secret:
        result[SIGNATURE_HEADER] = signature_header(secret, body, timestamp)
    return result


def verify_signature(
    secret: str, header: str, body: bytes, tolerance_s: float = DEFAULT_TOLERANCE_S, *, now: float | None = None
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance_s`` of now.

    Any ``v1`` entry may match (a sender rotating its secret may list several); comparison is constant-time.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates or not secret:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
