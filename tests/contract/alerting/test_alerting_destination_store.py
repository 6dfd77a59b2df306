"""The DestinationStore contract: entries all-or-none and paged, geo rules, the rules version, and the hit log
written once per CDR with its destination_alert in the event's transaction (SQLite, mongomock, real MongoDB)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import pathlib
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import mongomock
import pytest

from cdrstats_alerting.destinations_service import DestinationsService
from cdrstats_alerting.domain.destinations import GeoRule, ListEntry, Verdict
from cdrstats_alerting.domain.errors import Caller
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_common.cdr import new_cdr
from cdrstats_common.testing import MONGODB_URI_VARIABLE, patch_mongomock_bulk_write, real_mongodb_database

ROOT = pathlib.Path(__file__).resolve().parents[3]
ADMIN = Caller(admin=True)
TENANT = "customer:acme"
T0 = 1_767_000_000_000_000


def _mongo_store(database: Any) -> AlertingStore:
    from cdrstats_alerting.store.mongo import MongoAlertingStore

    return MongoAlertingStore(database)


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
def store(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AlertingStore]:
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            opened = open_store(f"sqlite:///{tmp_path}/alerting.db")
        else:
            pytest.importorskip("cdrstats_alerting.store.mongo")
            if request.param == "mongomock":
                patch_mongomock_bulk_write(monkeypatch)
                database = mongomock.MongoClient()["cdrstats_alerting_test"]
            else:
                if not os.environ.get(MONGODB_URI_VARIABLE):
                    pytest.skip(f"{MONGODB_URI_VARIABLE} not set: no real MongoDB server to test against")
                database = stack.enter_context(real_mongodb_database("cdrstats_alerting_test"))
            opened = _mongo_store(database)
        yield opened
        opened.close()


def entry(list_name: str, prefix: str = "", country: str = "", owner: str = "", note: str = "") -> ListEntry:
    return ListEntry(id="", list=list_name, owner=owner, prefix=prefix, country=country, note=note)


def outbound(cdr_id: str, e164: str, country: str = "", accountcode: str = "", **values: Any) -> dict[str, Any]:
    return new_cdr(
        **{
            "id": cdr_id,
            "uuid": cdr_id,
            "switch_id": "sw1",
            "source": "api",
            "direction": "outbound",
            "destination_number": e164,
            "destination_e164": e164,
            "country": country,
            "accountcode": accountcode,
            "start_time_us": T0,
            "end_time_us": T0 + 1_000_000,
            "disposition": "NO_ANSWER",
        }
        | values
    )


def test_entries_are_stored_once_and_returned_in_request_order(store: AlertingStore) -> None:
    service = DestinationsService(store)
    first = service.create_entries(ADMIN, [entry("black", "447", note="fraud"), entry("white", country="gb")])
    assert [(e.list, e.prefix, e.country, e.note, e.owner) for e in first] == [
        ("black", "447", "", "fraud", ""),
        ("white", "", "GB", "", ""),
    ]
    again = service.create_entries(
        ADMIN, [entry("black", "+447"), entry("black", "447", owner=TENANT), entry("black", "447")]
    )
    assert again[0] == first[0]  # the stored entry comes back in place of the duplicate
    assert again[1].owner == TENANT and again[1].id != first[0].id
    assert len(again) == 2  # a request repeating itself is stored once
    assert store.get_list_entry(first[1].id) == first[1]
    assert store.destination_counts()["list_entries"] == 3


def test_adding_entries_is_all_or_none(store: AlertingStore) -> None:
    good = ListEntry("le_1", "black", "", "447", "", "", T0)
    clash = ListEntry("le_1", "black", "", "33", "", "", T0)  # same id, other entry: the store must refuse
    with pytest.raises(Exception):  # noqa: B017 - the adapter's own integrity error
        store.add_list_entries([good, clash])
    assert store.all_list_entries() == []
    assert store.add_list_entries([good]) == [good]


def test_entries_page_in_id_order_with_filters(store: AlertingStore) -> None:
    prefixes = [f"{cc}{n}" for cc in ("44", "33", "1") for n in range(400)]
    entries = [
        ListEntry(f"le_{i:05d}", "black" if i % 3 else "white", "" if i % 2 else TENANT, prefix, "", "", T0)
        for i, prefix in enumerate(prefixes)
    ]
    entries += [
        ListEntry("le_99998", "black", "", "", "GB", "", T0),
        ListEntry("le_99999", "black", "", "", "FR", "", T0),
    ]
    store.add_list_entries(entries)
    seen: list[str] = []
    after = ""
    while True:
        page = store.list_entries(owners=None, after_id=after, limit=97)
        if not page:
            break
        seen += [e.id for e in page]
        after = page[-1].id
    assert seen == sorted(e.id for e in entries)

    own = store.list_entries(owners=["", TENANT], limit=5_000)
    assert len(own) == len(entries)
    only_global = store.list_entries(owners=[""], limit=5_000)
    assert {e.owner for e in only_global} == {""} and len(only_global) == 602
    whites = store.list_entries(owners=None, list_name="white", limit=5_000)
    assert {e.list for e in whites} == {"white"} and len(whites) == 400
    starting = store.list_entries(owners=None, prefix_starts="4439", limit=5_000)
    assert sorted(e.prefix for e in starting) == ["4439", *[f"4439{n}" for n in range(10)]]
    gb = store.list_entries(owners=None, country="GB", limit=5_000)
    assert len(gb) == 401 and {e.prefix[:2] for e in gb if e.prefix} == {"44"} and gb[-1].country == "GB"


def test_geo_rules_are_saved_replaced_listed_and_deleted(store: AlertingStore) -> None:
    service = DestinationsService(store)
    rule = service.save_geo_rule(ADMIN, GeoRule("", "", "sw1", "allow", ("fr", "GB", "FR")))
    assert (rule.owner, rule.switch_id, rule.mode, rule.countries) == ("", "sw1", "allow", ("FR", "GB"))
    theirs = service.save_geo_rule(ADMIN, GeoRule("", TENANT, "", "forbid", ("IR",)))
    changed = service.save_geo_rule(ADMIN, GeoRule(rule.id, "", "", "forbid", ("KP",), note="changed"), global_=True)
    assert (changed.id, changed.created_us, changed.mode, changed.switch_id) == (rule.id, rule.created_us, "forbid", "")
    assert store.geo_rules() == sorted([changed, theirs], key=lambda r: r.id)
    assert store.geo_rules([""]) == [changed]
    assert store.get_geo_rule(theirs.id) == theirs
    assert store.delete_geo_rule(theirs.id) and not store.delete_geo_rule(theirs.id)
    assert store.destination_counts()["geo_rules"] == 1


def test_every_rule_change_moves_the_rules_version(store: AlertingStore) -> None:
    service = DestinationsService(store)
    versions = [store.rules_version()]

    def moved() -> bool:
        versions.append(store.rules_version())
        return versions[-1] != versions[-2]

    [black] = service.create_entries(ADMIN, [entry("black", "447")])
    assert moved()
    rule = service.save_geo_rule(ADMIN, GeoRule("", "", "", "forbid", ("IR",)))
    assert moved()
    store.set_tenant(TENANT, ["acme-1"])
    assert moved()
    store.apply_cdrs_event("e1", [outbound("c1", "+447700900123", "GB")], service.matcher())
    assert not moved()  # hits are not rules
    service.delete_entry(ADMIN, black.id)
    assert moved()
    service.delete_geo_rule(ADMIN, rule.id)
    assert moved()
    store.set_tenant(TENANT, [])
    assert moved()


def test_the_matcher_is_rebuilt_only_when_the_rules_change(store: AlertingStore) -> None:
    service = DestinationsService(store)
    first = service.matcher()
    assert service.matcher() is first
    service.create_entries(ADMIN, [entry("black", "447", owner=TENANT)])
    second = service.matcher()
    assert second is not first and second.check(outbound("c", "+447700900123", accountcode="acme-1")) is None
    store.set_tenant(TENANT, ["acme-1"])  # the tenant's entries follow its account codes
    third = service.matcher()
    assert third.check(outbound("c", "+447700900123", accountcode="acme-1")) is not None
    assert DestinationsService(store).matcher().version == third.version  # another process sees the same


def _rules(store: AlertingStore) -> DestinationsService:
    service = DestinationsService(store, public_url="https://stats.example.com")
    store.set_tenant(TENANT, ["acme-1"])
    service.create_entries(ADMIN, [entry("black", "447"), entry("white", "4477")])
    service.create_entries(ADMIN, [entry("black", "33", owner=TENANT)])
    service.save_geo_rule(ADMIN, GeoRule("", "", "", "forbid", ("IR",)))
    return service


def test_verdicts_are_logged_once_per_cdr_and_black_and_geo_alert(store: AlertingStore) -> None:
    service = _rules(store)
    cdrs = [
        outbound("c-black", "+447812345678", "GB", "acme-1"),
        outbound("c-white", "+447712345678", "GB"),
        outbound("c-geo", "+989121234567", "IR"),
        outbound("c-tenant", "+33123456789", "FR", "acme-1"),
        outbound("c-other", "+33123456789", "FR", "nobody"),
        outbound("c-inbound", "+447812345678", "GB", direction="inbound"),
    ]
    assert store.apply_cdrs_event("e1", cdrs, service.matcher())
    hits = store.hits_by_cdr_ids(["c-tenant", "c-white", "c-black", "c-geo", "c-other", "c-inbound"])
    assert [(h.cdr_id, h.verdict, h.owner) for h in hits] == [
        ("c-tenant", "black", TENANT),
        ("c-white", "white", ""),
        ("c-black", "black", ""),
        ("c-geo", "geo", ""),
    ]
    black = hits[2]
    assert (black.rule, black.accountcode, black.switch_id, black.destination_e164, black.country, black.start_us) == (
        "black list prefix 447 (global)", "acme-1", "sw1", "+447812345678", "GB", T0,
    )  # fmt: skip
    assert abs(black.time_us - time.time() * 1e6) < 60e6
    assert store.outbox_pending() == 3  # black, geo, tenant black; never white

    assert not store.apply_cdrs_event("e1", cdrs, service.matcher())  # a redelivered event
    assert store.apply_cdrs_event("e2", [cdrs[0], outbound("c-new", "+447800000000", "GB")], service.matcher())
    assert store.destination_counts()["hits"] == 5 and store.outbox_pending() == 4  # c-black was not alerted again


def test_hits_are_scoped_to_account_codes_and_listed_newest_first(store: AlertingStore) -> None:
    service = _rules(store)
    for batch in range(3):
        cdrs = [
            outbound(f"c{batch}-{i}", f"+4478{batch}{i:07d}", "GB", "acme-1" if i % 2 else "other") for i in range(4)
        ] + [outbound(f"w{batch}", "+447712345678", "GB", "acme-1")]
        store.apply_cdrs_event(f"e{batch}", cdrs, service.matcher())
        time.sleep(0.002)
    assert [h.cdr_id for h in store.hits_by_cdr_ids(["c0-0", "c0-1", "w0", "missing"], ["acme-1"])] == ["c0-1", "w0"]
    assert store.hits_by_cdr_ids(["c0-0"], []) == []
    newest = store.recent_hits(["black", "geo"], limit=5)
    assert [h.cdr_id[:2] for h in newest] == ["c2", "c2", "c2", "c2", "c1"]
    assert all(a.time_us >= b.time_us for a, b in itertools.pairwise(newest))
    assert {h.cdr_id for h in store.recent_hits(["white"], limit=100)} == {"w0", "w1", "w2"}
    mine = store.recent_hits(["black"], limit=100, accountcodes=["acme-1"])
    assert len(mine) == 6 and {h.accountcode for h in mine} == {"acme-1"}
    since = newest[0].time_us
    assert {h.cdr_id[:2] for h in store.recent_hits(["black"], since_us=since, limit=100)} == {"c2"}
    assert store.recent_hits(["black"], accountcodes=[]) == []


# -- SQLite specifics: one transaction per event, the published body -------------------------------------


class _FailingMatcher:
    """The real matcher, failing at the n-th CDR: nothing of the event may stay behind."""

    def __init__(self, service: DestinationsService, fail_at: int) -> None:
        self.inner, self.fail_at, self.seen = service.matcher(), fail_at, 0

    def check(self, cdr: Mapping[str, Any]) -> Verdict | None:
        self.seen += 1
        if self.seen == self.fail_at:
            raise RuntimeError("disk full")
        return self.inner.check(cdr)

    def tenant_of(self, accountcode: str) -> str:
        return self.inner.tenant_of(accountcode)

    def link(self, cdr_id: str) -> str:
        return self.inner.link(cdr_id)


def _schema(name: str) -> jsonschema.Draft202012Validator:
    doc = (ROOT / "docs" / "events.md").read_text()
    blocks = dict(re.findall(r"```json schema=(\S+)\n(.*?)\n```", doc, flags=re.S))
    schema = json.loads(blocks[name])
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_sqlite_a_batch_of_1000_hits_is_one_fast_transaction(tmp_path: pathlib.Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/alerting.db")
    service = _rules(store)
    fraud = [outbound(f"f{i:04d}", f"+4478{i:08d}", "GB", "acme-1") for i in range(1_000)]
    with pytest.raises(RuntimeError):
        store.apply_cdrs_event("e1", fraud, _FailingMatcher(service, fail_at=999))
    assert store.destination_counts()["hits"] == 0 and store.outbox_pending() == 0
    started = time.perf_counter()
    assert store.apply_cdrs_event("e1", fraud, service.matcher())  # the event was not marked applied
    elapsed = time.perf_counter() - started
    assert store.destination_counts()["hits"] == 1_000 and store.outbox_pending() == 1_000
    assert elapsed < 2.0, f"1,000 hits took {elapsed:.2f} s"
    print(f"1,000 black-listed CDRs: {elapsed * 1000:.0f} ms in one transaction")
    store.close()


def _outbox(store: AlertingStore) -> list[tuple[str, dict[str, Any]]]:
    """(event type, body) of every queued event, oldest first, whatever the adapter keeps them in."""
    if hasattr(store, "conn"):
        rows = store.conn.execute("SELECT event_type, body FROM outbox ORDER BY seq").fetchall()
        return [(row["event_type"], json.loads(row["body"])) for row in rows]
    docs = store.outbox.coll.find().sort("_id", 1)  # type: ignore[attr-defined]
    return [(doc["event_type"], json.loads(doc["body"])) for doc in docs]


def test_destination_alert_bodies_match_their_schema(store: AlertingStore) -> None:
    service = _rules(store)
    cdrs = [
        outbound("c-black", "+447812345678", "GB", "acme-1", extra={"sip_from_host": "10.0.0.1"}),
        outbound("c/geo 1", "+989121234567", "IR"),
    ]
    store.apply_cdrs_event("e1", cdrs, service.matcher())
    queued = _outbox(store)
    assert [event_type for event_type, _ in queued] == ["destination_alert", "destination_alert"]
    bodies = [body for _, body in queued]
    check = _schema("cdrstats.destination_alert.v1")
    for body in bodies:
        check.validate(body)
    first, second = (body["data"] for body in bodies)
    assert first["cdr"] == cdrs[0] and first["tenant"] == TENANT
    assert first["link"] == "https://stats.example.com/cdrs/c-black"
    assert first["hit"]["verdict"] == "black" and first["hit"]["rule"] == "black list prefix 447 (global)"
    [logged] = store.hits_by_cdr_ids(["c-black"])
    assert first["hit"]["id"] == logged.id and first["hit"]["rule_id"] == logged.rule_id
    assert (second["hit"]["verdict"], second["tenant"], second["link"]) == (
        "geo",
        "",
        "https://stats.example.com/cdrs/c%2Fgeo%201",
    )
    broken = json.loads(json.dumps(bodies[0]))
    broken["data"]["hit"]["verdict"] = "white"
    with pytest.raises(jsonschema.ValidationError):
        check.validate(broken)


def test_mongo_staged_alerts_of_a_dead_writer_are_released_only_if_their_hit_was_logged(
    store: AlertingStore,
) -> None:
    if hasattr(store, "conn"):
        pytest.skip("SQLite writes the hit and its event in one transaction: nothing is ever staged")
    from cdrstats_alerting.store.mongo_outbox import PENDING, STAGED

    service = _rules(store)
    store.apply_cdrs_event("e1", [outbound("c-black", "+447812345678", "GB")], service.matcher())
    coll = store.outbox.coll  # type: ignore[attr-defined]
    [logged] = store.hits_by_cdr_ids(["c-black"])
    # the writer died after logging the hit (its event still staged), and another before logging one
    coll.update_many({}, {"$set": {"state": STAGED, "created_at": time.time() - 3_600}})
    orphan = dict(coll.find_one(), _id="0-orphan", event_id="orphan", check={"cdr_id": "c-never", "hit_id": "hit_x"})
    coll.insert_one(orphan)
    assert store.outbox.recover_staged(store._event_committed) == 1  # type: ignore[attr-defined]
    [kept] = list(coll.find())
    assert kept["state"] == PENDING and kept["check"] == {"cdr_id": "c-black", "hit_id": logged.id}
