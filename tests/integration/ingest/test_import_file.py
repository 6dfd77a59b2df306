"""`cdrstats import` against a real ingest api process: progress, summary, exit codes, rejects, retry."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator

import grpc
import pytest

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc
from cdrstats_common.healthcheck import check_grpc
from cdrstats_common.testing import ServiceProcess, free_port, wait_for

pytestmark = pytest.mark.integration
LINE = (
    '"acme","0145678901","0612345678","from-trunk","""Jean"" <0145678901>","SIP/carrier-1","SIP/1001-2","Dial",'
    '"SIP/1001,30","2024-03-05 14:02:11","2024-03-05 14:02:15","2024-03-05 14:03:16",65,61,"{disp}",'
    '"DOCUMENTATION","{uid}",""'
)


@pytest.fixture
def ingest(tmp_path: pathlib.Path) -> Iterator[tuple[str, ingest_pb2_grpc.IngestServiceStub]]:
    port = free_port()
    env = {
        "CDRSTATS_DATA_DIR": str(tmp_path),
        "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/",
        "CDRSTATS_GRPC_LISTEN": f"127.0.0.1:{port}",
        "CDRSTATS_INGEST_HTTP_PORT": str(free_port()),
        "CDRSTATS_ADMIN_PORT": str(free_port()),
    }
    api = ServiceProcess("cdrstats_ingest.api", env, str(tmp_path / "api.log"))
    address = f"127.0.0.1:{port}"
    channel = grpc.insecure_channel(address)
    try:
        wait_for(lambda: check_grpc(address), what="ingest api health")
        stub = ingest_pb2_grpc.IngestServiceStub(channel)
        stub.UpsertSwitch(
            ingest_pb2.UpsertSwitchRequest(
                switch=ingest_pb2.Switch(id="pbx", type="asterisk", home_country="FR", time_zone="Europe/Paris")
            )
        )
        yield address, stub
    finally:
        channel.close()
        api.stop()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cdrstats_cli.main", "import", *args], capture_output=True, text=True, timeout=60
    )


def test_import_reports_rejects_keeps_them_and_retry_imports_the_fix(
    ingest: tuple[str, ingest_pb2_grpc.IngestServiceStub], tmp_path: pathlib.Path
) -> None:
    address, stub = ingest
    lines = [LINE.format(disp="ANSWERED" if n != 3 else "HUNG", uid=f"1709643731.{n}") for n in range(1, 2001)]
    path = tmp_path / "Master.csv"
    path.write_text("\n".join(lines) + "\n")
    run = cli(str(path), "--switch", "pbx", "--format", "asterisk_csv", "--grpc", address)
    assert run.returncode == 1, run.stderr
    assert "100.0%" in run.stderr
    assert "2000 lines, 1999 accepted, 0 duplicates, 1 rejected" in run.stdout
    assert "line 3: disposition: unknown disposition 'HUNG'" in run.stdout

    again = cli(str(path), "--switch", "pbx", "--format", "asterisk_csv", "--grpc", address)
    assert "0 accepted, 1999 duplicates, 1 rejected" in again.stdout

    with pytest.raises(grpc.RpcError) as denied:
        stub.ListRejects(ingest_pb2.ListRejectsRequest(scope=ingest_pb2.Scope(admin=False)))
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    listed = stub.ListRejects(ingest_pb2.ListRejectsRequest(scope=ingest_pb2.Scope(admin=True), page_size=1))
    assert listed.total == 2 and len(listed.rejects) == 1 and listed.next_cursor
    reject = listed.rejects[0]
    assert reject.location == "line 3 of Master.csv" and '"HUNG"' in reject.raw and reject.status == "open"
    fixed = stub.RetryReject(
        ingest_pb2.RetryRejectRequest(
            scope=ingest_pb2.Scope(admin=True), id=reject.id, raw=reject.raw.replace('"HUNG"', '"BUSY"')
        )
    )
    assert fixed.status == "accepted" and fixed.id
    status = stub.GetStatus(ingest_pb2.GetStatusRequest())
    assert status.cdrs_stored == 2000 and status.rejects_open == 1


def test_generic_csv_through_a_saved_profile_and_usage_errors(
    ingest: tuple[str, ingest_pb2_grpc.IngestServiceStub], tmp_path: pathlib.Path
) -> None:
    address, stub = ingest
    stub.SaveMappingProfile(
        ingest_pb2.MappingProfile(
            name="carrier",
            has_header=True,
            delimiter=";",
            columns=[
                ingest_pb2.ColumnMapping(field="uuid", column="Id"),
                ingest_pb2.ColumnMapping(field="destination_number", column="To"),
                ingest_pb2.ColumnMapping(field="start_time", column="Start"),
                ingest_pb2.ColumnMapping(field="duration", column="Secs"),
            ],
        )
    )
    assert [p.name for p in stub.ListMappingProfiles(ingest_pb2.ListMappingProfilesRequest()).profiles] == ["carrier"]
    path = tmp_path / "carrier.csv"
    path.write_text("Id;To;Start;Secs\nc1;0612345678;2024-03-05 10:00:00;42\nc2;0612345679;2024-03-05 10:01:00;7\n")
    ok = cli(str(path), "--switch", "pbx", "--format", "generic_csv", "--mapping", "carrier", "--grpc", address)
    assert ok.returncode == 0, ok.stderr
    assert "2 lines, 2 accepted" in ok.stdout

    unknown = cli(str(path), "--switch", "nope", "--format", "asterisk_csv", "--grpc", address)
    assert unknown.returncode == 2 and "NOT_FOUND" in unknown.stderr
    missing = cli(str(path), "--switch", "pbx", "--format", "generic_csv", "--mapping", "other", "--grpc", address)
    assert missing.returncode == 2 and "no mapping profile named 'other'" in missing.stderr
    down = cli(str(path), "--switch", "pbx", "--format", "asterisk_csv", "--grpc", f"127.0.0.1:{free_port()}")
    assert down.returncode == 2 and "cannot connect" in down.stderr
