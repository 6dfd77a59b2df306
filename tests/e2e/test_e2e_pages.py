"""Every CDR and report page in headless Chromium against the whole product with its demo data.

Starts `cdrstats run` (as test_e2e_slice does), logs in as admin, opens every page on a
laptop and (dashboard, search, detail, countries) a phone viewport, runs a search from the
form, opens a CDR, downloads the CSV export of the search and checks it holds exactly the
CDRs the page counted, and watches the live pages update over SSE. Each page's screenshot
goes to test-output/pages-<page>-<viewport>.png; a console error (a CSP violation, a
script failure) fails the test.
"""

from __future__ import annotations

import csv
import pathlib
import re
from typing import Any

import pytest
from e2e_testkit import LAPTOP, PHONE, Product, logged_in

pytestmark = pytest.mark.e2e
REPORTS = ("daily", "overview", "monthly", "hourly", "countries", "concurrent", "destinations", "hangup-causes")


def shot(page: Any, output_dir: pathlib.Path, name: str, viewport: str) -> None:
    page.screenshot(path=str(output_dir / f"pages-{name}-{viewport}.png"), full_page=True)


def test_every_page_with_demo_data(browser: Any, product: Product, output_dir: pathlib.Path) -> None:
    errors: list[str] = []
    page = logged_in(browser, product, LAPTOP, errors)
    # the dashboard draws its chart and refreshes itself over SSE (the first event comes at once)
    page.wait_for_selector("#dashboard-chart.ready canvas")
    page.wait_for_function("document.getElementById('dashboard-updated').textContent.startsWith('Updated')")
    shot(page, output_dir, "dashboard", "laptop")
    for name in REPORTS:
        response = page.goto(f"{product.url}/reports/{name}")
        assert response is not None and response.status == 200, name
        page.wait_for_selector("#report-chart.ready canvas")
        if name == "countries":
            page.wait_for_selector("#report-map.ready canvas")
        if name != "concurrent":  # a chart of 1,440 minutes, no table
            assert page.locator("table tbody tr").count() > 0, name
        shot(page, output_dir, f"report-{name}", "laptop")
    page.goto(f"{product.url}/reports/live")
    page.wait_for_function("document.getElementById('live-status').textContent.startsWith('Live: updated')")
    shot(page, output_dir, "report-live", "laptop")
    assert errors == [], errors


def test_search_detail_and_export(browser: Any, product: Product, output_dir: pathlib.Path) -> None:
    errors: list[str] = []
    page = logged_in(browser, product, LAPTOP, errors)
    page.goto(f"{product.url}/cdrs")
    shot(page, output_dir, "cdrs-empty", "laptop")
    page.fill("input[name=destination]", "+44")
    page.select_option("select[name=answered]", "yes")
    page.click("#cdr-search button[type=submit]")
    page.wait_for_url(re.compile(r".*destination=%2B44.*"))
    count_text = page.inner_text("#cdr-count")
    matched = int(re.search(r"([\d,]+) CDRs? match", count_text).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert matched > 0 and page.locator("table.cdrs tbody tr").count() == min(matched, 50)
    shot(page, output_dir, "cdrs-search", "laptop")
    # the search is in the URL: reloading it (a bookmark) shows the same
    page.reload()
    assert page.inner_text("#cdr-count") == count_text
    with page.expect_download() as download_info:
        page.click("text=Export CSV")
    saved = output_dir / "pages-export.csv"
    download_info.value.save_as(str(saved))
    with saved.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == matched
    assert all(r["destination_e164"].startswith("+44") or r["destination_number"].startswith("+44") for r in rows)
    assert all(r["answered"] == "true" for r in rows)
    page.click("table.cdrs tbody tr:first-child a")
    page.wait_for_url(re.compile(r".*/cdrs/[^/?]+$"))
    assert page.locator("h1").inner_text().startswith("CDR ")
    shot(page, output_dir, "cdr-detail", "laptop")
    assert errors == [], errors


def sideways_scroll(page: Any) -> int:
    """How far the page scrolls sideways (the tables scroll inside their own box, the page must not)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_phone_layout(browser: Any, product: Product, output_dir: pathlib.Path) -> None:
    errors: list[str] = []
    page = logged_in(browser, product, PHONE, errors)
    page.wait_for_selector("#dashboard-chart.ready canvas")
    shot(page, output_dir, "dashboard", "phone")
    assert sideways_scroll(page) <= 1
    page.goto(f"{product.url}/cdrs?answered=yes")
    shot(page, output_dir, "cdrs-search", "phone")
    assert sideways_scroll(page) <= 1
    page.click("table.cdrs tbody tr:first-child a")
    page.wait_for_url(re.compile(r".*/cdrs/[^/?]+$"))
    shot(page, output_dir, "cdr-detail", "phone")
    assert sideways_scroll(page) <= 1
    page.goto(f"{product.url}/reports/countries")
    page.wait_for_selector("#report-map.ready canvas")
    shot(page, output_dir, "report-countries", "phone")
    assert sideways_scroll(page) <= 1
    assert errors == [], errors
