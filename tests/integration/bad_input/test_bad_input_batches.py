"""A batch with some bad records: the good ones are stored, each bad one is kept as a reject with its reason,
and nothing accepted earlier is lost to a refused request."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

import pytest
from bad_input_testkit import ASTERISK_LINE, Site, api_cdr, rfc3339

pytestmark = pytest.mark.integration


def test_bulk_create_stores_the_good_records_and_keeps_the_bad_ones_as_rejects(site: Site) -> None:
    switch_id, _ = site.new_switch("bulk")
    good = [api_cdr(), api_cdr()]
    backwards = api_cdr(end_time=rfc3339(3600))  # ends an hour before it starts
    reply = site.api("POST", "/api/v1/cdrs", {"switch_id": switch_id, "cdrs": [good[0], backwards, good[1]]})
    assert reply.status == 200, reply.text
    answer = reply.json()
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 0, 1)
    [refused] = answer["rejects"]
    assert refused["index"] == 1 and "end_time_us" in refused["reason"] and "before start" in refused["reason"]
    assert sorted(c["uuid"] for c in site.cdrs(switch_id)) == sorted(r["uuid"] for r in good)
    [kept] = site.rejects(switch_id)
    assert (kept["id"], kept["reason"], kept["source"]) == (refused["reject_id"], refused["reason"], "api")
    assert backwards["uuid"] in kept["raw"]
    # sent again, the batch changes nothing: the good ones are duplicates, nothing is lost or doubled
    again = site.api("POST", "/api/v1/cdrs", {"switch_id": switch_id, "cdrs": good}).json()
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert len(site.cdrs(switch_id)) == 2


def test_csv_import_stores_the_good_lines_and_keeps_each_bad_line_with_its_reason(site: Site) -> None:
    switch_id, _ = site.new_switch("import")
    lines = [
        ASTERISK_LINE.format(uid=uuid.uuid4()),
        '"acme","only","three columns"',
        ASTERISK_LINE.format(uid=uuid.uuid4()).replace("2024-03-05 14:02:11", "yesterday"),
        ASTERISK_LINE.format(uid=uuid.uuid4()),
    ]
    path = f"/api/v1/imports?switch_id={switch_id}&format=asterisk_csv&file_name=mixed.csv"
    reply = site.gateway("POST", path, "\n".join(lines).encode(), {**site.admin, "Content-Type": "text/csv"})
    assert reply.status == 200, reply.text
    result = reply.json()["result"]
    assert (result["lines"], result["accepted"], result["rejected"]) == (4, 2, 2)
    assert [r["line"] for r in result["rejects"]] == [2, 3]
    assert "16, 18 or 21" in result["rejects"][0]["reason"]
    assert "yesterday" in result["rejects"][1]["reason"]
    kept = {r["reason"]: r for r in site.rejects(switch_id)}
    assert set(kept) == {r["reason"] for r in result["rejects"]}
    assert {r["raw"] for r in kept.values()} == {lines[1], lines[2]}
    assert all("mixed.csv" in r["location"] for r in kept.values())
    assert len(site.cdrs(switch_id)) == 2


def test_page_upload_of_a_file_with_bad_lines_reports_them_and_keeps_the_good_ones(site: Site) -> None:
    switch_id, _ = site.new_switch("upload")
    browser = site.browser()
    base = f"http://127.0.0.1:{site.gateway_port}"
    with browser.open(f"{base}/import", timeout=10) as page:
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.read().decode())
    assert token is not None
    content = f"{ASTERISK_LINE.format(uid=uuid.uuid4())}\nnot,a,cdr\n".encode()
    boundary = uuid.uuid4().hex
    parts = [("csrf_token", token.group(1)), ("switch_id", switch_id), ("format", "asterisk_csv")]
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in parts
    )
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "application/json"}
    with browser.open(urllib.request.Request(f"{base}/import", body, headers), timeout=15) as answer:
        job = json.loads(answer.read())
    assert (job["state"], job["result"]["accepted"], job["result"]["rejected"]) == ("done", 1, 1)
    assert job["result"]["rejects"][0]["line"] == 2
    assert len(site.cdrs(switch_id)) == 1 and len(site.rejects(switch_id)) == 1


def test_call_state_batch_accepts_the_good_events_and_names_each_bad_one(site: Site) -> None:
    switch = site.new_switch("events")
    events = [
        {"event": "started", "uuid": "a", "time": "2026-01-01T00:00:00Z"},
        {"event": "exploded", "uuid": "b"},
        {"event": "ended", "uuid": "", "time": "2026-01-01T00:01:00Z"},
        {"event": "ended", "uuid": "a", "time": "2026-01-01T00:01:00Z"},
    ]
    reply = site.ingest(f"/v1/switches/{switch[0]}/calls", json.dumps(events).encode(), switch)
    assert reply.status == 200, reply.text
    answer = reply.json()
    assert answer["accepted"] == 2
    assert [(r["index"], r["field"]) for r in answer["rejected"]] == [(1, "event"), (2, "uuid")]
    assert "exploded" in answer["rejected"][0]["reason"]


def test_a_refused_push_loses_nothing_accepted_before(site: Site) -> None:
    switch_id, _ = site.new_switch("keep")
    first = api_cdr()
    assert site.api("POST", "/api/v1/cdrs", {"switch_id": switch_id, "cdrs": [first]}).json()["accepted"] == 1
    bad_batches: list[bytes] = [b"[" * 100_000, b'{"switch_id": "' + switch_id.encode() + b'", "cdrs": [NaN]}', b"\xff"]
    for body in bad_batches:
        reply = site.gateway("POST", "/api/v1/cdrs", body, {**site.admin, "Content-Type": "application/json"})
        assert reply.status == 400, reply.text
    assert [c["uuid"] for c in site.cdrs(switch_id)] == [first["uuid"]]
