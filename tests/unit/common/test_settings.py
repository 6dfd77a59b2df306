"""Settings are read once and every problem is reported at once."""

from __future__ import annotations

import pytest

from cdrstats_common.settings import EnvReader, SettingsError, default_store_url, sqlite_path
from cdrstats_ingest.settings import IngestSettings


def test_every_problem_is_reported_in_one_error() -> None:
    environ = {
        "CDRSTATS_GRPC_LISTEN": "no-port",
        "CDRSTATS_INGEST_HTTP_PORT": "eighty",
        "CDRSTATS_INGEST_STORE_URL": "postgres://x",
        "CDRSTATS_INGEST_MAX_BODY_BYTES": "10",
    }
    with pytest.raises(SettingsError) as caught:
        IngestSettings.from_env(environ)
    problems = caught.value.problems
    assert len(problems) == 4
    for name in environ:
        assert any(p.startswith(name) for p in problems), name
    assert "'eighty'" in str(caught.value)


def test_defaults_when_unset(tmp_path: pytest.TempPathFactory) -> None:
    settings = IngestSettings.from_env({"CDRSTATS_DATA_DIR": str(tmp_path)})
    assert settings.grpc_listen == "127.0.0.1:50051"
    assert settings.http_port == 8081
    assert sqlite_path(settings.store_url) == tmp_path / "ingest.db"  # type: ignore[operator]


def test_typed_readers() -> None:
    env = EnvReader({"A": "yes", "B": "maybe", "C": "2.5", "D": "Europe/Paris", "E": "Mars/Olympus", "F": "x"})
    assert env.bool("A", False) is True
    assert env.bool("B", False) is False
    assert env.float("C", 1.0) == 2.5
    assert env.time_zone("D") == "Europe/Paris"
    env.time_zone("E")
    env.choice("F", "a", ("a", "b"))
    env.str("MISSING")
    assert [p.split(":")[0] for p in env.problems] == ["B", "E", "F", "MISSING"]
    with pytest.raises(SettingsError):
        env.finish()


def test_store_url_default_follows_the_data_dir() -> None:
    env = EnvReader({"CDRSTATS_DATA_DIR": "/srv/cdr"})
    assert default_store_url(env, "reporting") == "sqlite:////srv/cdr/reporting.db"
    env = EnvReader({"CDRSTATS_REPORTING_STORE_URL": "mongodb://db/reporting"})
    assert default_store_url(env, "reporting") == "mongodb://db/reporting"
