"""Shared by the tests/deploy modules: rendering the kustomize overlays, selector logic, and
facts about the product read from its source (which stores have a MongoDB adapter, which
environment variables each service reads), so the deployment files are checked against the
code instead of against a second hand-written list.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = ROOT / "deploy" / "k8s"
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"

SERVICES = ("ingest", "reporting", "alerting", "notify")
APIS = tuple(f"{s}-api" for s in SERVICES)
WORKERS = tuple(f"{s}-worker" for s in SERVICES)
APP_PROCESSES = APIS + WORKERS + ("gateway",)
STORE_OWNERS = (*SERVICES, "gateway")
OVERLAYS = ("dev", "prod")
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}

# Settings the deployment files already set for a feature whose code has not landed yet.
# tests/deploy/test_product_sync.py fails once the product reads one of them: then delete it here.
PENDING_SETTINGS: dict[str, str] = {}


def service_of(process: str) -> str:
    return process.split("-")[0]


def src_dir(service: str) -> Path:
    return ROOT / "services" / service / "src" / f"cdrstats_{service}"


# --------------------------------------------------------------------------- product facts


@cache
def has_mongo_adapter(service: str) -> bool:
    """Whether ``open_store`` of the service accepts a mongodb:// URL.

    True when its store package has a MongoDB module and ``open_store`` has a mongodb branch
    that does not merely raise (a service without an adapter refuses the URL with a clear error).
    """
    store = src_dir(service) / "store"
    if not any(store.glob("mongo*.py")):
        return False
    init = (store / "__init__.py").read_text()
    branch = re.search(r"if url\.startswith\(\(?\"mongodb://\".*?(?=\n    (?:if|raise|return)\b|\Z)", init, re.S)
    return branch is not None and "raise " not in branch.group(0)


_NAME = re.compile(r"[\"']((?:CDRSTATS|OTEL|AMQP|INGEST|REPORTING|ALERTING|NOTIFY)_[A-Z0-9_]+)[\"']")
_STORE = re.compile(r"default_store_url\(\s*\w+\s*,\s*[\"'](\w+)[\"']\s*\)")


def _names_in(paths: Iterator[Path]) -> set[str]:
    names: set[str] = set()
    for path in paths:
        text = path.read_text()
        names |= set(_NAME.findall(text))
        names |= {f"CDRSTATS_{s.upper()}_STORE_URL" for s in _STORE.findall(text)}
    return names


@cache
def settings_read_by(service: str) -> frozenset[str]:
    """Environment variables a service's processes read: its own source plus the common library."""
    common = ROOT / "libs" / "common" / "src" / "cdrstats_common"
    names = _names_in(src_dir(service).rglob("*.py")) | _names_in(common.rglob("*.py"))
    return frozenset(names - {"CDRSTATS_TEST_MONGODB_URI"})


def is_read(name: str, service: str) -> bool:
    # the OpenTelemetry SDK reads the standard OTEL_* variables itself
    return name.startswith("OTEL_") or name in settings_read_by(service)


# --------------------------------------------------------------------------- kubernetes


def _kubectl() -> str:
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not installed (needed for `kubectl kustomize`)")
    return path


_RENDERED: dict[str, list[dict[str, Any]]] = {}


def render(overlay: str) -> list[dict[str, Any]]:
    if overlay not in _RENDERED:
        proc = subprocess.run(
            [_kubectl(), "kustomize", str(K8S_DIR / "overlays" / overlay)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"kustomize {overlay} failed:\n{proc.stderr}"
        docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
        assert docs, f"kustomize {overlay} rendered nothing"
        _RENDERED[overlay] = docs
    return _RENDERED[overlay]


def objects(overlay: str, kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in render(overlay) if o["kind"] == kind}


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    return obj["spec"]["template"]["metadata"]["labels"]


def workloads(overlay: str) -> Iterator[dict[str, Any]]:
    return (o for o in render(overlay) if o["kind"] in WORKLOAD_KINDS)


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Evaluate a LabelSelector (matchLabels + matchExpressions) against labels."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def container_env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The container's explicit env entries by name (value or valueFrom)."""
    return {e["name"]: e for e in container.get("env", [])}
