"""Webhook signatures: what a receiver checks (domain/webhook.py, docs/notify.md)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from cdrstats_notify.domain import webhook

SECRET = "s3cr3t"
BODY = b'{"kind":"alarm_triggered","count":1,"events":[]}'
NOW = 1_764_000_000


def test_header_is_hmac_sha256_of_timestamp_dot_body() -> None:
    header = webhook.signature_header(SECRET, BODY, NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_a_valid_signature_verifies() -> None:
    header = webhook.signature_header(SECRET, BODY, NOW)
    assert webhook.verify_signature(SECRET, header, BODY, 300, now=NOW + 299)
    assert webhook.verify_signature(SECRET, header, BODY, 300, now=NOW - 299)  # a receiver's clock may be behind


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("other", BODY, NOW),  # wrong secret
        (SECRET, BODY + b" ", NOW),  # body changed by one byte
        (SECRET, BODY, NOW + 301),  # too old: a replay
        (SECRET, BODY, NOW - 301),  # from the future
        ("", BODY, NOW),  # a receiver without a secret accepts nothing
    ],
)
def test_anything_else_does_not_verify(secret: str, body: bytes, now: int) -> None:
    header = webhook.signature_header(SECRET, BODY, NOW)
    assert not webhook.verify_signature(secret, header, body, 300, now=now)


def test_the_timestamp_is_part_of_what_is_signed() -> None:
    header = webhook.signature_header(SECRET, BODY, NOW)
    moved = header.replace(f"t={NOW}", f"t={NOW + 100}")
    assert not webhook.verify_signature(SECRET, moved, BODY, 300, now=NOW + 100)


@pytest.mark.parametrize("header", ["", "garbage", f"t={NOW}", "v1=abc", f"t=x,v1={'0' * 64}", f"t={NOW},v1="])
def test_malformed_headers_do_not_verify(header: str) -> None:
    assert not webhook.verify_signature(SECRET, header, BODY, 300, now=NOW)


def test_any_listed_v1_may_match_for_secret_rotation() -> None:
    good = webhook.signature(SECRET, NOW, BODY)
    assert webhook.verify_signature(SECRET, f"t={NOW},v1={'0' * 64},v1={good}", BODY, 300, now=NOW)


def test_headers_carry_kind_and_delivery_id_and_no_signature_without_a_secret() -> None:
    signed = webhook.headers(SECRET, BODY, kind="alarm_triggered", delivery_id="d-1", timestamp=NOW)
    assert signed["X-CDRStats-Event"] == "alarm_triggered"
    assert signed["X-CDRStats-Delivery"] == "d-1"
    assert signed["Content-Type"] == "application/json"
    assert webhook.verify_signature(SECRET, signed["X-CDRStats-Signature"], BODY, now=NOW)
    unsigned = webhook.headers("", BODY, kind="test", delivery_id="d-2", timestamp=NOW)
    assert "X-CDRStats-Signature" not in unsigned
