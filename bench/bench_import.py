"""File import throughput and memory: ``python bench/bench_import.py SIZE_MB [--format asterisk_csv]``.

Generates an Asterisk Master.csv (or FreeSWITCH mod_cdr_csv) file of about SIZE_MB,
imports it into a fresh SQLite store through the ImportFile use-case (the path the gRPC
api runs), and prints rows/s and the process's peak RSS measured after the first tenth
of the file and at the end: a flat peak is what makes a 1 GB file import in constant memory.
Destinations come from a pool of 5,000 numbers (real traffic repeats destinations; number
analysis is cached per number).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import resource
import sys
import tempfile
import time
from collections.abc import Iterator

from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.imports import FileImports, make_format
from cdrstats_ingest.store.sqlite import SqliteCdrStore

CHUNK = 64 * 1024


def asterisk_line(n: int) -> str:
    minute, second = divmod(n % 3600, 60)
    answered = n % 4 != 0
    answer = f'"2024-03-05 14:{minute:02d}:{second:02d}"' if answered else ""
    return (
        f'"acme","01456{n % 100000:05d}","06{n * 7919 % 5000:08d}","from-trunk","""Caller {n}"" <01456{n % 100000:05d}>",'
        f'"SIP/carrier-{n:08x}","SIP/1001-{n:08x}","Dial","SIP/1001,30","2024-03-05 14:{minute:02d}:{second:02d}",'
        f'{answer},"2024-03-05 14:{minute:02d}:{second:02d}",{n % 300},{(n % 300) if answered else 0},'
        f'"{"ANSWERED" if answered else "NO ANSWER"}","DOCUMENTATION","1709640000.{n}",""\n'
    )


def freeswitch_line(n: int) -> str:
    minute, second = divmod(n % 3600, 60)
    stamp = f"2024-03-05 14:{minute:02d}:{second:02d}"
    return (
        f'"Caller {n}","1{n % 1000:03d}","06{n * 7919 % 5000:08d}","default","{stamp}","{stamp}","{stamp}",'
        f'"{n % 300}","{n % 300}","NORMAL_CLEARING","{n:08x}-0000-4000-8000-000000000000","","acme","PCMA","PCMA"\n'
    )


def generate(path: pathlib.Path, size_mb: float, fmt: str) -> int:
    line = asterisk_line if fmt == "asterisk_csv" else freeswitch_line
    target, written, n = int(size_mb * 1_048_576), 0, 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            text = line(n)
            out.write(text)
            written += len(text)
            n += 1
    return n


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("size_mb", type=float)
    parser.add_argument("--format", default="asterisk_csv", choices=["asterisk_csv", "freeswitch_csv"])
    parser.add_argument("--json", action="store_true", help="print one JSON object (for tests)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "Master.csv"
        lines = generate(path, args.size_mb, args.format)
        size = path.stat().st_size
        store = SqliteCdrStore.open(f"sqlite:///{tmp}/ingest.db")
        switch = SwitchConfig(id="pbx", home_country="FR", time_zone="Europe/Paris")
        store.upsert_switch(switch, None)
        marks: dict[str, float] = {}

        def chunks() -> Iterator[bytes]:
            sent = 0
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    sent += len(chunk)
                    if "tenth" not in marks and sent >= size / 10:
                        marks["tenth"] = peak_rss_mb()
                    yield chunk

        started = time.perf_counter()
        outcome = FileImports(store).run(switch, make_format(args.format), chunks(), file_name=path.name)
        elapsed = time.perf_counter() - started
        store.close()
    result = {
        "size_mb": round(size / 1_048_576, 1),
        "lines": lines,
        "accepted": outcome.job.accepted,
        "rejected": outcome.job.rejected,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(lines / elapsed),
        "peak_rss_mb_after_first_tenth": round(marks.get("tenth", 0.0), 1),
        "peak_rss_mb_at_end": round(peak_rss_mb(), 1),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
