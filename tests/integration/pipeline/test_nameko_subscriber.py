"""Other systems subscribe to alarms with plain nameko: ``@event_handler("alerting", "alarm_triggered")`` in a
service of their own receives the event alerting publishes when a real alarm fires (issue 5)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest
from pipeline_kit import ADMIN, Pipeline, now_us

from cdrstats.alerting.v1 import alerting_pb2
from cdrstats_common.testing import wait_for

pytestmark = pytest.mark.integration

APP = pathlib.Path(__file__).with_name("nameko_subscriber_app.py")


def test_a_plain_nameko_service_receives_alarm_triggered(
    pipeline: Pipeline, amqp_url: str, tmp_path: pathlib.Path
) -> None:
    received = tmp_path / "received.jsonl"
    log = tmp_path / "subscriber.log"
    with open(log, "wb") as output:
        subscriber = subprocess.Popen(
            [sys.executable, str(APP), amqp_url, str(received)], stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: "subscribed" in log.read_text(), timeout_s=30, what="the nameko subscriber")
        start = now_us() - 300_000_000
        for n in range(6):  # one answered of six: ASR 16.67 %
            pipeline.post_call(answered=n == 0, start_us=start + n * 20_000_000)
        alarm = alerting_pb2.Alarm(
            name="ASR collapse",
            metric="asr",
            scope=alerting_pb2.AlarmScope(kind="switch", value="fs1"),
            window="last_15m",
            condition="lt",
            threshold=20,
            min_attempts=6,  # fires only once all six calls are rolled up
            enabled=True,
        )
        created = pipeline.alerting.CreateAlarm(alerting_pb2.SaveAlarmRequest(scope=ADMIN, alarm=alarm), timeout=10)
        try:
            wait_for(lambda: received.exists() and received.read_text(), timeout_s=45, what="alarm_triggered")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()}\n{pipeline.logs()}") from None
        (line,) = received.read_text().splitlines()
        event = json.loads(line)
        assert event["schema"] == "cdrstats.alarm_triggered.v1" and event["source"] == "alerting"
        assert event["data"]["alarm"]["id"] == created.id
        assert event["data"]["scope"] == {"kind": "switch", "value": "fs1"}
        assert event["data"]["value"] == pytest.approx(100 / 6)
        assert event["data"]["attempts"] == 6
    finally:
        subscriber.terminate()
        assert subscriber.wait(timeout=30) == 0, log.read_text()
