"""Admin, account and import pages in headless Chromium against the whole product (`cdrstats run`).

Logs in as admin, registers a switch (credentials shown once, set-up snippet), creates a
customer owning one of the demo account codes and a user of it, imports an Asterisk CSV
file and watches the progress bar reach 100 %, then checks over the API that the new
customer user sees only its code. Screenshots go to test-output/platform-<page>-<viewport>.png;
a console error (CSP violation, script failure) fails the test.
"""

from __future__ import annotations

import base64
import json
import pathlib
import urllib.request
from typing import Any

import pytest
from e2e_testkit import LAPTOP, PHONE, Product, logged_in

pytestmark = pytest.mark.e2e
LINE = (
    '"{code}","0145678901","0612345678","from-trunk","""Jean"" <0145678901>","SIP/carrier-1","SIP/1001-2","Dial",'
    '"SIP/1001,30","2024-03-05 14:02:11","2024-03-05 14:02:15","2024-03-05 14:03:16",65,61,"ANSWERED",'
    '"DOCUMENTATION","e2e-{n}",""'
)


def api_as(product: Product, username: str, password: str, path: str) -> Any:
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    request = urllib.request.Request(f"{product.url}{path}", headers={"Authorization": f"Basic {auth}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_admin_pages_switch_customer_user_and_import(
    browser: Any, product: Product, output_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    errors: list[str] = []
    page = logged_in(browser, product, LAPTOP, errors)

    def shot(name: str, viewport: str = "laptop") -> None:
        page.screenshot(path=str(output_dir / f"platform-{name}-{viewport}.png"), full_page=True)

    page.goto(f"{product.url}/admin/switches")
    shot("switches")
    page.click("text=Add a switch")
    page.fill("input[name=id]", "e2e-pbx")
    page.fill("input[name=name]", "E2E Asterisk")
    page.select_option("select[name=type]", "asterisk")
    page.fill("input[name=home_country]", "FR")
    page.fill("input[name=time_zone]", "Europe/Paris")
    page.fill("textarea[name=remove_prefixes]", "9")
    page.click("form.grid-form button[type=submit]")
    assert len(page.inner_text("[data-switch-password]")) >= 20
    assert "Set-up" in page.inner_text("main")
    shot("switch-created")

    code = product.api("/api/v1/cdrs?page_size=1")["cdrs"][0]["accountcode"]
    page.goto(f"{product.url}/admin/customers")
    page.fill("input[name=name]", "E2E Customer")
    page.fill("textarea[name=accountcodes]", code)
    page.click("form.stack button[type=submit]")
    page.wait_for_selector("text=Users of E2E Customer")
    customer_id = page.url.rsplit("/", 1)[1]
    page.goto(f"{product.url}/admin/customers")
    shot("customers")

    page.goto(f"{product.url}/admin/users")
    page.fill("input[name=username]", "e2e-cust")
    page.fill("input[name=password]", "e2e-customer-pw")
    page.select_option("select[name=customer_id]", customer_id)
    page.click("form.grid-form button[type=submit]")
    page.wait_for_selector("text=e2e-cust")
    shot("users")

    csv_file = tmp_path / "Master.csv"
    csv_file.write_text("\r\n".join(LINE.format(code=code, n=n) for n in range(3000)) + "\r\n")
    page.goto(f"{product.url}/import")
    page.select_option("select[name=switch_id]", "e2e-pbx")
    page.select_option("select[name=format]", "asterisk_csv")
    page.set_input_files("input[name=file]", str(csv_file))
    page.click("#import-form button[type=submit]")
    seen = set()
    for _ in range(600):
        seen.add(page.inner_text("[data-progress-text]"))
        if "100 %" in seen and "accepted" in page.inner_text("[data-progress-result]"):
            break
        page.wait_for_timeout(100)
    assert "100 %" in seen, seen
    assert "3000 lines: 3000 accepted" in page.inner_text("[data-progress-result]")
    shot("import")

    for path, name in (("/account", "account"), ("/api", "api")):
        page.goto(f"{product.url}{path}")
        shot(name)
    phone = logged_in(browser, product, PHONE, errors)
    for path, name in (("/admin/switches/e2e-pbx", "switch"), ("/import", "import"), ("/admin/users", "users")):
        phone.goto(f"{product.url}{path}")
        phone.screenshot(path=str(output_dir / f"platform-{name}-phone.png"), full_page=True)

    mine = api_as(product, "e2e-cust", "e2e-customer-pw", "/api/v1/me")
    assert mine["accountcodes"] == [code]
    found = api_as(product, "e2e-cust", "e2e-customer-pw", "/api/v1/cdrs?page_size=200")["cdrs"]
    assert found and {c["accountcode"] for c in found} == {code}
    assert errors == []
