"""scripts/audit_deps.py against a stand-in PyPI on 127.0.0.1: what counts as audited, found, ignored, unknown."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import ModuleType
from typing import Any

import pytest

from cdrstats_common.testing import free_port

SCRIPT = pathlib.Path(__file__).resolve().parents[3] / "scripts" / "audit_deps.py"
#: name -> (latest version, advisories of the latest version)
PROJECTS = {"fresh": ("1.0", []), "old": ("2.0", []), "bad": ("3.1", ["GHSA-test-0001"])}


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_deps", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class FakePyPI(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        name = self.path.split("/")[2]
        if name not in PROJECTS:
            self.send_error(404)
            return
        latest, advisories = PROJECTS[name]
        body = json.dumps({"info": {"version": latest}, "vulnerabilities": [{"id": a} for a in advisories]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def pypi() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), FakePyPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def files(tmp_path: pathlib.Path, ignore: str) -> list[str]:
    (tmp_path / "constraints.txt").write_text("# pins\nfresh==1.0\nold==1.5\nbad==3.1\n")
    (tmp_path / "ignore.txt").write_text(ignore)
    (tmp_path / "package.json").write_text('{"dependencies": {}}')
    names = ("constraints", "ignore-file", "package-json")
    paths = ("constraints.txt", "ignore.txt", "package.json")
    return [arg for n, p in zip(names, paths, strict=True) for arg in (f"--{n}", str(tmp_path / p))]


def test_a_known_vulnerability_fails_the_audit_until_ignored_with_a_reason(
    pypi: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = load_script()
    common = ["--no-pip-audit", "--no-cache", "--pypi-url", pypi]
    assert audit.main([*files(tmp_path, ""), *common]) == 1
    out, err = capsys.readouterr()
    assert "VULNERABLE: bad 3.1: GHSA-test-0001" in err
    assert "not audited: pinned 1.5, latest 2.0" in out
    assert "audited 2 of 3 packages; not audited 1; known vulnerabilities 1" in out
    ignore = "# accepted\nGHSA-test-0001 not reachable: we never call bad.parse()\n"
    assert audit.main([*files(tmp_path, ignore), *common]) == 0
    out, _ = capsys.readouterr()
    assert "GHSA-test-0001 (ignored: not reachable: we never call bad.parse())" in out
    with pytest.raises(SystemExit, match="give the reason"):
        audit.main([*files(tmp_path, "GHSA-test-0001\n"), *common])


def test_an_unreachable_service_warns_loudly_and_passes(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = load_script()
    closed = f"http://127.0.0.1:{free_port()}"
    assert audit.main([*files(tmp_path, ""), "--no-pip-audit", "--no-cache", "--pypi-url", closed]) == 0
    out, err = capsys.readouterr()
    assert "NOTHING WAS AUDITED" in err
    assert "audited 0 of 3 packages" in out and out.count("PyPI unreachable") == 3
