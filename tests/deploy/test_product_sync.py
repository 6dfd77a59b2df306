"""The deployment files follow the product, not a second hand-written list.

- every process `cdrstats run` starts (libs/cli supervisor) is a compose service, a Kubernetes
  Deployment in every overlay and an entrypoint name, and the entrypoint runs an importable
  module with a ``__main__`` guard, the same module the supervisor runs;
- every setting a compose service or Deployment sets is one its service actually reads
  (grepped from the service's source and the common library), or a listed pending one;
- a store URL is ``mongodb://`` exactly when that service's ``open_store`` has a MongoDB
  adapter, otherwise SQLite on a named volume (compose) or a PersistentVolumeClaim (k8s);
- every Prometheus metric defined in cdrstats_common.prom is documented in docs/operations.md.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from deploy_facts import (
    APP_PROCESSES,
    COMPOSE_FILE,
    ENTRYPOINT,
    K8S_DIR,
    OVERLAYS,
    PENDING_SETTINGS,
    ROOT,
    STORE_OWNERS,
    container_env,
    has_mongo_adapter,
    is_read,
    objects,
    pod_spec,
    service_of,
    settings_read_by,
)

from cdrstats_cli.config import RunConfig, Secrets
from cdrstats_cli.supervisor import process_specs

PROM = ROOT / "libs" / "common" / "src" / "cdrstats_common" / "prom.py"
OPERATIONS = ROOT / "docs" / "operations.md"


def _entrypoint_module(fake: Path, process: str) -> str:
    proc = subprocess.run(
        ["sh", str(ENTRYPOINT), process],
        capture_output=True,
        text=True,
        env={"CDRSTATS_PYTHON": str(fake), "PATH": "/usr/bin:/bin"},
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    argv = proc.stdout.splitlines()
    assert argv[1] == "-m", argv
    return argv[2]


def _entrypoint_names() -> set[str]:
    case = re.search(r'case "\$process" in(.*?)esac', ENTRYPOINT.read_text(), re.S)
    assert case, "entrypoint.sh: no case on $process"
    labels = re.findall(r"^\s*([a-z|-]+)\)", case.group(1), re.M)
    return {name for label in labels for name in label.split("|")}


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    data = tmp_path_factory.mktemp("run")
    config = RunConfig.from_env({"CDRSTATS_DATA_DIR": str(data)})
    specs = process_specs(config, Secrets(admin_password="x", demo_switch_key="y", secret_key="z" * 32))
    return {spec.name: spec.module for spec in specs}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_every_supervised_process_is_deployed_everywhere(supervised: dict[str, str], compose: dict[str, Any]) -> None:
    names = set(supervised)
    assert names == set(APP_PROCESSES), "tests/deploy/deploy_facts.py APP_PROCESSES is stale"
    assert _entrypoint_names() == names, "deploy/docker/entrypoint.sh"
    assert names <= set(compose["services"]), f"compose lacks {sorted(names - set(compose['services']))}"
    for overlay in OVERLAYS:
        assert set(objects(overlay, "Deployment")) == names, overlay


def test_entrypoint_runs_the_modules_the_supervisor_runs(supervised: dict[str, str], tmp_path: Path) -> None:
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "$@"\n')
    fake.chmod(0o755)
    for process, module in supervised.items():
        assert _entrypoint_module(fake, process) == module, process
        main = module if module.count(".") else f"{module}.__main__"
        spec = importlib.util.find_spec(main)
        assert spec is not None and spec.origin, f"{process}: no module {main}"
        source = Path(spec.origin).read_text()
        assert re.search(r"if __name__ == [\"']__main__[\"']", source) or main.endswith("__main__"), main


def test_pending_settings_are_still_unread() -> None:
    for name, feature in PENDING_SETTINGS.items():
        readers = [s for s in STORE_OWNERS if name in settings_read_by(s)]
        assert not readers, (
            f"{name} is read by {readers} now ({feature} landed): remove it from PENDING_SETTINGS "
            "in tests/deploy/deploy_facts.py and check the value compose and k8s give it"
        )


def _unread(names: set[str], service: str) -> list[str]:
    return sorted(n for n in names if not is_read(n, service) and n not in PENDING_SETTINGS)


def test_compose_sets_only_settings_the_process_reads(compose: dict[str, Any]) -> None:
    problems = []
    for process in APP_PROCESSES:
        env = compose["services"][process]["environment"]
        problems += [
            f"{process}: {n} is read by no code of {service_of(process)}"
            for n in _unread(set(env), service_of(process))
        ]
    assert not problems, "\n".join(problems)


def test_k8s_sets_only_settings_the_process_reads() -> None:
    problems = []
    everyone = set().union(*(settings_read_by(s) for s in STORE_OWNERS))
    for overlay in OVERLAYS:
        for name, cm in objects(overlay, "ConfigMap").items():
            if name == "cdrstats-config":  # envFrom of every process: read by at least one
                problems += [
                    f"ConfigMap {name}: {k} is read by nothing"
                    for k in cm["data"]
                    if not (k.startswith("OTEL_") or k in everyone or k in PENDING_SETTINGS)
                ]
        for name, dep in objects(overlay, "Deployment").items():
            (c,) = pod_spec(dep)["containers"]
            problems += [
                f"{overlay} {name}: {n} is read by no code of {service_of(name)}"
                for n in _unread(set(container_env(c)), service_of(name))
            ]
    assert not problems, "\n".join(problems)


def _env_example_keys(name: str) -> set[str]:
    text = (K8S_DIR / "overlays" / "prod" / name).read_text()
    return {line.split("=", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_k8s_secret_references_resolve() -> None:
    """Every secretKeyRef names a key of the dev placeholder Secret and of prod's env-file template."""
    dev_secrets = {n: set(s.get("stringData", {})) for n, s in objects("dev", "Secret").items()}
    prod_templates = {
        "cdrstats-stores": _env_example_keys("stores.env.example"),
        "cdrstats-secrets": _env_example_keys("secrets.env.example"),
    }
    for overlay, available in (("dev", dev_secrets), ("prod", prod_templates)):
        used: dict[str, set[str]] = {}
        for name, dep in objects(overlay, "Deployment").items():
            (c,) = pod_spec(dep)["containers"]
            assert all("secretRef" not in e for e in c.get("envFrom", [])), f"{name}: a whole Secret via envFrom"
            for env_name, entry in container_env(c).items():
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in available.get(ref["name"], set()), f"{overlay} {name}: {ref}"
                    assert env_name == ref["key"], f"{name}: {env_name} from {ref['key']}"
                    used.setdefault(ref["name"], set()).add(ref["key"])
        for secret, keys in prod_templates.items():
            assert used.get(secret, set()) == keys, f"{overlay}: {secret} keys used {used.get(secret)} vs {keys}"


def _store_url(env: dict[str, Any], service: str) -> str:
    return str(env[f"CDRSTATS_{service.upper()}_STORE_URL"])


def test_compose_store_urls_follow_the_adapters(compose: dict[str, Any]) -> None:
    for process in APP_PROCESSES:
        svc = compose["services"][process]
        service = service_of(process)
        url = _store_url(svc["environment"], service)
        if has_mongo_adapter(service):
            assert url == f"mongodb://mongodb:27017/cdrstats_{service}", process
            assert "mongodb" in svc["depends_on"], process
        else:
            path = re.fullmatch(r"sqlite:///(/.+)/" + service + r"\.db", url)
            assert path, f"{process}: {service} has no MongoDB adapter, expected a SQLite URL, got {url}"
            mounts = dict(reversed(v.split(":")[:2]) for v in svc.get("volumes", []))
            volume = mounts.get(path.group(1))
            assert volume in compose["volumes"], f"{process}: {path.group(1)} is not a named volume"
            assert volume == f"{service}-data", process


def test_k8s_store_urls_follow_the_adapters() -> None:
    for overlay in OVERLAYS:
        pvcs = objects(overlay, "PersistentVolumeClaim")
        for name, dep in objects(overlay, "Deployment").items():
            service = service_of(name)
            pod = pod_spec(dep)
            (c,) = pod["containers"]
            entry = container_env(c)[f"CDRSTATS_{service.upper()}_STORE_URL"]
            if has_mongo_adapter(service):
                assert entry["valueFrom"]["secretKeyRef"]["name"] == "cdrstats-stores", name
                continue
            url = entry.get("value", "")
            path = re.fullmatch(r"sqlite:///(/.+)/" + service + r"\.db", url)
            assert path, f"{overlay} {name}: {service} has no MongoDB adapter, expected SQLite, got {entry}"
            mount = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}.get(path.group(1))
            volume = {v["name"]: v for v in pod["volumes"]}[mount]
            claim = volume["persistentVolumeClaim"]["claimName"]
            assert claim in pvcs, f"{overlay} {name}: no PVC {claim}"
            # every process opening the file must run on the PVC's node (SQLite WAL, RWO volume)
            labels = dep["spec"]["template"]["metadata"]["labels"]
            terms = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            assert any(
                t["topologyKey"] == "kubernetes.io/hostname"
                and t["labelSelector"]["matchLabels"].items() <= labels.items()
                for t in terms
            ), name
    dev_stores = objects("dev", "Secret")["cdrstats-stores"]["stringData"]
    for service in STORE_OWNERS:
        key = f"CDRSTATS_{service.upper()}_STORE_URL"
        assert (key in dev_stores) == has_mongo_adapter(service), f"cdrstats-stores {key}"
        assert (key in _env_example_keys("stores.env.example")) == has_mongo_adapter(service), (
            f"stores.env.example {key}"
        )


def test_every_prometheus_metric_is_documented() -> None:
    source = PROM.read_text()
    defined = re.findall(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"(\w+)\"", source)
    assert defined, "no metric found in prom.py"
    docs = OPERATIONS.read_text()
    section = docs[docs.index("## Metrics") :]
    missing = []
    for kind, name in defined:
        exposed = f"{name}_total" if kind == "Counter" and not name.endswith("_total") else name
        if f"`{exposed}" not in section:
            missing.append(exposed)
    assert not missing, f"docs/operations.md, section Metrics, does not describe {missing}"
