"""The rendered NetworkPolicies, evaluated as a cluster would: who can open which port on whom.

A connection is allowed when the source's egress AND the destination's ingress allow it
(a pod no policy of a direction selects is open in that direction). Peers are in-cluster
pods (podSelector, with or without a namespaceSelector) or addresses outside the cluster
(ipBlock). The expected graph comes from DESIGN.md section 2 ("talks to") and from the code:
MongoDB only for services that have a MongoDB adapter, RabbitMQ only for the workers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest
from deploy_facts import (
    APP_PROCESSES,
    OVERLAYS,
    WORKERS,
    containers,
    has_mongo_adapter,
    matches,
    objects,
    pod_labels,
    pod_spec,
    render,
    service_of,
    workloads,
)

# gRPC calls between processes (DESIGN.md section 2): caller -> api
GRPC_CALLS = {
    ("gateway", "ingest-api"),
    ("gateway", "reporting-api"),
    ("gateway", "alerting-api"),
    ("gateway", "notify-api"),
    ("reporting-api", "ingest-api"),
    ("reporting-worker", "ingest-api"),
    ("alerting-api", "reporting-api"),
    ("alerting-worker", "reporting-api"),
    ("notify-api", "ingest-api"),
    ("notify-api", "reporting-api"),
    ("notify-worker", "ingest-api"),
    ("notify-worker", "reporting-api"),
}
MONGODB_CLIENTS = {p for p in APP_PROCESSES if has_mongo_adapter(service_of(p))}
RABBITMQ_CLIENTS = set(WORKERS)


@dataclass(frozen=True)
class Endpoint:
    """A pod (labels + namespace labels) or, with ``external``, an address outside the cluster."""

    labels: dict[str, str] = field(default_factory=dict)
    namespace: dict[str, str] = field(default_factory=dict)
    external: bool = False


INTERNET = Endpoint(external=True)
INGRESS_CONTROLLER = Endpoint(
    {"app.kubernetes.io/name": "ingress-nginx"}, {"kubernetes.io/metadata.name": "ingress-nginx"}
)
PROMETHEUS = Endpoint(
    {"app.kubernetes.io/name": "prometheus"},
    {"kubernetes.io/metadata.name": "monitoring", "cdrstats.io/metrics-scraper": "true"},
)
KUBE_DNS = Endpoint({"k8s-app": "kube-dns"}, {"kubernetes.io/metadata.name": "kube-system"})


def _ports_match(rule_ports: list[dict[str, Any]], port: int, protocol: str) -> bool:
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != protocol:
            continue
        if "port" not in p:
            return True
        assert isinstance(p["port"], int), "named ports in policies are not modelled here"
        if p["port"] <= port <= p.get("endPort", p["port"]):
            return True
    return False


def _peer_matches(peer: dict[str, Any], other: Endpoint, own_namespace: dict[str, str]) -> bool:
    if "ipBlock" in peer:
        return other.external  # 0.0.0.0/0 style blocks; cluster pod IPs are not relied upon
    if other.external:
        return False
    ns_ok = (
        matches(peer["namespaceSelector"], other.namespace)
        if "namespaceSelector" in peer
        else other.namespace == own_namespace
    )
    return ns_ok and matches(peer.get("podSelector", {}), other.labels)


class Policies:
    def __init__(self, overlay: str) -> None:
        (ns,) = objects(overlay, "Namespace").values()
        self.namespace = {**ns["metadata"].get("labels", {}), "kubernetes.io/metadata.name": ns["metadata"]["name"]}
        self.policies = [p["spec"] for p in objects(overlay, "NetworkPolicy").values()]
        self.pods = {o["metadata"]["name"]: Endpoint(pod_labels(o), self.namespace) for o in workloads(overlay)}
        self.ports = {
            o["metadata"]["name"]: {p["containerPort"] for c in containers(pod_spec(o)) for p in c.get("ports", [])}
            for o in workloads(overlay)
        }

    def _allows(self, direction: str, pod: Endpoint, other: Endpoint, port: int, protocol: str) -> bool:
        rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        selecting = [
            p for p in self.policies if direction in p["policyTypes"] and matches(p["podSelector"], pod.labels)
        ]
        if not selecting:
            return True
        for pol in selecting:
            for rule in pol.get(rules_key, []):
                if not _ports_match(rule.get("ports", []), port, protocol):
                    continue
                peers = rule.get(peers_key)
                if not peers or any(_peer_matches(peer, other, self.namespace) for peer in peers):
                    return True
        return False

    def can(self, src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> bool:
        """Our policies only govern our pods: the far end of an outside peer is not checked."""
        ours_src = src.namespace == self.namespace and not src.external
        ours_dst = dst.namespace == self.namespace and not dst.external
        egress = self._allows("Egress", src, dst, port, protocol) if ours_src else True
        ingress = self._allows("Ingress", dst, src, port, protocol) if ours_dst else True
        return egress and ingress


@pytest.fixture(scope="module", params=OVERLAYS)
def net(request: pytest.FixtureRequest) -> Policies:
    return Policies(request.param)


def test_every_pod_is_default_deny(net: Policies) -> None:
    deny = [p for p in net.policies if p["podSelector"] == {} and set(p["policyTypes"]) == {"Ingress", "Egress"}]
    assert deny and all(not p.get("ingress") and not p.get("egress") for p in deny)


def test_pod_to_pod_traffic_is_exactly_the_designed_graph(net: Policies) -> None:
    expected = {(a, b, 50051) for a, b in GRPC_CALLS}
    if "mongodb" in net.pods:
        expected |= {(c, "mongodb", 27017) for c in MONGODB_CLIENTS} | {("mongodb", "mongodb", 27017)}
    if "rabbitmq" in net.pods:
        expected |= {(c, "rabbitmq", 5672) for c in RABBITMQ_CLIENTS}
    actual = {
        (src, dst, port)
        for (src, s), (dst, d) in itertools.product(net.pods.items(), repeat=2)
        for port in net.ports[dst]
        if net.can(s, d, port)
    }
    assert actual - expected == set(), f"allowed but not designed: {sorted(actual - expected)}"
    assert expected - actual == set(), f"designed but blocked: {sorted(expected - actual)}"


def test_traffic_from_outside_reaches_only_the_public_and_admin_ports(net: Policies) -> None:
    for name, pod in net.pods.items():
        for port in net.ports[name]:
            public = (name, port) in {("gateway", 8080), ("ingest-api", 8081)}
            scrape = port == 9090 or (name, port) == ("rabbitmq", 15692)
            assert net.can(INGRESS_CONTROLLER, pod, port) == public, (name, port)
            assert net.can(INTERNET, pod, port) == public, (name, port)
            assert net.can(PROMETHEUS, pod, port) == (public or scrape), (name, port)


def test_every_pod_resolves_names(net: Policies) -> None:
    for name, pod in net.pods.items():
        for protocol in ("UDP", "TCP"):
            assert net.can(pod, KUBE_DNS, 53, protocol), f"{name}: DNS over {protocol}"
        assert not net.can(pod, KUBE_DNS, 8080), f"{name}: more than DNS to kube-dns"


def test_egress_out_of_the_cluster(net: Policies) -> None:
    pods = net.pods
    assert net.can(pods["notify-worker"], INTERNET, 587) and net.can(pods["notify-worker"], INTERNET, 443), (
        "mail, webhooks"
    )
    for port in (3306, 5432, 8021):
        assert net.can(pods["ingest-worker"], INTERNET, port), f"pull connectors: {port}"
    for name in ("gateway", "reporting-api", "alerting-worker", "ingest-api"):
        for port in (25, 443, 3306, 5432):
            assert not net.can(pods[name], INTERNET, port), f"{name} -> internet:{port}"
    collector = Endpoint({"app": "otel-collector"}, {"kubernetes.io/metadata.name": "observability"})
    for name in APP_PROCESSES:
        assert net.can(pods[name], collector, 4317), f"{name}: OTLP"


def test_prod_reaches_the_external_stores() -> None:
    net = Policies("prod")
    assert "mongodb" not in net.pods and "rabbitmq" not in net.pods
    for name, pod in net.pods.items():
        assert net.can(pod, INTERNET, 27017) == (name in MONGODB_CLIENTS or name == "ingest-worker"), name
        for port in (5671, 5672):
            assert net.can(pod, INTERNET, port) == (name in RABBITMQ_CLIENTS), (name, port)


def test_dev_has_no_external_store_egress() -> None:
    net = Policies("dev")
    for name in ("reporting-api", "reporting-worker"):
        assert not net.can(net.pods[name], INTERNET, 27017), name
    assert "Namespace" in {o["kind"] for o in render("dev")}
