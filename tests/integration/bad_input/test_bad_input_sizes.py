"""Oversized bodies, declared or chunked, are a 413 naming the limit on both servers; the servers stay healthy."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from bad_input_testkit import Site, api_cdr, raw_exchange

pytestmark = pytest.mark.integration

INGEST_LIMIT = 1_048_576  # CDRSTATS_INGEST_MAX_BODY_BYTES default
JSON_API_LIMIT = 1024 * 1024  # rest.MAX_JSON_BYTES
BULK_LIMIT = 32 * 1024 * 1024  # rest_cdrs.MAX_BULK_BYTES
FORM_LIMIT = 64 * 1024  # app.MAX_BODY_BYTES (page forms)


def pieces(total: int, size: int = 16 * 1024, fill: bytes = b" ") -> Iterator[bytes]:
    """``total`` bytes in chunks: a chunked body with no Content-Length that grows past a limit."""
    while total > 0:
        yield fill * min(size, total)
        total -= size


@pytest.mark.parametrize("path", ["/v1/freeswitch/json", "/v1/freeswitch/xml", "/v1/switches/{id}/calls"])
def test_ingest_refuses_bodies_over_the_limit_declared_or_chunked(site: Site, path: str) -> None:
    switch = site.new_switch("big")
    path = path.format(id=switch[0])
    declared = site.ingest(path, b"{" + b" " * INGEST_LIMIT + b"}", switch)
    chunked = site.ingest(path, pieces(INGEST_LIMIT + 64 * 1024), switch)
    for reply in (declared, chunked):
        assert reply.status == 413, reply.text
        assert reply.json()["message"] == f"body over the limit of {INGEST_LIMIT} bytes"
    # still serving, and a body under the limit is judged on its content, not refused for size
    event = {"event": "started", "uuid": "after-413", "time": "2026-01-01T00:00:00Z"}
    reply = site.ingest(f"/v1/switches/{switch[0]}/calls", json.dumps(event).encode(), switch)
    assert (reply.status, reply.json()) == (200, {"accepted": 1, "rejected": []})


def test_bulk_create_refuses_a_declared_size_over_the_limit_before_reading_it(site: Site) -> None:
    head = (
        f"POST /api/v1/cdrs HTTP/1.1\r\nHost: x\r\nAuthorization: {site.admin['Authorization']}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {BULK_LIMIT + 1}\r\nConnection: close\r\n\r\n"
    )
    reply = raw_exchange(site.gateway_port, head.encode())  # no body is sent at all: refused on the header
    assert (reply.status, reply.json()["message"]) == (413, f"body: at most {BULK_LIMIT} bytes")


def test_bulk_create_refuses_a_chunked_body_growing_over_the_limit(site: Site) -> None:
    reply = site.gateway("POST", "/api/v1/cdrs", pieces(BULK_LIMIT + 1024, 256 * 1024), site.admin)
    assert (reply.status, reply.json()["error"]) == (413, "payload_too_large")
    assert reply.json()["message"] == f"body: at most {BULK_LIMIT} bytes"


def test_json_api_body_over_the_limit_is_413_not_a_parse_error_of_its_first_part(site: Site) -> None:
    """Regression: one content.read(n) parsed the first MiB of a longer chunked body (a 400 'Expecting ...')."""
    body = pieces(JSON_API_LIMIT + 64 * 1024, 4096, b"[")
    reply = site.gateway("PUT", "/api/v1/mapping-profiles/big", body, site.admin)
    assert (reply.status, reply.json()["message"]) == (413, f"body: at most {JSON_API_LIMIT} bytes")


def test_json_api_body_sent_in_many_small_chunks_is_read_whole(site: Site) -> None:
    """Regression: content.read(n) returned only what had arrived yet, so a valid body in pieces was a 400."""
    profile = {"has_header": True, "columns": {"uuid": "id", "start_time": "begin"}}
    text = json.dumps(profile).encode()
    body = text[:-1] + b" " * 300_000 + text[-1:]  # valid JSON, 300 kB of it whitespace
    chunks = (body[i : i + 2048] for i in range(0, len(body), 2048))
    reply = site.gateway("PUT", "/api/v1/mapping-profiles/chunked", chunks, site.admin)
    assert reply.status == 200, reply.text
    assert reply.json()["columns"] == profile["columns"]


def test_page_forms_over_the_limit_are_a_413_page(site: Site) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    declared = site.gateway("POST", "/login", b"username=" + b"a" * FORM_LIMIT, form)
    chunked = site.gateway("POST", "/login", pieces(FORM_LIMIT + 1024, 4096, b"a"), form)
    for reply in (declared, chunked):
        assert reply.status == 413
        assert reply.headers["content-type"].startswith("text/html")
        assert f"Maximum request body size {FORM_LIMIT} exceeded" in reply.text


def test_after_the_refusals_a_normal_bulk_create_still_works(site: Site) -> None:
    switch_id, _ = site.new_switch("after")
    reply = site.api("POST", "/api/v1/cdrs", {"switch_id": switch_id, "cdrs": [api_cdr()]})
    assert (reply.status, reply.json()["accepted"]) == (200, 1), reply.text
