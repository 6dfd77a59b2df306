"""A real ingest (SQLite store + IngestServicer) on an in-process grpc.aio server for the CDR/report pages.

CDRs enter through the real submit path (normalised: E.164, country, answered), so the
pages are tested against ingest's own search, export and scope rules.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer

from cdrstats.ingest.v1 import ingest_pb2_grpc
from cdrstats_common.cdr import new_cdr
from cdrstats_ingest.api import IngestServicer
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.service import IngestService
from cdrstats_ingest.store import open_store

DAY_US = 86_400_000_000
BASE_US = 1_760_000_000_000_000 - 1_760_000_000_000_000 % DAY_US  # a UTC midnight
DESTINATIONS = ("+4930123456", "+33142000000", "+14155550100", "+442071234567", "=1+2")


def make_cdrs(n: int = 48) -> list[dict[str, Any]]:
    """Three tenants, two switches, answered and failed calls over two days; one formula-like number."""
    cdrs = []
    for i in range(n):
        start = BASE_US + i * 3_600_000_000 + i * 7_000_000
        answered = i % 4 != 0
        billsec = 1000 * (i * 17 % 400) if answered else 0
        cdrs.append(
            new_cdr(
                switch_id="sw1" if i % 2 else "sw2",
                uuid=f"leg-{i:03d}",
                call_id=f"call-{i // 2}",
                accountcode=("acme", "globex", "initech")[i % 3],
                caller_id_number=f"+1212555{i:04d}",
                caller_id_name="Alice" if i % 5 else "Bob =cmd",
                destination_number=DESTINATIONS[i % len(DESTINATIONS)],
                start_time_us=start,
                answer_time_us=start + 3_000_000 if answered else 0,
                end_time_us=start + 3_000_000 + billsec * 1000,
                duration_ms=billsec + 3000,
                billsec_ms=billsec,
                hangup_cause=16 if answered else (17, 19, 21)[i % 3],
                sip_code=200 if answered else 486,
                direction="outbound" if i % 3 else "inbound",
                extra={"sip_user_agent": "FreeSWITCH", "variable_n": str(i)},
            )
        )
    return cdrs


@dataclasses.dataclass
class IngestBackend:
    server: grpc.aio.Server
    address: str
    service: IngestService
    cdrs: list[dict[str, Any]]  # as stored (normalised, with ids)

    def visible(self, *codes: str) -> list[dict[str, Any]]:
        return [c for c in self.cdrs if not codes or c["accountcode"] in codes]


async def start_ingest(tmp_path: pathlib.Path, port: int, cdrs: list[dict[str, Any]]) -> IngestBackend:
    store = open_store(f"sqlite:///{tmp_path / 'ingest.db'}")
    service = IngestService(store)
    for switch_id, name in (("sw1", "Berlin edge"), ("sw2", "Paris core")):
        service.upsert_switch(SwitchConfig(id=switch_id, name=name, home_country="DE"), "")
    ids: list[str] = []
    for switch_id in ("sw1", "sw2"):
        results = service.submit(service.switch(switch_id), [c for c in cdrs if c["switch_id"] == switch_id])
        assert all(r.status == "accepted" for r in results), [r.reason for r in results if r.reason]
        ids += [r.id for r in results]
    stored = [c for c in (store.get_cdr(i) for i in ids) if c is not None]
    server = grpc.aio.server()
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    ingest_pb2_grpc.add_IngestServiceServicer_to_server(IngestServicer(service), server)
    address = f"127.0.0.1:{port}"
    assert server.add_insecure_port(address) == port
    await server.start()
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    return IngestBackend(server, address, service, stored)
