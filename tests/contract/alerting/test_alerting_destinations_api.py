"""Destination control over a real grpc.aio server with the real AlertingServicer on a real SQLite store:
tenant rules, paging, checks, the hit log, and every input error naming its field."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from cdrstats.alerting.v1 import alerting_pb2 as pb
from cdrstats.alerting.v1 import alerting_pb2_grpc
from cdrstats_alerting.api import AlertingServicer
from cdrstats_alerting.destinations_service import DestinationsService
from cdrstats_alerting.store import AlertingStore, open_store
from cdrstats_common.cdr import new_cdr

ADMIN = pb.Scope(admin=True)
ACME = pb.Scope(tenant="customer:acme", allowed_accountcodes=["acme-1", "acme-2"])
OTHER = pb.Scope(tenant="customer:other", allowed_accountcodes=["other-1"])
Stub = alerting_pb2_grpc.AlertingServiceStub


@pytest.fixture
def store(tmp_path: pathlib.Path) -> AlertingStore:
    opened = open_store(f"sqlite:///{tmp_path}/alerting.db")
    opened.set_tenant("customer:acme", ["acme-1", "acme-2"], "Acme")
    opened.set_tenant("customer:other", ["other-1"], "Other")
    return opened


@pytest.fixture
async def stub(store: AlertingStore) -> AsyncIterator[Stub]:
    server = grpc.aio.server()
    alerting_pb2_grpc.add_AlertingServiceServicer_to_server(AlertingServicer(store), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Stub(channel)
    finally:
        await server.stop(None)
        store.close()


def entry(list_name: str, prefix: str = "", country: str = "", owner: str = "") -> pb.ListEntry:
    return pb.ListEntry(list=list_name, prefix=prefix, country=country, owner=owner)


def create(scope: pb.Scope, *entries: pb.ListEntry, global_: bool = False) -> pb.CreateListEntriesRequest:
    return pb.CreateListEntriesRequest(scope=scope, entries=list(entries), **{"global": global_})


async def code_of(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as excinfo:
        await call
    return excinfo.value.code(), excinfo.value.details() or ""


async def listed(stub: Stub, scope: pb.Scope, **filters: Any) -> list[tuple[str, str, str, str]]:
    reply = await stub.ListListEntries(pb.ListListEntriesRequest(scope=scope, **filters))
    return sorted((e.list, e.owner, e.prefix, e.country) for e in reply.entries)


async def test_admins_manage_every_owner_and_customers_their_own(stub: Stub) -> None:
    created = await stub.CreateListEntries(
        create(ADMIN, entry("black", "447"), entry("white", country="gb"), global_=True)
    )
    assert [(e.owner, e.prefix, e.country) for e in created.entries] == [("", "447", ""), ("", "", "GB")]
    assert all(e.id and e.created_us > 0 for e in created.entries)
    [acme] = (await stub.CreateListEntries(create(ACME, entry("black", "+33")))).entries
    assert (acme.owner, acme.prefix) == ("customer:acme", "33")
    [for_other] = (await stub.CreateListEntries(create(ADMIN, entry("black", "49", owner="customer:other")))).entries
    assert for_other.owner == "customer:other"

    assert await listed(stub, OTHER) == [
        ("black", "", "447", ""),
        ("black", "customer:other", "49", ""),
        ("white", "", "", "GB"),
    ]
    assert await listed(stub, ACME) == [
        ("black", "", "447", ""),
        ("black", "customer:acme", "33", ""),
        ("white", "", "", "GB"),
    ]
    assert len(await listed(stub, ADMIN)) == 4

    denied = await code_of(stub.CreateListEntries(create(ACME, entry("black", "1"), global_=True)))
    assert denied[0] == grpc.StatusCode.PERMISSION_DENIED
    denied = await code_of(stub.CreateListEntries(create(ACME, entry("black", "1", owner="customer:other"))))
    assert denied == (
        grpc.StatusCode.PERMISSION_DENIED,
        "entries[0].owner: a customer manages only its own tenant's rules",
    )
    global_id = created.entries[0].id
    assert (await code_of(stub.DeleteListEntry(pb.EntryRef(scope=ACME, id=global_id))))[
        0
    ] == grpc.StatusCode.PERMISSION_DENIED
    assert (await code_of(stub.DeleteListEntry(pb.EntryRef(scope=OTHER, id=acme.id))))[0] == grpc.StatusCode.NOT_FOUND
    assert (await stub.DeleteListEntry(pb.EntryRef(scope=ACME, id=acme.id))).deleted
    assert (await code_of(stub.DeleteListEntry(pb.EntryRef(scope=ACME, id=acme.id))))[0] == grpc.StatusCode.NOT_FOUND
    assert (await stub.DeleteListEntry(pb.EntryRef(scope=ADMIN, id=for_other.id))).deleted
    assert (await stub.GetStatus(pb.GetStatusRequest())).list_entries == 2


async def test_creating_entries_is_all_or_none_and_duplicates_are_kept_once(stub: Stub) -> None:
    code, details = await code_of(stub.CreateListEntries(create(ADMIN, entry("black", "447"), entry("black", "44x7"))))
    assert (code, details) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "entries[1].prefix: expected 1 to 15 digits (E.164 without '+'), got '44x7'",
    )
    assert await listed(stub, ADMIN) == []
    reply = await stub.CreateListEntries(
        create(ADMIN, entry("black", "447"), entry("black", "447"), entry("black", "+447"))
    )
    assert len(reply.entries) == 1
    again = await stub.CreateListEntries(create(ADMIN, entry("black", "447")))
    assert again.entries[0].id == reply.entries[0].id


async def test_entries_page_with_a_cursor_and_filters(stub: Stub) -> None:
    entries = [entry("black" if n % 4 else "white", f"44{n:04d}") for n in range(1_200)] + [entry("black", "3312")]
    await stub.CreateListEntries(create(ADMIN, *entries))
    sizes, after, seen = [], "", []
    while True:
        page = await stub.ListListEntries(pb.ListListEntriesRequest(scope=ADMIN, after_id=after))
        sizes.append(len(page.entries))
        seen += [e.prefix for e in page.entries]
        after = page.next_after_id
        if not after:
            break
    assert sizes == [500, 500, 201] and len(set(seen)) == 1_201
    whites = await stub.ListListEntries(pb.ListListEntriesRequest(scope=ADMIN, list="white", limit=5_000))
    assert len(whites.entries) == 300 and not whites.next_after_id
    narrow = await stub.ListListEntries(pb.ListListEntriesRequest(scope=ADMIN, prefix_starts="44119"))
    assert [e.prefix for e in narrow.entries] == [
        "441190",
        "441191",
        "441192",
        "441193",
        "441194",
        "441195",
        "441196",
        "441197",
        "441198",
        "441199",
    ]
    france = await stub.ListListEntries(pb.ListListEntriesRequest(scope=ADMIN, country="fr"))
    assert [e.prefix for e in france.entries] == ["3312"]


async def test_geo_rules_follow_the_tenant_rules(stub: Stub) -> None:
    shared = await stub.SaveGeoRule(
        pb.SaveGeoRuleRequest(scope=ADMIN, rule=pb.GeoRule(mode="forbid", countries=["ir", "KP"]), **{"global": True})
    )
    assert (shared.owner, list(shared.countries), shared.mode) == ("", ["IR", "KP"], "forbid")
    own = await stub.SaveGeoRule(
        pb.SaveGeoRuleRequest(scope=ACME, rule=pb.GeoRule(mode="allow", countries=["GB"], switch_id="sw1"))
    )
    assert own.owner == "customer:acme" and own.switch_id == "sw1"
    assert [r.id for r in (await stub.ListGeoRules(pb.ListGeoRulesRequest(scope=ACME))).rules] == sorted(
        [shared.id, own.id]
    )
    assert [r.id for r in (await stub.ListGeoRules(pb.ListGeoRulesRequest(scope=OTHER))).rules] == [shared.id]

    changed = pb.GeoRule(id=own.id, mode="allow", countries=["GB", "FR"], note="EU only")
    updated = await stub.SaveGeoRule(pb.SaveGeoRuleRequest(scope=ACME, rule=changed))
    assert (updated.id, updated.created_us, list(updated.countries), updated.note) == (
        own.id,
        own.created_us,
        ["FR", "GB"],
        "EU only",
    )
    other_update = pb.SaveGeoRuleRequest(scope=OTHER, rule=changed)
    assert (await code_of(stub.SaveGeoRule(other_update)))[0] == grpc.StatusCode.NOT_FOUND
    global_update = pb.SaveGeoRuleRequest(scope=ACME, rule=pb.GeoRule(id=shared.id, mode="allow", countries=["GB"]))
    assert (await code_of(stub.SaveGeoRule(global_update)))[0] == grpc.StatusCode.PERMISSION_DENIED
    assert (await code_of(stub.DeleteGeoRule(pb.EntryRef(scope=OTHER, id=own.id))))[0] == grpc.StatusCode.NOT_FOUND
    assert (await stub.DeleteGeoRule(pb.EntryRef(scope=ACME, id=own.id))).deleted
    assert (await stub.GetStatus(pb.GetStatusRequest())).geo_rules == 1


async def test_check_destination_normalises_the_number_and_applies_the_callers_rules(stub: Stub) -> None:
    await stub.CreateListEntries(create(ADMIN, entry("black", "447"), entry("white", "4477"), global_=True))
    await stub.CreateListEntries(create(ACME, entry("black", "33")))
    await stub.SaveGeoRule(pb.SaveGeoRuleRequest(scope=ADMIN, rule=pb.GeoRule(mode="forbid", countries=["IR"])))

    async def check(scope: pb.Scope, number: str, accountcode: str = "") -> tuple[str, str, str, str]:
        reply = await stub.CheckDestination(
            pb.CheckDestinationRequest(scope=scope, number=number, accountcode=accountcode)
        )
        return reply.verdict, reply.rule, reply.country, reply.destination_e164

    assert await check(ADMIN, "+44 7812 345678") == ("black", "black list prefix 447 (global)", "GB", "+447812345678")
    assert (await check(ADMIN, "00447712345678"))[0] == "white"
    assert await check(ADMIN, "33 1 23 45 67 89") == ("none", "", "FR", "+33123456789")
    assert (await check(ADMIN, "33123456789", accountcode="acme-2"))[:2] == (
        "black",
        "black list prefix 33 (customer:acme)",
    )
    assert (await check(ACME, "+33123456789"))[0] == "black"
    assert (await check(OTHER, "+33123456789"))[0] == "none"
    assert (await check(ADMIN, "+989121234567"))[:3] == ("geo", "geo rule: IR forbidden (global)", "IR")
    denied = await code_of(
        stub.CheckDestination(pb.CheckDestinationRequest(scope=ACME, number="+331234", accountcode="other-1"))
    )
    assert denied == (grpc.StatusCode.PERMISSION_DENIED, "accountcode: 'other-1' is not one of your account codes")


async def test_hits_are_visible_by_cdr_id_within_the_callers_account_codes(stub: Stub, store: AlertingStore) -> None:
    await stub.CreateListEntries(create(ADMIN, entry("black", "447"), entry("white", "4477")))
    calls = [
        new_cdr(id="c-acme", uuid="c-acme", accountcode="acme-1", destination_e164="+447812345678", direction="outbound", start_time_us=5),
        new_cdr(id="c-other", uuid="c-other", accountcode="other-1", destination_e164="+447812345679", direction="outbound"),
        new_cdr(id="c-white", uuid="c-white", accountcode="acme-2", destination_e164="+447712345678", direction="outbound"),
        new_cdr(id="c-clean", uuid="c-clean", accountcode="acme-2", destination_e164="+33123456789", direction="outbound"),
    ]  # fmt: skip
    assert store.apply_cdrs_event("e1", calls, DestinationsService(store).matcher())
    ids = ["c-acme", "c-other", "c-white", "c-clean"]

    async def hits(scope: pb.Scope) -> list[tuple[str, str]]:
        reply = await stub.GetHits(pb.GetHitsRequest(scope=scope, cdr_ids=ids))
        return [(h.cdr_id, h.verdict) for h in reply.hits]

    assert await hits(ADMIN) == [("c-acme", "black"), ("c-other", "black"), ("c-white", "white")]
    assert await hits(ACME) == [("c-acme", "black"), ("c-white", "white")]
    assert await hits(OTHER) == [("c-other", "black")]
    [hit] = (await stub.GetHits(pb.GetHitsRequest(scope=ACME, cdr_ids=["c-acme"]))).hits
    assert (hit.rule, hit.owner, hit.destination_e164, hit.start_us, hit.accountcode) == (
        "black list prefix 447 (global)", "", "+447812345678", 5, "acme-1",
    )  # fmt: skip

    recent = await stub.ListHits(pb.ListHitsRequest(scope=ADMIN))
    assert sorted(h.cdr_id for h in recent.hits) == ["c-acme", "c-other"]  # black and geo by default
    assert [h.cdr_id for h in (await stub.ListHits(pb.ListHitsRequest(scope=ACME, verdict="white"))).hits] == [
        "c-white"
    ]
    assert [h.cdr_id for h in (await stub.ListHits(pb.ListHitsRequest(scope=OTHER))).hits] == ["c-other"]
    assert len((await stub.ListHits(pb.ListHitsRequest(scope=ADMIN, limit=1))).hits) == 1
    assert (await stub.GetStatus(pb.GetStatusRequest())).hits == 3


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ("ListListEntries", pb.ListListEntriesRequest(scope=ADMIN, list="grey")),
        ("ListListEntries", pb.ListListEntriesRequest(scope=ADMIN, limit=5_001)),
        ("ListListEntries", pb.ListListEntriesRequest(scope=ADMIN, prefix_starts="4x")),
        ("ListListEntries", pb.ListListEntriesRequest(scope=ADMIN, country="XX")),
        ("CreateListEntries", create(ADMIN)),
        ("CreateListEntries", create(ADMIN, entry("grey", "44"))),
        ("CreateListEntries", create(ADMIN, entry("black", "44", "GB"))),
        ("CreateListEntries", create(ADMIN, entry("black", "4" * 16))),
        ("CreateListEntries", create(ADMIN, entry("black", country="ZZ"))),
        ("CreateListEntries", create(ADMIN, entry("black", "44", owner="acme"))),
        ("SaveGeoRule", pb.SaveGeoRuleRequest(scope=ADMIN, rule=pb.GeoRule(mode="maybe", countries=["GB"]))),
        ("SaveGeoRule", pb.SaveGeoRuleRequest(scope=ADMIN, rule=pb.GeoRule(mode="allow"))),
        ("SaveGeoRule", pb.SaveGeoRuleRequest(scope=ADMIN, rule=pb.GeoRule(mode="allow", countries=["GB", "UK"]))),
        ("CheckDestination", pb.CheckDestinationRequest(scope=ADMIN, number="call me")),
        ("GetHits", pb.GetHitsRequest(scope=ADMIN, cdr_ids=[str(n) for n in range(1_001)])),
        ("ListHits", pb.ListHitsRequest(scope=ADMIN, verdict="red")),
        ("ListHits", pb.ListHitsRequest(scope=ADMIN, limit=1_001)),
        ("ListHits", pb.ListHitsRequest(scope=ADMIN, since_us=-1)),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(stub: Stub, call: str, field: Any) -> None:
    code, details = await code_of(getattr(stub, call)(field))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    name = details.split(":", 1)[0]
    assert name in {
        "list", "limit", "prefix_starts", "country", "entries", "entries[0].list", "entries[0]", "entries[0].prefix",
        "entries[0].country", "entries[0].owner", "rule.mode", "rule.countries", "rule.countries[1]", "number",
        "cdr_ids", "verdict", "since_us",
    }, details  # fmt: skip
    assert "got" in details


@pytest.mark.parametrize("scope", [pb.Scope(), pb.Scope(tenant="acme"), pb.Scope(tenant="customer:")])
async def test_a_scope_that_is_neither_admin_nor_tenant_is_refused(stub: Stub, scope: pb.Scope) -> None:
    code, details = await code_of(stub.ListListEntries(pb.ListListEntriesRequest(scope=scope)))
    assert code == grpc.StatusCode.PERMISSION_DENIED and details.startswith("scope:")
    assert (await code_of(stub.ListHits(pb.ListHitsRequest(scope=scope))))[0] == grpc.StatusCode.PERMISSION_DENIED
