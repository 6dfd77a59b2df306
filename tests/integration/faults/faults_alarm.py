"""An alarm whose verdict the test flips, and a queue of its own that records every alarm event published.

The alarm: ASR of account code ``flip`` over the last 15 minutes below 50 %, at least 10 attempts, no
cooldown, one e-mail and one webhook recipient. ``Flipper`` sends batches of answered / unanswered calls
of that code (bulk API, recorded in the ledger like every other CDR), each batch moving the ASR across
the threshold, and waits for the alarm to follow before the next. The ``flip`` calls stay inside the
window for the whole run (they start 90 s before they are sent).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import faults_cdrs as cdrs
import kombu
from faults_load import Ledger, post
from faults_product import Product

from cdrstats_common.events import event_exchange

ALARM_EMAIL = "noc@faults.test"
#: (calls, answered): each batch moves the 15-minute ASR across 50 % (0 %, 67 %, 33 %, 64 %, 39 %, 61 %, ...)
PHASES = ((12, False), (24, True), (36, False), (60, True), (84, False), (120, True), (180, False), (260, True))
SWITCH = "bulk-a"


def create_alarm(product: Product, webhook_url: str) -> dict[str, Any]:
    alarm: dict[str, Any] = product.api(
        "POST",
        "/api/v1/alarms",
        {
            "name": "Faults: ASR of flip below 50 %",
            "metric": "asr",
            "scope": {"kind": "accountcode", "value": "flip"},
            "window": "last_15m",
            "condition": "lt",
            "threshold": 50,
            "min_attempts": 10,
            "cooldown_s": 0,
            "enabled": True,
            "emails": [ALARM_EMAIL],
            "webhooks": [webhook_url],
        },
    )
    return alarm


class AlarmEvents:
    """A durable queue bound to alerting.events for alarm_triggered / alarm_cleared, drained at the end."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        exchange = event_exchange("alerting")
        self.queue = kombu.Queue(
            "faults-test.alarm-events",
            exchange=exchange,
            bindings=[kombu.binding(exchange, routing_key=key) for key in ("alarm_triggered", "alarm_cleared")],
            durable=True,
        )
        with kombu.Connection(amqp_url) as connection:
            self.queue(connection.channel()).declare()

    def drain(self) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        with kombu.Connection(self.amqp_url) as connection:
            bound = self.queue(connection.channel())
            while (message := bound.get(no_ack=True)) is not None:
                bodies.append(json.loads(message.body))
        return bodies


class Flipper:
    def __init__(self, product: Product, alarm_id: str, token: str, ledger: Ledger, *, spacing_s: float) -> None:
        self.product = product
        self.spacing_s = spacing_s  # phase k starts no sooner than k x this after the load started
        self.alarm_id = alarm_id
        self.token = token
        self.ledger = ledger
        self.sent = 0
        self.log: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="alarm-flipper", daemon=True)
        self.started = 0.0

    def _state(self) -> str:
        try:
            return str(self.product.api("GET", f"/api/v1/alarms/{self.alarm_id}", timeout_s=5)["state"])
        except (AssertionError, OSError):
            return "?"  # the gateway or alerting is down right now

    def _send(self, count: int, answered: bool) -> None:
        now_us = int(time.time() * cdrs.US)
        batch = [cdrs.flip_cdr(self.sent + n, SWITCH, now_us, answered=answered) for n in range(count)]
        self.sent += count
        body = json.dumps({"switch_id": SWITCH, "cdrs": [cdrs.bulk_record(c) for c in batch]}).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        while not self.stop.is_set():
            try:
                status, reply = post(("127.0.0.1", self.product.http_port), "POST", "/api/v1/cdrs", body, headers)
            except OSError:
                status, reply = 0, {}
            if status == 200 and reply.get("rejected") == 0:
                for cdr in batch:
                    self.ledger.store((SWITCH, cdr["uuid"]), "stored")
                return
            if 0 < status < 500:
                self.ledger.fail(f"flip batch answered {status} {reply}")
                return
            time.sleep(0.3)

    def _run(self) -> None:
        for phase, (count, answered) in enumerate(PHASES):
            while time.monotonic() < self.started + phase * self.spacing_s and not self.stop.is_set():
                time.sleep(0.2)
            if self.stop.is_set():
                return
            want = "OK" if answered else "FIRING"
            self._send(count, answered)
            sent_at = time.monotonic() - self.started
            deadline = time.monotonic() + 40
            while self._state() != want and time.monotonic() < deadline and not self.stop.is_set():
                time.sleep(0.5)
            self.log.append(
                {"sent_at_s": round(sent_at, 1), "calls": count, "answered": answered,
                 "state": self._state(), "after_s": round(time.monotonic() - self.started - sent_at, 1)}
            )  # fmt: skip

    def start(self, started: float) -> None:
        self.started = started
        self.thread.start()
