"""The whole product as `make run` starts it, for the browser and HTTP tests of this folder."""

from __future__ import annotations

import base64
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import Any

from cdrstats_cli import demo
from cdrstats_common.cdr import new_cdr
from cdrstats_common.testing import free_port, wait_for

CHROMIUM = "/usr/bin/chromium"
LAPTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


class Product:
    def __init__(self, data_dir: pathlib.Path, amqp_url: str) -> None:
        self.data_dir = data_dir
        self.http_port = free_port()
        self.ingest_port = free_port()
        grpc_base = free_port()
        while any(_busy(grpc_base + i) for i in range(4)):
            grpc_base = free_port()
        self.env = {
            **os.environ,
            "CDRSTATS_DATA_DIR": str(data_dir),
            "CDRSTATS_HTTP_PORT": str(self.http_port),
            "CDRSTATS_INGEST_HTTP_PORT": str(self.ingest_port),
            "CDRSTATS_GRPC_PORT_BASE": str(grpc_base),
            "AMQP_URL": amqp_url,
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("CDRSTATS_ADMIN_PASSWORD", None)
        self.env.pop("CDRSTATS_DEMO_SWITCH_KEY", None)
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.http_port}"

    def start(self) -> float:
        started = time.monotonic()
        log = open(self.data_dir / "run-stdout.log", "ab")  # noqa: SIM115 - the child's output
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cdrstats_cli.main", "run"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        wait_for(self.healthy, timeout_s=300, interval_s=0.5, what="gateway /healthz 200 after the demo load")
        return time.monotonic() - started

    def healthy(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.output()
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=3) as response:
                return response.status == 200
        except OSError:
            return False

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        self.process = None
        return code

    def output(self) -> str:
        return (self.data_dir / "run-stdout.log").read_text(errors="replace")[-4000:]

    @property
    def secrets(self) -> dict[str, str]:
        return json.loads((self.data_dir / "secrets.json").read_text())

    def api(self, path: str) -> dict[str, Any]:
        auth = base64.b64encode(f"admin:{self.secrets['admin_password']}".encode()).decode()
        request = urllib.request.Request(f"{self.url}{path}", headers={"Authorization": f"Basic {auth}"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def post_cdr(self) -> str:
        now_us = int(time.time() * 1_000_000)
        cdr = new_cdr(
            switch_id="demo",
            uuid=str(uuid.uuid4()),
            call_id=f"{uuid.uuid4().hex}@10.0.0.5",
            direction="outbound",
            caller_id_number="+14155550100",
            caller_id_name="E2E",
            destination_number="+442071838750",
            accountcode="acme",
            start_time_us=now_us - 65_000_000,
            answer_time_us=now_us - 62_000_000,
            end_time_us=now_us - 2_000_000,
            duration_ms=63_000,
            billsec_ms=60_000,
            pdd_ms=2_500,
            hangup_cause=16,
            sip_code=200,
            read_codec="PCMA",
            write_codec="PCMA",
        )
        status = demo.post_freeswitch_json(
            f"http://127.0.0.1:{self.ingest_port}",
            "demo",
            self.secrets["demo_switch_key"],
            demo.freeswitch_json_document(cdr),
        )
        assert status == 200
        return str(cdr["uuid"])


def _busy(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def logged_in(browser: Any, product: Product, viewport: dict[str, int], errors: list[str]) -> Any:
    """A new page logged in as admin; console errors and page errors are collected in ``errors``."""
    context = browser.new_context(viewport=viewport, accept_downloads=True)
    page = context.new_page()
    page.on(
        "console",
        lambda message: errors.append(f"{page.url}: {message.text} {message.location}")
        if message.type == "error"
        else None,
    )
    page.on("pageerror", lambda error: errors.append(f"{page.url}: {error.stack or error}"))
    page.goto(f"{product.url}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", product.secrets["admin_password"])
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard**")
    return page
