"""`cdrstats reporting rebuild` guards: it needs ingest's address and refuses while the worker runs."""

from __future__ import annotations

import pathlib

import pytest

from cdrstats_cli.main import main as cli_main
from cdrstats_reporting.store import open_store


def test_rebuild_refuses_without_ingest_or_with_a_live_worker(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/reporting.db"
    monkeypatch.setenv("CDRSTATS_REPORTING_STORE_URL", url)
    monkeypatch.delenv("INGEST_GRPC_ADDR", raising=False)
    assert cli_main(["reporting", "rebuild"]) == 2
    assert "INGEST_GRPC_ADDR: required" in capsys.readouterr().err

    store = open_store(url)
    store.apply_batch("e1", [])
    store.beat()  # the worker is alive
    store.close()
    monkeypatch.setenv("INGEST_GRPC_ADDR", "127.0.0.1:1")
    assert cli_main(["reporting", "rebuild"]) == 1
    assert "the reporting worker is running" in capsys.readouterr().err
    assert open_store(url).status() == (0, 1)  # nothing was wiped

    assert cli_main(["reporting", "frobnicate"]) == 2
