"""`cdrstats run` configuration: generated secrets are kept with the data, the environment wins."""

from __future__ import annotations

import pathlib
import stat

from cdrstats_cli import demo
from cdrstats_cli.config import RunConfig, load_secrets
from cdrstats_cli.supervisor import process_specs
from cdrstats_common import metrics


def test_secrets_are_generated_once_and_kept(tmp_path: pathlib.Path) -> None:
    first = load_secrets(tmp_path, {})
    again = load_secrets(tmp_path, {})
    assert first == again and len(first.admin_password) >= 12 and first.admin_password != first.demo_switch_key
    assert stat.S_IMODE((tmp_path / "secrets.json").stat().st_mode) == 0o600
    chosen = load_secrets(tmp_path, {"CDRSTATS_ADMIN_PASSWORD": "operator-choice"})
    assert chosen.admin_password == "operator-choice" and chosen.demo_switch_key == first.demo_switch_key


def test_ports_and_data_dir_move_a_run(tmp_path: pathlib.Path) -> None:
    config = RunConfig.from_env(
        {"CDRSTATS_DATA_DIR": str(tmp_path), "CDRSTATS_HTTP_PORT": "9080", "CDRSTATS_GRPC_PORT_BASE": "61000"}
    )
    specs = {spec.name: spec for spec in process_specs(config, load_secrets(tmp_path, {}))}
    assert sorted(specs) == sorted(
        [f"{s}-{kind}" for s in ("ingest", "reporting", "alerting", "notify") for kind in ("api", "worker")]
        + ["gateway"]
    )
    assert specs["reporting-api"].env["CDRSTATS_GRPC_LISTEN"] == "127.0.0.1:61001"
    assert specs["gateway"].env["REPORTING_GRPC_ADDR"] == "127.0.0.1:61001"
    assert specs["gateway"].env["CDRSTATS_HTTP_PORT"] == "9080"
    assert all(spec.env["CDRSTATS_DATA_DIR"] == str(tmp_path) for spec in specs.values())


def test_demo_data_is_plausible() -> None:
    now_us = 1_764_000_000_000_000
    cdrs = demo.generate(now_us, calls=5000)
    totals = metrics.Totals()
    for cdr in cdrs:
        totals.add_cdr(cdr)
        assert now_us - 30 * demo.DAY_US <= cdr["start_time_us"] < now_us
        assert cdr["start_time_us"] <= cdr["end_time_us"] < now_us, "a CDR arrives after its call ended"
        assert cdr["duration_ms"] == (cdr["end_time_us"] - cdr["start_time_us"]) // 1000
        assert cdr["answered"] == (cdr["answer_time_us"] > 0)
    assert 50 < totals.asr < 65 and 30 < totals.acd < 300
    assert len({c["switch_id"] for c in cdrs}) == len(demo.SWITCHES)
    assert len({c["accountcode"] for c in cdrs}) >= 5
    assert len({c["destination_number"][:4] for c in cdrs}) >= 10
    last_day = [c for c in cdrs if c["start_time_us"] >= now_us - demo.DAY_US]
    assert len(last_day) > 100, "the dashboard's 24 hours are populated"


def test_demo_freeswitch_documents_normalise_back_to_their_cdrs() -> None:
    """The documents the demo (and the e2e test) POST are real mod_json_cdr shape: ingest reads them back exactly."""
    import json

    from cdrstats_ingest.domain import freeswitch_json
    from cdrstats_ingest.domain.switch import SwitchConfig

    switch = SwitchConfig(id="demo")
    fields = ["uuid", "call_id", "direction", "caller_id_number", "destination_number", "accountcode"]
    fields += ["start_time_us", "answer_time_us", "end_time_us", "duration_ms", "billsec_ms", "pdd_ms", "answered"]
    fields += ["disposition", "hangup_cause", "sip_code", "read_codec", "write_codec", "mos"]
    for cdr in demo.generate(1_764_000_000_000_000, calls=300):
        cdr = {**cdr, "switch_id": "demo"}
        for encode in (True, False):
            document = json.loads(json.dumps(demo.freeswitch_json_document(cdr, encode_values=encode)))
            parsed = freeswitch_json.normalise(document, switch)
            assert {f: parsed[f] for f in fields} == {f: cdr[f] for f in fields}
