"""What the services publish matches the JSON Schemas in docs/events.md."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import jsonschema
import pytest

from cdrstats_cli import demo
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.push import PushReceiver
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import open_store

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "events.md"


def schemas() -> dict[str, dict[str, Any]]:
    blocks = re.findall(r"```json schema=(\S+)\n(.*?)\n```", DOC.read_text(), flags=re.S)
    return {name: json.loads(body) for name, body in blocks}


def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = schemas()[name]
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_cdrs_ingested_bodies_match_their_schema(tmp_path: pathlib.Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/ingest.db")
    service = IngestService(store)
    switch = SwitchConfig(id="demo", home_country="US")
    cdrs = demo.generate(1_764_000_000_000_000, days=1, calls=1500, seed=3)
    results = service.submit(switch, cdrs)
    assert all(r.status == "accepted" for r in results)
    posted = demo.freeswitch_json_document(cdrs[0] | {"uuid": "posted-leg"})
    PushReceiver(store).receive_freeswitch(
        switch, json.dumps(posted).encode(), fmt="json", content_type="application/json"
    )
    bodies = [json.loads(row["body"]) for row in store.conn.execute("SELECT body FROM outbox ORDER BY seq")]  # type: ignore[attr-defined]
    assert [len(b["data"]["cdrs"]) for b in bodies] == [1000, 500, 1]
    check = validator("cdrstats.cdrs_ingested.v1")
    for body in bodies:
        check.validate(body)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema",), "cdrstats.other.v1"),
        (("data", "cdrs", 0, "direction"), "sideways"),
        (("data", "cdrs", 0, "start_time_us"), "yesterday"),
        (("data", "cdrs", 0, "extra"), {"n": 1}),
    ],
)
def test_the_schema_refuses_wrong_bodies(tmp_path: pathlib.Path, path: tuple[Any, ...], value: Any) -> None:
    store = open_store(f"sqlite:///{tmp_path}/ingest.db")
    IngestService(store).submit(SwitchConfig(id="demo"), demo.generate(1_764_000_000_000_000, days=1, calls=2))
    body = json.loads(store.conn.execute("SELECT body FROM outbox").fetchone()["body"])  # type: ignore[attr-defined]
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        validator("cdrstats.cdrs_ingested.v1").validate(body)


def _call_state_bodies(tmp_path: pathlib.Path) -> list[dict[str, Any]]:
    """call_state bodies as ingest writes them for a POST of the three states (one without optional fields)."""
    store = open_store(f"sqlite:///{tmp_path}/ingest.db")
    switch = SwitchConfig(id="demo", home_country="GB")
    events = [
        {"event": "started", "uuid": "leg-1", "time": "2024-05-01T10:00:00Z", "caller_id_number": "1001",
         "destination_number": "02079460958", "accountcode": "acme", "direction": "outbound"},
        {"event": "answered", "uuid": "leg-1", "time": 1714557604502117},
        {"event": "ended", "uuid": "leg-2", "caller_id_number": "1001", "destination_number": "1002"},
    ]  # fmt: skip
    outcome = PushReceiver(store).receive_call_states(switch, json.dumps(events).encode())
    assert (outcome.accepted, outcome.rejected) == (3, [])
    rows = store.conn.execute("SELECT body FROM outbox WHERE event_type = 'call_state' ORDER BY seq")  # type: ignore[attr-defined]
    return [json.loads(row["body"]) for row in rows]


def test_call_state_bodies_match_their_schema(tmp_path: pathlib.Path) -> None:
    bodies = _call_state_bodies(tmp_path)
    assert [(b["data"]["event"], b["data"]["direction"]) for b in bodies] == [
        ("started", "outbound"),
        ("answered", ""),
        ("ended", "internal"),
    ]
    assert bodies[0]["data"]["destination_e164"] == "+442079460958"
    check = validator("cdrstats.call_state.v1")
    for body in bodies:
        check.validate(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [("event", "ringing"), ("time_us", "2024-05-01"), ("direction", "unknown"), ("country", "gb"), ("extra", {})],
)
def test_the_call_state_schema_refuses_wrong_bodies(tmp_path: pathlib.Path, field: str, value: Any) -> None:
    body = _call_state_bodies(tmp_path)[0]
    body["data"][field] = value
    with pytest.raises(jsonschema.ValidationError):
        validator("cdrstats.call_state.v1").validate(body)
