"""The timer's alarm flow end to end on the real SQLite store: OK → FIRING → OK with cooldown, min attempts,
reporting errors, CIC from ingested CDRs; every alarm_triggered / alarm_cleared body in the outbox
validates against its JSON Schema in docs/events.md and carries what the issue asks for."""

from __future__ import annotations

import copy
import datetime as dt
import json
import pathlib
import re
from typing import Any

import jsonschema
import pytest

from cdrstats_alerting.alarms_service import AlarmsService
from cdrstats_alerting.domain.alarms import Alarm, AlarmScope
from cdrstats_alerting.domain.errors import Caller
from cdrstats_alerting.metric_client import ReportingMetricSource
from cdrstats_alerting.metric_source import CdrListMetricSource
from cdrstats_alerting.service import AlertingService
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import make_envelope
from cdrstats_common.testing import free_port

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "events.md"
T0 = 1_767_258_000_000_000  # 2026-01-01 09:00:00 UTC
MIN = 60_000_000
ADMIN_EMAILS = ("noc@example.com",)
HOOKS = ("https://hooks.example.com/alarms",)


def validator(name: str) -> jsonschema.Draft202012Validator:
    blocks = re.findall(r"```json schema=(\S+)\n(.*?)\n```", DOC.read_text(), flags=re.S)
    schema = {found: json.loads(body) for found, body in blocks}[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


class Clock:
    def __init__(self, now_us: int) -> None:
        self.now_us = now_us

    def __call__(self) -> float:
        return self.now_us / 1e6


def attempt(n: int, start_us: int, answered: bool, **fields: Any) -> dict[str, Any]:
    return new_cdr(
        id=f"c{n:05d}", uuid=f"u{n}", switch_id="sw1", accountcode="a1", country="GB", start_time_us=start_us,
        answer_time_us=start_us + 1 if answered else 0, billsec_ms=60_000 if answered else 0,
        end_time_us=start_us + 61_000_000, destination_e164="+442071234567", **fields,
    )  # fmt: skip


def outbox(store: AlertingStore) -> list[dict[str, Any]]:
    return [json.loads(row[0]) for row in store.conn.execute("SELECT body FROM outbox ORDER BY seq")]  # type: ignore[attr-defined]


@pytest.fixture
def store(tmp_path: pathlib.Path) -> AlertingStore:
    return open_store(f"sqlite:///{tmp_path}/alerting.db")


def validate_all(bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        validator(body["schema"]).validate(body)


def test_firing_clearing_and_cooldown_publish_valid_events(store: AlertingStore) -> None:
    clock = Clock(T0)
    source = CdrListMetricSource([attempt(n, T0 - 10 * MIN + n * MIN, n == 0) for n in range(4)])
    service = AlarmsService(store, source, public_url="https://cdr.example.com", clock=clock)
    admin = Caller(admin=True)
    alarm = service.create(
        admin,
        Alarm(name="ASR sw1", metric="asr", window="last_15m", condition="lt", threshold=50, min_attempts=3,
              cooldown_s=600, scope=AlarmScope("switch", "sw1"), emails=ADMIN_EMAILS, webhooks=HOOKS),
    )  # fmt: skip

    assert service.evaluate_due() == 1  # 1 of 4 answered: 25 % < 50 %
    [fired] = outbox(store)
    assert fired["schema"] == "cdrstats.alarm_triggered.v1" and fired["source"] == "alerting"
    [stored] = store.list_evaluations(alarm.id)
    assert fired["data"] == {
        "alarm": {"id": alarm.id, "name": "ASR sw1", "owner": "", "metric": "asr", "hangup_cause": 0,
                  "condition": "lt", "threshold": 50.0, "baseline": "", "window": "last_15m"},
        "scope": {"kind": "switch", "value": "sw1"},
        "window": {"start": "2026-01-01T08:45:00Z", "end": "2026-01-01T09:00:00Z"},
        "value": 25.0, "baseline": None, "threshold": 50.0, "attempts": 4, "evaluation_id": stored.id,
        "state": "FIRING", "message": "ASR 25 % < 50 % over the last 15 minutes for switch sw1",
        "link": "https://cdr.example.com/cdrs?from=2026-01-01T08%3A45%3A00Z&to=2026-01-01T09%3A00%3A00Z&switch=sw1",
        "recipients": {"emails": ["noc@example.com"], "webhooks": ["https://hooks.example.com/alarms"]},
    }  # fmt: skip
    assert stored.published and (stored.state_before, stored.state_after) == ("OK", "FIRING")

    clock.now_us += MIN  # still breaching: no new event
    assert service.evaluate_due() == 1 and len(outbox(store)) == 1

    source.add([attempt(10 + n, T0 + n, True) for n in range(4)])  # 5 of 8 answered
    clock.now_us += MIN
    assert service.evaluate_due() == 1
    cleared = outbox(store)[-1]
    assert cleared["schema"] == "cdrstats.alarm_cleared.v1"
    assert (cleared["data"]["state"], cleared["data"]["value"], cleared["data"]["attempts"]) == ("OK", 62.5, 8)

    source.add([attempt(20 + n, T0 + 2 * MIN + n, False) for n in range(6)])  # 5 of 14: breach again
    clock.now_us += MIN
    assert service.evaluate_due() == 1
    held = store.list_evaluations(alarm.id)[0]
    assert (held.verdict, held.state_after, held.published) == ("breach", "OK", False)
    assert "(cooldown: no new alarm before 2026-01-01T09:10:00Z)" in held.message
    assert len(outbox(store)) == 2

    clock.now_us = T0 + 10 * MIN  # cooldown over, and the window still holds a breach
    assert service.evaluate_due() == 1
    assert [b["schema"] for b in outbox(store)][-1] == "cdrstats.alarm_triggered.v1"
    validate_all(outbox(store))
    assert len(store.list_evaluations(alarm.id)) == 5


def test_insufficient_and_error_keep_the_state_and_publish_nothing(store: AlertingStore) -> None:
    clock = Clock(T0)
    source = CdrListMetricSource([attempt(n, T0 - MIN + n, False) for n in range(3)])
    service = AlarmsService(store, source, clock=clock)
    store.set_tenant("customer:1", ["a1"])
    alarm = service.create(
        Caller(admin=False, tenant="customer:1"),
        Alarm(name="ASR", metric="asr", window="last_hour", condition="lt", threshold=50, min_attempts=3),
    )
    service.evaluate_due()
    [fired] = outbox(store)
    assert fired["data"]["alarm"]["owner"] == "customer:1"
    assert fired["data"]["link"] == "/cdrs?from=2026-01-01T08%3A00%3A00Z&to=2026-01-01T09%3A00%3A00Z"
    clock.now_us += 30 * MIN + 2  # one attempt left the window: 2 < min_attempts
    source.cdrs.pop(0)
    service.evaluate_due()
    latest = store.list_evaluations(alarm.id)[0]
    assert (latest.verdict, latest.state_after) == ("insufficient", "FIRING")
    down = AlarmsService(store, ReportingMetricSource(f"127.0.0.1:{free_port()}", timeout_s=2), clock=clock)
    clock.now_us += 2 * MIN
    assert down.evaluate_due() == 1
    latest = store.list_evaluations(alarm.id)[0]
    assert (latest.verdict, latest.state_after) == ("error", "FIRING")
    assert "UNAVAILABLE" in latest.error and latest.message.startswith("ASR over the last hour: error: reporting")
    store.set_tenant("customer:1", [])  # the tenant is gone: its alarm stops matching
    clock.now_us += 2 * MIN
    service.evaluate_due()
    assert "has no account codes" in store.list_evaluations(alarm.id)[0].message
    assert len(outbox(store)) == 1
    validate_all(outbox(store))


def test_relative_and_cic_alarms_publish_valid_events(store: AlertingStore) -> None:
    clock = Clock(T0)
    previous = [attempt(n, T0 - 90 * MIN + n * MIN, True) for n in range(10)]  # 10 calls the hour before
    current = [attempt(100 + n, T0 - 30 * MIN + n * MIN, True) for n in range(4)]
    service = AlertingService(store, CdrListMetricSource(previous + current), clock=clock)
    admin = Caller(admin=True)
    relative = service.alarms.create(
        admin,
        Alarm(name="traffic drop", metric="attempts", window="last_hour", condition="falls_by_pct", threshold=50,
              baseline="previous_window", scope=AlarmScope("prefix", "44")),
    )  # fmt: skip
    cic = service.alarms.create(
        admin,
        Alarm(name="CIC GB", metric="cic", window="", condition="gt", threshold=3, scope=AlarmScope("country", "GB")),
    )
    service.apply_cdrs_event(make_envelope("cdrs_ingested", "ingest", {"cdrs": [attempt(200, T0 - 5 * MIN, True)]}))
    service.apply_cdrs_event(
        make_envelope(
            "cdrs_ingested", "ingest", {"cdrs": [attempt(201 + n, T0 - 4 * MIN + n, False) for n in range(4)]}
        )
    )
    assert service.evaluate_due() == 2
    bodies = {body["data"]["alarm"]["id"]: body for body in outbox(store)}
    drop = bodies[relative.id]["data"]
    assert (drop["value"], drop["baseline"], drop["threshold"]) == (4.0, 10.0, 50.0)
    assert drop["message"] == (
        "attempts fell by 60 % (more than 50 %): 4 against 10 in the previous window over the last hour for prefix +44"
    )
    assert drop["link"].endswith("&prefix=44")
    run = bodies[cic.id]["data"]
    assert (run["value"], run["attempts"], run["alarm"]["window"], run["baseline"]) == (4.0, 4, "", None)
    assert run["window"] == {"start": "2026-01-01T08:56:00Z", "end": "2026-01-01T09:00:00Z"}
    assert run["link"].endswith("&country=GB&answered=no")
    validate_all(list(bodies.values()))


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema",), "cdrstats.alarm_cleared.v1"),
        (("data", "state"), "OK"),
        (("data", "baseline"), "none"),
        (("data", "window", "start"), "yesterday"),
        (("data", "alarm", "metric"), "mos"),
        (("data", "scope", "kind"), "region"),
        (("data", "link"), "cdrs?from=x"),
        (("data", "recipients"), {"emails": []}),
        (("data", "extra"), 1),
    ],
)
def test_the_schema_refuses_wrong_bodies(store: AlertingStore, path: tuple[str, ...], value: Any) -> None:
    clock = Clock(T0)
    source = CdrListMetricSource([attempt(1, T0 - MIN, False)])
    service = AlarmsService(store, source, clock=clock)
    service.create(Caller(admin=True), Alarm(name="a", metric="asr", window="last_hour", condition="lt", threshold=1))
    service.evaluate_due()
    [body] = outbox(store)
    check = validator("cdrstats.alarm_triggered.v1")
    check.validate(body)
    broken = copy.deepcopy(body)
    target: Any = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        check.validate(broken)
    assert dt.datetime.fromisoformat(body["time"])  # the envelope's time is RFC 3339
