"""schemathesis against /api/v1/openapi.json of the whole product (`cdrstats run` with demo data).

Issue 8: no 5xx, and every answer matches the document: its status is documented, its content
type and headers are the documented ones, its body validates against the response schema.

- the demo customer runs every customer-visible operation (first, while its account codes
  are still the demo's), then an admin runs all 69 (examples, coverage and fuzzing phases);
- an admin sends every operation that takes a JSON body schema-violating data (wrong types,
  missing required and unknown fields, out-of-range numbers), which must be refused with a 4xx
  (negative_data_rejection). The operations without a body (GETs, DELETEs) stay out of the
  negative run on purpose: the API, like the pages sharing its query parsers, reads an empty
  parameter as an absent one (`?start=`), which a negative generator counts as "invalid data
  accepted".

schemathesis runs in-process through its engine (the CLI's, with all its phases): its pytest
loader depends on pytest internals that pytest 9 removed. Both callers use API tokens (no
failed-login throttling); generation is deterministic with a fixed budget, so a run sends the
same requests each time. Cases that would revoke the caller's own token or change its own user
or customer are not sent; everything else (creating, changing, deleting switches, customers,
users, alarms, lists...) is, in this module's own product.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import urllib.request
from typing import Any

import pytest
import schemathesis
from e2e_testkit import Product
from schemathesis.engine import Status, StopReason, events, from_schema

from cdrstats_common.testing import wait_for

pytestmark = pytest.mark.e2e

OPENAPI = "/api/v1/openapi.json"
CONFORMANCE = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
#: examples per operation in the fuzzing phase; the whole module stays well under 3 minutes
MAX_EXAMPLES = 25
SEED = 8
#: an export without a limit streams every demo CDR (seconds each, dozens of cases): capped here;
#: big exports are the CSV export tests' business
EXPORT, EXPORT_LIMIT = "/api/v1/cdrs/export", 200


@dataclasses.dataclass
class Caller:
    """Who a run acts as (a bearer token) and the ids it must not take away from itself."""

    token: str
    protected: dict[str, int]

    def keeps_access(self, case: schemathesis.Case) -> bool:
        target = self.protected.get(case.operation.path)
        return target is None or str((case.path_parameters or {}).get("id")) != str(target)


@dataclasses.dataclass
class Outcome:
    """What one run did: operations and cases, which operations ever answered 2xx, failed checks."""

    operations: set[str] = dataclasses.field(default_factory=set)
    cases: int = 0
    answered_2xx: set[str] = dataclasses.field(default_factory=set)
    failures: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    seconds_by_operation: dict[str, float] = dataclasses.field(default_factory=dict)
    stop: StopReason | None = None
    seconds: float = 0.0

    def report(self) -> str:
        return "\n\n".join(f"{label}: {title}\n{sample}" for (label, title), sample in sorted(self.failures.items()))


def _request(product: Product, path: str, auth: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{product.url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": auth, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _caller(product: Product, username: str, password: str) -> Caller:
    basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
    created = _request(product, "/api/v1/tokens", basic, {"name": "schemathesis"})
    me = _request(product, "/api/v1/me", basic)
    protected = {"/api/v1/tokens/{id}": created["record"]["id"], "/api/v1/users/{id}": me["id"]}
    if me["customer_id"] is not None:
        protected["/api/v1/customers/{id}"] = me["customer_id"]
    return Caller(created["token"], protected)


@pytest.fixture(scope="module")
def document(product: Product) -> dict[str, Any]:
    # /healthz answers before `cdrstats run` has made the demo customer; its banner comes after
    wait_for(lambda: "CDR-Stats is running." in product.output(), timeout_s=60, what="the run's banner")
    with urllib.request.urlopen(f"{product.url}{OPENAPI}", timeout=10) as response:
        loaded: dict[str, Any] = json.loads(response.read())
    return loaded


def operations(document: dict[str, Any], *, admin: bool = True, bodies_only: bool = False) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
        if (admin or not spec.get("x-admin-only"))
        and (not bodies_only or "application/json" in spec.get("requestBody", {}).get("content", {}))
    }


def fuzz(product: Product, caller: Caller, wanted: set[str], *, mode: str, phases: list[str]) -> Outcome:
    """One schemathesis run over the operations in ``wanted``; every failed check is collected."""
    checks = {name: {"enabled": True} for name in CONFORMANCE}
    checks["negative_data_rejection"] = {"enabled": mode == "negative"}
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            "headers": {"Authorization": f"Bearer {caller.token}"},
            "generation": {"mode": mode, "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            "phases": {name: {"enabled": name in phases} for name in ("examples", "coverage", "fuzzing", "stateful")},
            "checks": {"enabled": False, **checks},
            "request-timeout": 30,
            "workers": 2,
        }
    )
    schema = schemathesis.openapi.from_url(f"{product.url}{OPENAPI}", config=config)
    schema = schema.include(lambda ctx: f"{ctx.operation.method.upper()} {ctx.operation.path}" in wanted)

    @schema.hook
    def filter_case(context: schemathesis.HookContext, case: schemathesis.Case) -> bool:
        return caller.keeps_access(case)

    @schema.hook
    def map_case(context: schemathesis.HookContext, case: schemathesis.Case) -> schemathesis.Case:
        query = case.query if isinstance(case.query, dict) else {}
        limit = query.get("limit")
        if case.operation.path == EXPORT and (limit is None or (type(limit) is int and limit > EXPORT_LIMIT)):
            case.query = {**query, "limit": EXPORT_LIMIT}
        return case

    outcome = Outcome()
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished) and event.label is not None:
            _collect(outcome, event)
        elif isinstance(event, events.NonFatalError):
            outcome.failures[(event.label, "error")] = str(event.value)[:2000]
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            outcome.stop = event.stop_reason
    outcome.seconds = time.monotonic() - started
    return outcome


def _collect(outcome: Outcome, event: events.ScenarioFinished) -> None:
    label = event.label or ""
    recorder = event.recorder
    outcome.operations.add(label)
    outcome.seconds_by_operation[label] = outcome.seconds_by_operation.get(label, 0.0) + event.elapsed_time
    outcome.cases += len(recorder.cases)
    statuses = [i.response.status_code for i in recorder.interactions.values() if i.response is not None]
    if any(200 <= status < 300 for status in statuses):
        outcome.answered_2xx.add(label)
    for checks in recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                key = (label, f"{check.name}: {failure.title}")
                outcome.failures.setdefault(key, f"{failure.message}\n{check.failure_info.code_sample}"[:3000])


def assert_clean(outcome: Outcome, wanted: set[str], product: Product, caller: Caller, name: str) -> None:
    print(
        f"\n{name}: {len(outcome.operations)} operations, {outcome.cases} cases, "
        f"{len(outcome.answered_2xx)} operations answered 2xx at least once, {outcome.seconds:.1f} s"
    )
    slowest = sorted(outcome.seconds_by_operation.items(), key=lambda item: -item[1])[:5]
    print("  slowest: " + ", ".join(f"{label} {seconds:.1f} s" for label, seconds in slowest))
    print("  never 2xx: " + ", ".join(sorted(outcome.operations - outcome.answered_2xx)))
    assert outcome.stop == StopReason.COMPLETED
    assert outcome.failures == {}, outcome.report()
    assert outcome.operations == wanted
    assert outcome.cases >= 5 * len(wanted)
    # still its own token: the run did not lock itself out and pass on 401s
    assert _request(product, "/api/v1/me", f"Bearer {caller.token}")["id"] == caller.protected["/api/v1/users/{id}"]


def test_customer_operations_answer_as_documented(product: Product, document: dict[str, Any]) -> None:
    customer = _caller(product, "acme", product.secrets["demo_customer_password"])
    wanted = operations(document, admin=False)
    outcome = fuzz(product, customer, wanted, mode="positive", phases=["examples", "coverage", "fuzzing"])
    assert_clean(outcome, wanted, product, customer, "customer")
    assert len(outcome.answered_2xx) >= len(wanted) * 3 // 4


def test_every_operation_answers_as_documented(product: Product, document: dict[str, Any]) -> None:
    admin = _caller(product, "admin", product.secrets["admin_password"])
    wanted = operations(document)
    assert len(wanted) >= 69
    outcome = fuzz(product, admin, wanted, mode="positive", phases=["examples", "coverage", "fuzzing"])
    assert_clean(outcome, wanted, product, admin, "admin")
    assert len(outcome.answered_2xx) >= len(wanted) * 3 // 4


def test_schema_violating_bodies_are_refused(product: Product, document: dict[str, Any]) -> None:
    admin = _caller(product, "admin", product.secrets["admin_password"])
    wanted = operations(document, bodies_only=True)
    outcome = fuzz(product, admin, wanted, mode="negative", phases=["coverage", "fuzzing"])
    assert_clean(outcome, wanted, product, admin, "negative bodies")
