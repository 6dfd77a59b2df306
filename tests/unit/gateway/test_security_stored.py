"""What the stores keep of a secret, read back from the raw SQLite files and the (mongomock) documents.

User passwords (argon2id), API tokens and session ids (SHA-256) and switch push keys (argon2id)
must not be in the store as given. Pull-connector passwords must stay usable to connect, so
ingest keeps them as given: those files are owner-only (0600), and the API never returns them.
"""

from __future__ import annotations

import json
import pathlib
import stat
from collections.abc import Iterator
from typing import Any

import mongomock
import pytest

from cdrstats_common.sqlite import connect
from cdrstats_common.testing import patch_mongomock_bulk_write
from cdrstats_gateway import passwords
from cdrstats_gateway.store import open_store
from cdrstats_gateway.store.mongo import MongoGatewayStore
from cdrstats_ingest.domain.switch import ConnectorSettings, SwitchConfig
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import open_store as open_ingest_store
from cdrstats_ingest.store.mongo import MongoCdrStore

USER_PASSWORD = "user-password-Quartz-7781"
PUSH_KEY = "push-key-Walrus-4417"
DSN_PASSWORD = "dsn-password-Heron-2290"
CONNECTOR_PASSWORD = "connector-password-Lynx-5532"


def sqlite_bytes(path: pathlib.Path) -> bytes:
    """The database file and its WAL, as anyone who can read the files sees them."""
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def mongo_dump(database: Any) -> bytes:
    docs = {name: list(database[name].find()) for name in database.list_collection_names()}
    return json.dumps(docs, default=str).encode()


@pytest.fixture
def mongo_database(monkeypatch: pytest.MonkeyPatch) -> Any:
    patch_mongomock_bulk_write(monkeypatch)
    return mongomock.MongoClient()["security_test"]


@pytest.fixture(params=["sqlite", "mongo"])
def gateway_store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[tuple[Any, Any]]:
    """(store, dump()) for each adapter."""
    if request.param == "sqlite":
        store = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
        yield store, lambda: sqlite_bytes(tmp_path / "gateway.db")
    else:
        database = request.getfixturevalue("mongo_database")
        store = MongoGatewayStore(database)
        yield store, lambda: mongo_dump(database)
    store.close()


def test_gateway_keeps_only_hashes_of_passwords_tokens_and_session_ids(gateway_store: tuple[Any, Any]) -> None:
    store, dump = gateway_store
    user = store.create_user("secretive", USER_PASSWORD, "admin")
    token, _ = store.create_api_token(user.id, "ci")
    session_id, _ = store.create_session(user.id, 600)
    raw = dump()
    for secret in (USER_PASSWORD, token, session_id):
        assert secret.encode() not in raw, f"{secret[:6]}... is stored as given"
    # positive controls: the dump holds the records, in their hashed forms, and they still work
    assert b"$argon2id$" in raw
    assert passwords.token_hash(token).encode() in raw and passwords.token_hash(session_id).encode() in raw
    assert store.authenticate("secretive", USER_PASSWORD) is not None
    assert store.user_for_api_token(token) is not None and store.get_session(session_id) is not None


@pytest.fixture(params=["sqlite", "mongo"])
def ingest(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[tuple[IngestService, Any]]:
    if request.param == "sqlite":
        store: Any = open_ingest_store(f"sqlite:///{tmp_path / 'ingest.db'}")
        yield IngestService(store), lambda: sqlite_bytes(tmp_path / "ingest.db")
    else:
        database = request.getfixturevalue("mongo_database")
        store = MongoCdrStore(database)
        yield IngestService(store), lambda: mongo_dump(database)
    store.close()


def test_switch_push_keys_are_hashed_and_connector_passwords_kept_usable(ingest: tuple[IngestService, Any]) -> None:
    service, dump = ingest
    connector = ConnectorSettings(
        type="kamailio_acc", dsn=f"postgresql://kam:{DSN_PASSWORD}@127.0.0.1/kamailio", password=CONNECTOR_PASSWORD
    )
    service.upsert_switch(SwitchConfig(id="sw9", username="sw9", connector=connector), PUSH_KEY)
    raw = dump()
    assert PUSH_KEY.encode() not in raw, "the push key is stored as given"
    assert b"$argon2id$" in raw
    assert service.authenticate("sw9", PUSH_KEY).id == "sw9"
    # what the connector needs to log in to the switch's database is still there, as given
    stored = service.store.get_switch("sw9")
    assert stored is not None
    assert (stored.config.connector.password, stored.config.connector.dsn) == (CONNECTOR_PASSWORD, connector.dsn)


def test_sqlite_store_files_are_owner_only(tmp_path: pathlib.Path) -> None:
    """New files are 0600 (the WAL too); an existing world-readable file loses its group/other bits on open."""
    path = tmp_path / "ingest.db"
    store = open_ingest_store(f"sqlite:///{path}")
    service = IngestService(store)
    connector = ConnectorSettings(type="asterisk_db", dsn="mysql://root@127.0.0.1/asterisk", password="x" * 12)
    service.upsert_switch(SwitchConfig(id="sw8", connector=connector))
    for file in (path, path.with_name("ingest.db-wal")):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    store.close()
    legacy = tmp_path / "legacy.db"
    legacy.write_bytes(b"")
    legacy.chmod(0o644)
    connect(legacy).close()
    assert stat.S_IMODE(legacy.stat().st_mode) == 0o600
    read_only = tmp_path / "read-only.db"
    connect(read_only).close()
    read_only.chmod(0o444)
    connect(read_only, read_only=True).close()
    assert stat.S_IMODE(read_only.stat().st_mode) == 0o444, "a read-only open changes nothing"
