"""Alarm pages in headless Chromium against the whole product (`cdrstats run`).

Logs in as admin, posts a call, creates an alarm through the form (the fields that apply show
and hide as the metric, condition and scope change), presses "Test now" on the form and on the
saved alarm and reads the verdict, sees the alarm in the list, and watches the history chart
fill as the alerting worker evaluates it (every 3 s here). Screenshots of every page on a laptop
and a phone go to test-output/alarms-<page>-<viewport>.png; a console error (a CSP violation, a
script failure) fails the test.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_testkit import LAPTOP, PHONE, Product, logged_in

from cdrstats_common.testing import rabbitmq_vhost

pytestmark = pytest.mark.e2e
NAME = "E2E calls on the demo switch"


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    """The product with the alarm timer shortened, so the history chart fills while the test watches."""
    with rabbitmq_vhost("cdrstats-e2e-alarms") as amqp_url:
        running = Product(tmp_path_factory.mktemp("e2e-alarms"), amqp_url)
        running.env["CDRSTATS_ALARM_INTERVAL_S"] = "3"
        startup_s = running.start()
        print(f"\ne2e-alarms: startup with demo load {startup_s:.1f} s")
        yield running
        if running.process is not None:
            running.stop()


def shot(page: Any, output_dir: pathlib.Path, name: str, viewport: str) -> None:
    page.screenshot(path=str(output_dir / f"alarms-{name}-{viewport}.png"), full_page=True)


def fill_form(page: Any) -> None:
    page.fill("input[name=name]", NAME)
    assert not page.is_visible("select[name=hangup_cause]"), "the cause shows for cause_share only"
    page.select_option("select[name=metric]", "cause_share")
    assert page.is_visible("select[name=hangup_cause]")
    assert page.inner_text("#alarm-unit") == "%"
    page.select_option("select[name=metric]", "attempts")
    assert not page.is_visible("select[name=hangup_cause]") and page.inner_text("#alarm-unit") == "calls"
    assert not page.is_visible("select[name=baseline]"), "the baseline shows for relative conditions only"
    page.select_option("select[name=condition]", "rises_by_pct")
    assert page.is_visible("select[name=baseline]") and page.inner_text("#alarm-unit") == "% of the baseline"
    page.select_option("select[name=condition]", "gt")
    assert not page.is_visible("select[name=scope_value_switch]")
    page.select_option("select[name=scope_kind]", "switch")
    assert page.is_visible("select[name=scope_value_switch]") and not page.is_visible("input[name=scope_value_prefix]")
    page.select_option("select[name=scope_value_switch]", "demo")
    page.select_option("select[name=window]", "last_hour")
    page.fill("input[name=threshold]", "0")
    page.fill("input[name=min_attempts]", "1")
    page.fill("input[name=cooldown_min]", "30")
    page.fill("textarea[name=emails]", "noc@example.com")


def test_create_test_and_watch_an_alarm(browser: Any, product: Product, output_dir: pathlib.Path) -> None:
    product.post_cdr()  # at least one call on the demo switch in the last hour
    errors: list[str] = []
    page = logged_in(browser, product, LAPTOP, errors)
    page.click("nav >> text=Alarms")
    page.wait_for_url("**/alarms")
    shot(page, output_dir, "list-before", "laptop")

    page.click("text=New alarm")
    page.wait_for_selector("#alarm-form")
    fill_form(page)
    shot(page, output_dir, "form", "laptop")
    page.click("button[value=test]")
    page.wait_for_selector("[data-test-result]")
    result = page.inner_text("[data-test-result]")
    assert "Breach" in result and "the alarm would fire" in result, result
    assert page.input_value("input[name=name]") == NAME, "the typed values stay after a test"
    assert page.is_visible("select[name=scope_value_switch]"), "the form shows the chosen scope again"
    shot(page, output_dir, "form-tested", "laptop")

    page.click("button[value=save]")
    page.wait_for_selector("text=Alarm created.")
    detail_url = page.url.split("?")[0]
    assert "Attempts is greater than 0 calls over the last hour" in page.inner_text("[data-alarm-description]")
    page.click("form >> button[value=test]")
    page.wait_for_selector("[data-test-result]")
    assert "Breach" in page.inner_text("[data-test-result]")
    shot(page, output_dir, "detail-tested", "laptop")

    page.goto(f"{product.url}/alarms")
    row = page.locator("tr", has_text=NAME)
    assert row.count() == 1 and "switch demo" in row.inner_text()
    # the worker evaluates it every 3 s: the list shows it FIRING, the detail page charts the history
    for _ in range(60):
        if "FIRING" in page.locator("tr", has_text=NAME).inner_text():
            break
        page.wait_for_timeout(500)
        page.reload()
    assert "FIRING" in page.locator("tr", has_text=NAME).inner_text()
    shot(page, output_dir, "list", "laptop")

    page.goto(detail_url)
    for _ in range(40):
        if page.locator("table.evaluations tbody tr").count() >= 3:
            break
        page.wait_for_timeout(500)
        page.goto(detail_url)
    page.wait_for_selector("#alarm-chart.ready canvas")
    assert page.locator("table.evaluations tbody tr").count() >= 3
    shot(page, output_dir, "detail", "laptop")

    phone = logged_in(browser, product, PHONE, errors)
    for path, name in (("/alarms", "list"), ("/alarms/new", "form"), (detail_url.split(product.url)[1], "detail")):
        phone.goto(f"{product.url}{path}")
        if name == "detail":
            phone.wait_for_selector("#alarm-chart.ready canvas")
        shot(phone, output_dir, name, "phone")
    assert errors == [], errors
