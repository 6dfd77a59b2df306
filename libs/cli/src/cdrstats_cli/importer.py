"""``cdrstats import FILE --switch S --format F``: stream a CDR file to ingest's ImportFile, with progress.

The file goes in 64 KiB chunks (constant memory at both ends). Exit codes: 0 when every
line was accepted or a duplicate, 1 when some lines were rejected, 2 on usage or
connection errors.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time
from collections.abc import Iterator
from typing import TextIO

import grpc

from cdrstats.ingest.v1 import ingest_pb2, ingest_pb2_grpc

CHUNK_BYTES = 64 * 1024
FORMATS = ("freeswitch_csv", "freeswitch_csv_asterisk", "freeswitch_csv_sql", "asterisk_csv", "generic_csv")
SHOWN_REJECTS = 10
CONNECT_TIMEOUT_S = 5
BAR_WIDTH = 30


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("import", help="import a CDR file (FreeSWITCH / Asterisk CSV, generic CSV)")
    parser.add_argument("file", type=pathlib.Path, help="the CDR file")
    parser.add_argument("--switch", required=True, help="id of the switch the CDRs belong to")
    parser.add_argument("--format", required=True, choices=FORMATS, help="file format")
    parser.add_argument("--mapping", default="", help="generic_csv: name of a saved mapping profile")
    parser.add_argument("--grpc", default="", help="ingest gRPC address (default: this machine's run)")


class Progress:
    """A plain-text progress bar on stderr (bytes sent of the file's size), redrawn at most 10 times a second."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out, self.sent, self.last = total, out, 0, 0.0
        self.started = time.monotonic()

    def advance(self, count: int) -> None:
        self.sent += count
        now = time.monotonic()
        if now - self.last >= 0.1 or self.sent >= self.total:
            self.last = now
            self.draw()

    def draw(self) -> None:
        share = self.sent / self.total if self.total else 1.0
        filled = int(share * BAR_WIDTH)
        rate = self.sent / max(time.monotonic() - self.started, 1e-6) / 1_048_576
        self.out.write(
            f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {share:6.1%} "
            f"{self.sent / 1_048_576:.1f}/{self.total / 1_048_576:.1f} MiB {rate:.1f} MiB/s"
        )
        self.out.flush()

    def finish(self) -> None:
        self.draw()
        self.out.write("\n")


def requests(args: argparse.Namespace, size: int, progress: Progress) -> Iterator[ingest_pb2.ImportFileRequest]:
    header = ingest_pb2.ImportHeader(
        switch_id=args.switch,
        format=args.format,
        file_name=args.file.name,
        size_bytes=size,
        mapping_profile=args.mapping,
    )
    yield ingest_pb2.ImportFileRequest(header=header)
    with args.file.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield ingest_pb2.ImportFileRequest(chunk=chunk)
            progress.advance(len(chunk))


def summary(result: ingest_pb2.ImportResult) -> str:
    lines = [
        f"import {result.job_id}: {result.lines} lines, {result.accepted} accepted, "
        f"{result.duplicates} duplicates, {result.rejected} rejected"
    ]
    for reject in result.rejects[:SHOWN_REJECTS]:
        lines.append(f"  line {reject.index}: {reject.reason}")
    if result.rejected > SHOWN_REJECTS:
        lines.append(f"  ... and {result.rejected - SHOWN_REJECTS} more (all are kept in the rejects store)")
    return "\n".join(lines)


def run(
    args: argparse.Namespace, default_addr: str, *, stdout: TextIO = sys.stdout, stderr: TextIO = sys.stderr
) -> int:
    if args.format == "generic_csv" and not args.mapping:
        print("--format generic_csv needs --mapping NAME (a saved mapping profile)", file=stderr)
        return 2
    try:
        size = os.stat(args.file).st_size
    except OSError as exc:
        print(f"cannot read {args.file}: {exc.strerror}", file=stderr)
        return 2
    progress = Progress(size, stderr)
    address = args.grpc or default_addr
    try:
        with grpc.insecure_channel(address) as channel:
            grpc.channel_ready_future(channel).result(timeout=CONNECT_TIMEOUT_S)
            result = ingest_pb2_grpc.IngestServiceStub(channel).ImportFile(requests(args, size, progress))
    except grpc.FutureTimeoutError:
        print(f"\ncannot connect to ingest at {address}", file=stderr)
        return 2
    except grpc.RpcError as exc:
        print(f"\nimport failed: {exc.code().name}: {exc.details()}", file=stderr)
        return 2
    except OSError as exc:
        print(f"\ncannot read {args.file}: {exc}", file=stderr)
        return 2
    progress.finish()
    print(summary(result), file=stdout)
    return 1 if result.rejected else 0
