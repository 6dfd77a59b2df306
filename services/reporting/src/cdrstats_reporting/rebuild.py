"""``cdrstats reporting rebuild``: wipe the roll-ups and replay every stored CDR from ingest's ReplayCdrs.

Safe to rerun (each run starts from an empty store). Run it with the reporting worker
stopped: each replayed batch raises a watermark (the last CDR id, ingest order) in the
same transaction, and when the worker starts again it skips the CDRs at or below it in
the events that queued up meanwhile, so nothing is counted twice. Needed after a change
of CDRSTATS_TIME_ZONE (every bucket key changes) or to recover a lost store.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from cdrstats_common.settings import SettingsError
from cdrstats_reporting.settings import ReportingSettings
from cdrstats_reporting.store import ZoneMismatch, open_store


def replay_into(url: str, time_zone: str, batches: Iterable[list[dict[str, Any]]], out: Callable[[str], None]) -> int:
    """Wipe the store at ``url`` and apply ``batches``; returns the number of CDRs applied."""
    store = open_store(url, time_zone, wipe=True)
    applied, began = 0, time.monotonic()
    try:
        for batch in batches:
            store.apply_replayed(batch)
            applied += len(batch)
            if applied and applied % 100_000 < len(batch):
                out(f"  {applied:,} CDRs replayed ({applied / (time.monotonic() - began):,.0f}/s)")
    finally:
        store.close()
    return applied


def worker_running(url: str, time_zone: str) -> bool:
    try:
        store = open_store(url, time_zone)
    except ZoneMismatch:
        return False  # a worker cannot run on roll-ups of another zone: it refuses to start
    try:
        return store.worker_alive()
    finally:
        store.close()


def main(argv: list[str] | None = None, out: Callable[[str], None] = print) -> int:
    parser = argparse.ArgumentParser(prog="cdrstats reporting rebuild", description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even though the reporting worker beats")
    parser.add_argument("--batch-size", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        settings = ReportingSettings.from_env()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not settings.ingest_grpc_addr:
        print("INGEST_GRPC_ADDR: required by a rebuild (ingest's ReplayCdrs)", file=sys.stderr)
        return 2
    if worker_running(settings.store_url, settings.time_zone) and not args.force:
        print("the reporting worker is running: stop it first (or pass --force)", file=sys.stderr)
        return 1
    from cdrstats_reporting.ingest_client import IngestClient

    client = IngestClient(settings.ingest_grpc_addr)
    out(f"rebuilding {settings.store_url} in time zone {settings.time_zone} from ingest at {client.address}")
    try:
        applied = replay_into(settings.store_url, settings.time_zone, client.replay("", args.batch_size), out)
    finally:
        client.close()
    out(f"rebuilt: {applied:,} CDRs applied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
