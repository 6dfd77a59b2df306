"""Destination control and the mail report in headless Chromium against the whole product (`cdrstats run`).

As admin: pick a country, tick one of its prefixes and add it to the black list (the checkboxes come
from the page's script), check a number against it, then open the mail-report settings and watch the
live preview (a sandboxed iframe) render and follow the form. Screenshots go to
test-output/control-<page>-<viewport>.png; a console error (CSP violation, script failure) fails the test.
"""

from __future__ import annotations

import pathlib
import re
from typing import Any

import pytest
from e2e_testkit import LAPTOP, PHONE, Product, logged_in
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_black_list_by_country_and_mail_report_preview(
    browser: Any, product: Product, output_dir: pathlib.Path
) -> None:
    errors: list[str] = []
    page = logged_in(browser, product, LAPTOP, errors)

    def shot(name: str, viewport: str = "laptop", on: Any = None) -> None:
        (on or page).screenshot(path=str(output_dir / f"control-{name}-{viewport}.png"), full_page=True)

    def preview_shot(on: Any, viewport: str) -> None:
        """The preview card alone: a full-page capture re-lays the page out and catches the iframe blank."""
        card = on.locator(".preview-card")
        card.scroll_into_view_if_needed()
        on.wait_for_timeout(300)
        card.screenshot(path=str(output_dir / f"control-mail-preview-{viewport}.png"))

    page.goto(f"{product.url}/destinations?list=black")
    page.select_option("#pick-country", "GB")
    choice = page.locator('#prefix-choices input[name=prefixes][value="4474"]')
    choice.wait_for()
    assert "mobile" in page.inner_text('#prefix-choices label:has(input[value="4474"])')
    assert "shared with GG, IM, JE" in page.inner_text("#prefix-choices")
    choice.check()
    page.fill("#entry-note", "E2E: UK mobile range")
    shot("destinations-picked")
    page.click("#add-entries button[type=submit]")
    page.wait_for_selector("text=Added to the list.")
    assert "+4474" in page.inner_text("table.entries")
    stored = product.api("/api/v1/lists?list=black&prefix=4474")["items"]
    assert [(e["prefix"], e["owner"], e["note"]) for e in stored] == [("4474", "", "E2E: UK mobile range")]

    page.fill("#check-number", "+447400123456")
    page.click("#check button[type=submit]")
    result = page.inner_text("[data-check-result]")
    assert "black list" in result and "4474" in result
    shot("destinations")

    page.goto(f"{product.url}/destinations/hits")
    shot("hits")
    first_hit = page.locator("table.hits tbody tr").first  # the demo's rules flag its premium-rate calls
    verdict = first_hit.locator(".badge").first.inner_text()
    first_hit.locator("a").first.click()
    page.wait_for_selector("#destination-verdict [data-flag]")
    assert verdict in page.inner_text("#destination-verdict")
    shot("cdr-flag")
    page.goto(f"{product.url}/destinations/geo")
    shot("geo")

    page.goto(f"{product.url}/mail-report")
    preview = page.frame_locator("iframe.mail-preview")
    preview.locator("text=/Daily report \\d{4}-\\d{2}-\\d{2}/").first.wait_for(timeout=20_000)
    expect(page.locator("[data-preview-subject]")).to_contain_text("Daily report", timeout=20_000)
    page.fill("#recipients", "e2e-boss@example.com")
    expect(page.locator("[data-preview-recipients]")).to_have_text("e2e-boss@example.com", timeout=20_000)
    page.select_option("select[name=kind]", "weekly")
    preview.locator("text=/Weekly report \\d{4}-W\\d{2}/").first.wait_for(timeout=20_000)
    expect(page.locator("[data-preview-subject]")).to_contain_text(re.compile(r"Weekly report \d{4}-W\d{2}"))
    shot("mail-report")
    preview_shot(page, "laptop")

    for path, name in (("/contacts", "contacts"), ("/deliveries", "deliveries")):
        page.goto(f"{product.url}{path}")
        shot(name)

    phone = logged_in(browser, product, PHONE, errors)
    phone.goto(f"{product.url}/destinations?list=black&country=FR")
    phone.locator('#prefix-choices input[value="336"]').wait_for()
    shot("destinations", "phone", phone)
    phone.goto(f"{product.url}/mail-report")
    phone.frame_locator("iframe.mail-preview").locator("text=/Daily report/").first.wait_for(timeout=20_000)
    shot("mail-report", "phone", phone)
    preview_shot(phone, "phone")
    assert errors == []
