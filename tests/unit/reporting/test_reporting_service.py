"""Scope rules, event validation and settings of the reporting service."""

from __future__ import annotations

import pathlib

import pytest

from cdrstats_common.cdr import new_cdr
from cdrstats_common.events import make_envelope
from cdrstats_common.settings import SettingsError
from cdrstats_reporting.domain.errors import InvalidArgument, PermissionDenied
from cdrstats_reporting.domain.rollup import HOUR_US
from cdrstats_reporting.service import ReportingService, scoped_accountcodes
from cdrstats_reporting.settings import ReportingSettings
from cdrstats_reporting.store.sqlite import SqliteRollupStore

NOW_US = 1_760_000_000_000_000


@pytest.fixture
def service(tmp_path: pathlib.Path) -> ReportingService:
    store = SqliteRollupStore.open(tmp_path / "reporting.db")
    return ReportingService(store, clock=lambda: NOW_US)


def test_customers_must_name_their_account_codes() -> None:
    assert scoped_accountcodes(True, []) is None
    assert scoped_accountcodes(True, ["a1"]) is None
    assert scoped_accountcodes(False, ["b", "a", "b", ""]) == ["a", "b"]
    with pytest.raises(PermissionDenied):
        scoped_accountcodes(False, [])
    with pytest.raises(PermissionDenied):
        scoped_accountcodes(False, [""])


def test_dashboard_is_scoped_and_uses_the_clock(service: ReportingService) -> None:
    cdrs = [
        new_cdr(switch_id="sw1", accountcode="a1", start_time_us=NOW_US - HOUR_US, billsec_ms=60_000, answer_time_us=1),
        new_cdr(switch_id="sw2", accountcode="a2", start_time_us=NOW_US),
    ]
    assert service.apply_cdrs_event(make_envelope("cdrs_ingested", "ingest", {"cdrs": cdrs}))
    assert service.dashboard(True, [], None, 0).totals.attempts == 2
    assert service.dashboard(False, ["a1"], None, 0).totals.attempts == 1
    assert service.dashboard(False, ["a1"], None, 0).totals.answered == 1
    assert service.dashboard(True, [], "sw2", 0).totals.attempts == 1
    assert service.dashboard(False, ["a1"], "sw2", 0).totals.attempts == 0
    assert service.dashboard(True, [], None, NOW_US + 30 * HOUR_US).totals.attempts == 0
    with pytest.raises(PermissionDenied):
        service.dashboard(False, [], None, 0)
    with pytest.raises(InvalidArgument):
        service.dashboard(True, [], None, -1)


@pytest.mark.parametrize(
    "envelope",
    [
        {"schema": "cdrstats.cdrs_ingested.v1", "data": {"cdrs": []}},
        {"schema": "cdrstats.cdrs_ingested.v1", "id": "", "data": {"cdrs": []}},
        {"schema": "cdrstats.call_state.v1", "id": "e1", "data": {"cdrs": []}},
        {"schema": "cdrstats.cdrs_ingested.v1", "id": "e1", "data": {}},
        {"schema": "cdrstats.cdrs_ingested.v1", "id": "e1", "data": {"cdrs": [1]}},
    ],
)
def test_malformed_events_are_rejected(service: ReportingService, envelope: dict[str, object]) -> None:
    with pytest.raises(InvalidArgument):
        service.apply_cdrs_event(envelope)
    assert service.status() == (0, 0)


def test_settings_defaults_and_errors(tmp_path: pathlib.Path) -> None:
    settings = ReportingSettings.from_env({"CDRSTATS_DATA_DIR": str(tmp_path)})
    assert settings.store_url == f"sqlite:///{tmp_path}/reporting.db"
    assert settings.grpc_listen == "127.0.0.1:50052"
    assert settings.time_zone == "UTC"
    assert settings.log_level == "INFO"
    with pytest.raises(SettingsError) as excinfo:
        ReportingSettings.from_env(
            {
                "CDRSTATS_REPORTING_STORE_URL": "postgres://x",
                "CDRSTATS_GRPC_LISTEN": "nope",
                "CDRSTATS_TIME_ZONE": "Mars/Base",
                "CDRSTATS_LOG_LEVEL": "loud",
            }
        )
    assert len(excinfo.value.problems) == 4
