"""A realistic demo data set, loaded through the real ingest path.

30 days of calls for several switches and account codes with a diurnal pattern,
a plausible mix of outcomes (answered, busy, no answer, cancelled, congestion,
failed), international destinations and long-tailed durations. The bulk goes
through gRPC ``SubmitCdrs``; a few calls are posted as FreeSWITCH mod_json_cdr
documents to the HTTP receiver, exactly as a switch would.
"""

from __future__ import annotations

import base64
import json
import math
import random
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import phonenumbers

from cdrstats.cdr.v1 import cdr_pb2
from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_common.cdr import new_cdr, to_proto

US = 1_000_000
DAY_US = 86_400 * US

#: (id, name, type, home country, account codes)
SWITCHES = [
    ("demo", "Demo FreeSWITCH", "freeswitch", "US", ("acme", "globex")),
    ("pbx-london", "London office PBX", "freeswitch", "GB", ("initech",)),
    ("carrier-paris", "Paris carrier edge", "kamailio", "FR", ("umbrella", "hooli")),
    ("asterisk-nyc", "New York Asterisk", "asterisk", "US", ("acme", "stark")),
]

#: (E.164 prefix, subscriber digits, weight) — a plausible international mix
DESTINATIONS = [
    ("+1212", 7, 14),
    ("+1415", 7, 10),
    ("+1305", 7, 6),
    ("+4420", 8, 10),
    ("+447400", 6, 8),  # UK mobile (07700 would be Jersey for libphonenumber)
    ("+331", 8, 8),
    ("+336", 8, 6),
    ("+4930", 8, 5),
    ("+49151", 8, 4),
    ("+3491", 7, 4),
    ("+3906", 8, 3),
    ("+9122", 8, 4),
    ("+234803", 7, 2),
    ("+55119", 8, 3),
    ("+612", 8, 2),
    ("+813", 8, 2),
    ("+4490", 8, 1),  # premium rate: what fraud alarms look for
]

#: (disposition, Q.850 cause, SIP code, weight)
OUTCOMES = [
    ("ANSWERED", 16, 200, 58),
    ("BUSY", 17, 486, 10),
    ("NO_ANSWER", 19, 480, 12),
    ("CANCEL", 16, 487, 8),  # FreeSWITCH reports ORIGINATOR_CANCEL as Q.850 16
    ("CONGESTION", 34, 503, 5),
    ("FAILED", 1, 404, 4),
    ("FAILED", 41, 500, 3),
]


def _hour_weight(hour: int) -> float:
    """Busy in office hours, quiet at night."""
    return 0.15 + math.exp(-((hour - 11) ** 2) / 18) + 0.7 * math.exp(-((hour - 16) ** 2) / 10)


def generate(now_us: int, *, days: int = 30, calls: int = 36_000, seed: int = 42) -> list[dict[str, Any]]:
    """``calls`` finished calls over the ``days`` before ``now_us``, busiest in office hours."""
    rng = random.Random(seed)
    weights = [_hour_weight(h) for h in range(24)]
    start_window = now_us - days * DAY_US
    cdrs = []
    for _ in range(calls):
        day = rng.randrange(days)
        hour = rng.choices(range(24), weights)[0]
        start = start_window + day * DAY_US + hour * 3600 * US + rng.randrange(3600 * US)
        cdrs.append(make_call(rng, start, rng.choice(SWITCHES), ended_by_us=now_us))
    cdrs.sort(key=lambda c: c["start_time_us"])
    return cdrs


#: the caller numbers of a switch's home country: (prefix, subscriber digits)
CALLER_PREFIXES = {"US": ("+1212", 7), "GB": ("+4420", 8), "FR": ("+331", 8)}


def _destination(rng: random.Random) -> str:
    prefix, digits, _ = rng.choices(DESTINATIONS, [w for _, _, w in DESTINATIONS])[0]
    return _number(rng, prefix, digits)


def _number(rng: random.Random, prefix: str, digits: int) -> str:
    """A number with ``prefix`` that libphonenumber calls valid, so every demo call has a country."""
    for _ in range(100):
        number = prefix + "".join(str(rng.randrange(10)) for _ in range(digits))
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number
    raise ValueError(f"demo prefix {prefix} with {digits} digits gives no valid number")


def make_call(
    rng: random.Random, start_us: int, switch: tuple[str, str, str, str, tuple[str, ...]], *, ended_by_us: int
) -> dict[str, Any]:
    """One finished call of ``switch``; moved earlier if it would end after ``ended_by_us``."""
    switch_id, _, _, home, accounts = switch
    destination = _destination(rng)
    disposition, cause, sip, _ = rng.choices(OUTCOMES, [w for *_, w in OUTCOMES])[0]
    ring_ms = int(rng.uniform(1.5, 9) * 1000)
    answered = disposition == "ANSWERED"
    billsec_ms = int(min(7200, rng.lognormvariate(4.3, 1.0)) * 1000) if answered else 0
    pdd_ms = int(rng.uniform(0.8, 4) * 1000)
    duration_ms = ring_ms + billsec_ms
    start_us = min(start_us, ended_by_us - duration_ms * 1000 - US)  # a CDR arrives after its call ended
    answer = start_us + ring_ms * 1000 if answered else 0
    end = start_us + duration_ms * 1000
    return new_cdr(
        switch_id=switch_id,
        source="api",
        uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        call_id=f"{rng.getrandbits(64):016x}@{switch_id}",
        direction="outbound",
        caller_id_number=_number(rng, *CALLER_PREFIXES.get(home, CALLER_PREFIXES["FR"])),
        caller_id_name=rng.choice(["Reception", "Sales", "Support", "Billing", ""]),
        destination_number=destination,
        accountcode=rng.choice(accounts),
        start_time_us=start_us,
        answer_time_us=answer,
        end_time_us=end,
        duration_ms=duration_ms,
        billsec_ms=billsec_ms,
        pdd_ms=pdd_ms,
        answered=answered,
        disposition=disposition,
        hangup_cause=cause,
        sip_code=sip,
        read_codec=rng.choice(["PCMA", "PCMU", "G722", "OPUS"]),
        write_codec="PCMA",
        mos=round(rng.uniform(3.6, 4.5), 2) if answered else 0.0,
    )


def register_switches(channel: grpc.Channel, demo_switch_key: str) -> None:
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    for switch_id, name, kind, home, _ in SWITCHES:
        password = demo_switch_key if switch_id == "demo" else ""
        stub.UpsertSwitch(
            ingest_pb2.UpsertSwitchRequest(
                switch=ingest_pb2.Switch(
                    id=switch_id,
                    name=name,
                    type=kind,
                    home_country=home,
                    username=switch_id if password else "",
                    enabled=True,
                    time_zone="UTC",
                ),
                password=password,
            ),
            timeout=10,
        )


def submit(channel: grpc.Channel, cdrs: list[dict[str, Any]], batch: int = 1000) -> ingest_pb2.SubmitCdrsResponse:
    """Stream the CDRs to SubmitCdrs, one stream per switch."""
    stub = ingest_pb2_grpc.IngestServiceStub(channel)
    total = ingest_pb2.SubmitCdrsResponse()
    by_switch: dict[str, list[cdr_pb2.Cdr]] = {}
    for cdr in cdrs:
        by_switch.setdefault(cdr["switch_id"], []).append(to_proto(cdr))

    for switch_id, messages in by_switch.items():

        def requests(
            sid: str = switch_id, items: list[cdr_pb2.Cdr] = messages
        ) -> Iterator[ingest_pb2.SubmitCdrsRequest]:
            for start in range(0, len(items), batch):
                yield ingest_pb2.SubmitCdrsRequest(switch_id=sid, cdrs=items[start : start + batch])

        reply = stub.SubmitCdrs(requests(), timeout=600)
        total.accepted += reply.accepted
        total.duplicates += reply.duplicates
        total.rejected += reply.rejected
        total.rejects.extend(reply.rejects)
    return total


_CAUSE_NAMES = {
    1: "UNALLOCATED_NUMBER",
    16: "NORMAL_CLEARING",
    17: "USER_BUSY",
    18: "NO_USER_RESPONSE",
    19: "NO_ANSWER",
    21: "CALL_REJECTED",
    34: "NORMAL_CIRCUIT_CONGESTION",
    41: "NORMAL_TEMPORARY_FAILURE",
}


def _cause_name(cdr: dict[str, Any]) -> str:
    if cdr["disposition"] == "CANCEL":
        return "ORIGINATOR_CANCEL"
    return _CAUSE_NAMES.get(cdr["hangup_cause"], "NORMAL_UNSPECIFIED")


def _pct(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def freeswitch_json_document(cdr: dict[str, Any], *, encode_values: bool = True) -> dict[str, Any]:
    """A mod_json_cdr leg document for a canonical CDR (values percent-encoded by default, as FreeSWITCH does)."""
    variables = {
        "uuid": cdr["uuid"],
        "sip_call_id": cdr["call_id"],
        "direction": cdr["direction"],
        "caller_id_name": cdr["caller_id_name"],
        "caller_id_number": cdr["caller_id_number"],
        "destination_number": cdr["destination_number"],
        "accountcode": cdr["accountcode"],
        "start_uepoch": str(cdr["start_time_us"]),
        "answer_uepoch": str(cdr["answer_time_us"]),
        "end_uepoch": str(cdr["end_time_us"]),
        "progress_uepoch": str(cdr["start_time_us"] + cdr["pdd_ms"] * 1000) if cdr["pdd_ms"] >= 0 else "0",
        "mduration": str(cdr["duration_ms"]),
        "billmsec": str(cdr["billsec_ms"]),
        "duration": str(cdr["duration_ms"] // 1000),
        "billsec": str(cdr["billsec_ms"] // 1000),
        "hangup_cause": _cause_name(cdr),
        "hangup_cause_q850": str(cdr["hangup_cause"]),
        "sip_term_status": str(cdr["sip_code"]),
        "read_codec": cdr["read_codec"],
        "write_codec": cdr["write_codec"],
        "rtp_audio_in_mos": str(cdr["mos"]),
        "sip_user_agent": "FreeSWITCH-mod_sofia/1.10.12-release~64bit",
    }
    if encode_values:
        variables = {k: _pct(v) for k, v in variables.items()}
    return {
        "core-uuid": "6c2a1d4e-1f0e-4d3b-9d8c-1f2e3d4c5b6a",
        "switchname": "fs-demo-01",
        "channel_data": {"state": "CS_REPORTING", "direction": cdr["direction"]},
        "variables": variables,
        "callflow": [
            {
                "dialplan": "XML",
                "profile_index": "1",
                "caller_profile": {
                    "username": cdr["caller_id_number"],
                    "caller_id_name": cdr["caller_id_name"],
                    "caller_id_number": cdr["caller_id_number"],
                    "destination_number": cdr["destination_number"],
                    "uuid": cdr["uuid"],
                    "context": "default",
                },
                "times": {"created_time": str(cdr["start_time_us"])},
            }
        ],
    }


def post_freeswitch_json(url: str, user: str, password: str, document: dict[str, Any], *, form: bool = False) -> int:
    """POST one leg as mod_json_cdr does; returns the HTTP status."""
    body = json.dumps(document).encode()
    content_type = "application/json"
    if form:
        body = ("cdr=" + urllib.parse.quote(body.decode(), safe="")).encode()
        content_type = "application/x-www-form-urlencoded"
    uuid_value = urllib.parse.unquote(document["variables"]["uuid"])
    request = urllib.request.Request(  # noqa: S310 - the local receiver
        f"{url}/v1/freeswitch/json?uuid={uuid_value}",
        data=body,
        method="POST",
        headers={
            "Content-Type": content_type,
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return int(response.status)


#: the demo tenant: a customer owning one account code of the demo data, and its login
DEMO_CUSTOMER = ("Acme Corp", "acme", "acme")  # customer name, account code, username


def create_demo_tenant(gateway_url: str, admin_password: str, customer_password: str) -> str:
    """The demo customer and its user, through the gateway's REST API as admin; already there is fine.

    Returns the customer's tenant id (``customer:<id>``), the owner of its alarms in alerting and notify.
    """
    name, accountcode, username = DEMO_CUSTOMER
    status, customer = _admin_post(
        gateway_url, admin_password, "/api/v1/customers", {"name": name, "accountcodes": [accountcode]}
    )
    if status == 409:  # made by an earlier run
        listed = _admin_get(gateway_url, admin_password, "/api/v1/customers?limit=500")
        (customer,) = [c for c in listed["items"] if c["name"] == name]
        return f"customer:{customer['id']}"
    user = {"username": username, "password": customer_password, "role": "customer", "customer_id": customer["id"]}
    _admin_post(gateway_url, admin_password, "/api/v1/users", user)
    return f"customer:{customer['id']}"


def _admin_get(gateway_url: str, admin_password: str, path: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the local gateway
        gateway_url + path,
        headers={"Authorization": "Basic " + base64.b64encode(f"admin:{admin_password}".encode()).decode()},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def _admin_post(gateway_url: str, admin_password: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(  # noqa: S310 - the local gateway
        gateway_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"admin:{admin_password}".encode()).decode(),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 409:
            return 409, None
        raise RuntimeError(f"demo tenant: {path} answered {exc.code}: {exc.read()[:300]!r}") from exc
