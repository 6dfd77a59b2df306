"""The public ingest URL shown in switch set-up snippets."""

from __future__ import annotations

import pathlib

import pytest

from cdrstats_common.settings import SettingsError
from cdrstats_ingest.settings import IngestSettings


def test_public_url_defaults_to_the_local_receiver(tmp_path: pathlib.Path) -> None:
    assert IngestSettings.from_env({"CDRSTATS_DATA_DIR": str(tmp_path)}).public_url == "http://127.0.0.1:8081"


def test_public_url_loses_its_trailing_slash(tmp_path: pathlib.Path) -> None:
    environ = {"CDRSTATS_DATA_DIR": str(tmp_path), "CDRSTATS_INGEST_PUBLIC_URL": "https://cdr.example.net/"}
    assert IngestSettings.from_env(environ).public_url == "https://cdr.example.net"


def test_public_url_must_be_http(tmp_path: pathlib.Path) -> None:
    environ = {"CDRSTATS_DATA_DIR": str(tmp_path), "CDRSTATS_INGEST_PUBLIC_URL": "cdr.example.net:8081"}
    with pytest.raises(SettingsError) as caught:
        IngestSettings.from_env(environ)
    assert caught.value.problems == [
        "CDRSTATS_INGEST_PUBLIC_URL: expected an http(s):// URL, got 'cdr.example.net:8081'"
    ]
