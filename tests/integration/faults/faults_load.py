"""The load generator: threads that send the plan like switches and API clients do, and a ledger of answers.

A sender retries the same payload on a refused or dropped connection, a timeout or a 5xx, as mod_json_cdr
and any sane client do, until the product answers (or the deadline passes: then the test fails). Each
record's final answer goes to the ``Ledger``: stored (accepted or duplicate) or rejected with its reason.
A failure after the request may have reached the product (dropped connection, timeout, 5xx) makes the
retry ``ambiguous``: its records may come back as duplicates, and a bad one may be kept twice.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import http.client
import json
import threading
import time
import urllib.parse
from typing import Any

import faults_cdrs as cdrs
from faults_plan import Item, Plan, Submission

REQUEST_TIMEOUT_S = 60.0
GIVE_UP_S = 240.0  # per request: longer than any fault of the run keeps a part away
THREADS = {"push": 4, "bulk": 2, "csv": 1}


@dataclasses.dataclass
class Target:
    ingest: tuple[str, int]
    gateway: tuple[str, int]
    switch_keys: dict[str, str]
    token: str
    seed: int
    now_us: int


@dataclasses.dataclass
class Ledger:
    stored: dict[tuple[str, str], list[str]] = dataclasses.field(default_factory=dict)
    rejected: dict[str, str] = dataclasses.field(default_factory=dict)
    ambiguous_markers: set[str] = dataclasses.field(default_factory=set)
    wrong: list[str] = dataclasses.field(default_factory=list)
    answers: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    failures: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    requests: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    retried_requests: int = 0
    ambiguous_requests: int = 0
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def store(self, key: tuple[str, str], answer: str) -> None:
        with self.lock:
            self.stored.setdefault(key, []).append(answer)
            self.answers[answer] += 1

    def reject(self, marker: str, reason: str, ambiguous: bool) -> None:
        with self.lock:
            self.rejected[marker] = reason
            self.answers["rejected"] += 1
            if ambiguous:
                self.ambiguous_markers.add(marker)

    def fail(self, what: str) -> None:
        with self.lock:
            self.wrong.append(what)

    def count(self, counter: collections.Counter[str], key: str) -> None:
        with self.lock:
            counter[key] += 1


class Sender:
    def __init__(self, target: Target, ledger: Ledger) -> None:
        self.target = target
        self.ledger = ledger

    def cdr(self, item: Item) -> dict[str, Any]:
        return cdrs.make_cdr(
            item.number, item.switch, self.target.now_us, seed=self.target.seed, whole_seconds=item.source == "csv"
        )

    def request(self, submission: Submission) -> tuple[tuple[str, int], str, str, bytes, dict[str, str]]:
        """(address, method, path, body, headers) of a submission."""
        bearer = {"Authorization": f"Bearer {self.target.token}"}
        if submission.channel in ("json", "xml"):
            (item,) = submission.items
            good = self.cdr(item)
            build = {"json": (cdrs.json_body, cdrs.bad_json), "xml": (cdrs.xml_body, cdrs.bad_xml)}[submission.channel]
            body = build[1](item.marker, good, item.variant) if item.marker else build[0](good)
            switch_id = item.switch[0]
            auth = base64.b64encode(f"{switch_id}:{self.target.switch_keys[switch_id]}".encode()).decode()
            kind = "application/json" if submission.channel == "json" else "text/xml"
            path = f"/v1/freeswitch/{submission.channel}?uuid={urllib.parse.quote(item.marker or good['uuid'])}"
            return self.target.ingest, "POST", path, body, {"Content-Type": kind, "Authorization": f"Basic {auth}"}
        if submission.channel == "bulk":
            records = [
                cdrs.bad_bulk(i.marker, self.cdr(i), i.variant) if i.marker else cdrs.bulk_record(self.cdr(i))
                for i in submission.items
            ]
            body = json.dumps({"switch_id": submission.name, "cdrs": records}).encode()
            return self.target.gateway, "POST", "/api/v1/cdrs", body, {**bearer, "Content-Type": "application/json"}
        lines = [
            cdrs.bad_csv(i.marker, self.cdr(i), i.variant) if i.marker else cdrs.csv_line(cdrs.csv_fields(self.cdr(i)))
            for i in submission.items
        ]
        query = urllib.parse.urlencode(
            {"switch_id": "fs-csv", "format": "freeswitch_csv", "file_name": submission.name}
        )
        headers = {**bearer, "Content-Type": "text/csv"}
        return self.target.gateway, "POST", f"/api/v1/imports?{query}", "".join(lines).encode(), headers

    def send(self, submission: Submission) -> None:
        address, method, path, body, headers = self.request(submission)
        deadline = time.monotonic() + GIVE_UP_S
        ambiguous = retried = False
        while True:
            self.ledger.count(self.ledger.requests, submission.channel)
            try:
                status, reply = post(address, method, path, body, headers)
            except ConnectionRefusedError:
                cause = "refused"
            except (OSError, http.client.HTTPException) as exc:  # reset, dropped, timed out: may have been processed
                cause, ambiguous = type(exc).__name__, True
            else:
                if status < 500:
                    break
                cause, ambiguous = f"http {status}", True
            retried = True
            self.ledger.count(self.ledger.failures, f"{submission.channel}: {cause}")
            if time.monotonic() > deadline:
                self.ledger.fail(f"{submission.channel} {path}: gave up after {GIVE_UP_S} s ({cause})")
                return
            time.sleep(0.3)
        with self.ledger.lock:
            self.ledger.retried_requests += retried
            self.ledger.ambiguous_requests += ambiguous
        self.record(submission, status, reply, ambiguous)

    def record(self, submission: Submission, status: int, reply: dict[str, Any], ambiguous: bool) -> None:
        seed = self.target.seed
        if submission.channel in ("json", "xml"):
            (item,) = submission.items
            if item.marker and status == 400:
                self.ledger.reject(item.marker, str(reply.get("message", "")), ambiguous)
            elif not item.marker and status == 200:
                self.ledger.store((item.switch[0], cdrs.uuid_of(item.switch[0], item.number, seed)), reply["status"])
            else:
                self.ledger.fail(f"{submission.channel} {item}: answered {status} {reply}")
            return
        if status != 200:
            self.ledger.fail(f"{submission.channel} {submission.name}: answered {status} {str(reply)[:300]}")
            return
        result = reply if submission.channel == "bulk" else reply.get("result") or {}
        offset = 0 if submission.channel == "bulk" else 1  # rejects name a 0-based index / a 1-based line
        reasons = {int(r.get("index", r.get("line", -1))) - offset: r["reason"] for r in result.get("rejects", [])}
        with self.ledger.lock:
            self.ledger.answers["accepted"] += int(result.get("accepted", 0))
            self.ledger.answers["duplicate"] += int(result.get("duplicates", 0))
        for position, item in enumerate(submission.items):
            if item.marker and position in reasons:
                self.ledger.reject(item.marker, reasons[position], ambiguous)
            elif not item.marker and position not in reasons:
                self.ledger.store((item.switch[0], cdrs.uuid_of(item.switch[0], item.number, seed)), "stored")
            else:
                self.ledger.fail(f"{submission.channel} {submission.name} #{position} {item}: {reasons.get(position)}")


def post(
    address: tuple[str, int], method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection(*address, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    try:
        reply = json.loads(data) if data else {}
    except ValueError:
        reply = {"text": data[:200].decode(errors="replace")}
    return response.status, reply if isinstance(reply, dict) else {"value": reply}


class LoadRun:
    """Every channel of the plan on its own threads, each channel paced to last at least ``duration_s``."""

    def __init__(self, plan: Plan, sender: Sender, duration_s: float) -> None:
        self.plan = plan
        self.sender = sender
        self.duration_s = duration_s
        self.done: collections.Counter[str] = collections.Counter()
        self.totals = {lane: len(subs) for lane, subs in plan.channels().items()}
        self._next: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.started = 0.0
        self.finished: dict[str, float] = {}

    def start(self) -> None:
        self.started = time.monotonic()
        for lane, count in THREADS.items():
            for n in range(count):
                thread = threading.Thread(target=self._work, args=(lane,), name=f"load-{lane}-{n}", daemon=True)
                thread.start()
                self._threads.append(thread)

    def progress(self) -> float:
        with self._lock:
            return sum(self.done.values()) / max(1, sum(self.totals.values()))

    def _work(self, lane: str) -> None:
        submissions = self.plan.channels()[lane]
        while True:
            with self._lock:
                index = self._next[lane]
                self._next[lane] += 1
            if index >= len(submissions):
                with self._lock:
                    self.finished.setdefault(lane, time.monotonic() - self.started)
                return
            due = self.started + self.duration_s * index / len(submissions)
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                self.sender.send(submissions[index])
            except Exception as exc:  # noqa: BLE001 - a bug in the generator must fail the test, not hang it
                self.sender.ledger.fail(f"{lane} #{index}: {exc!r}")
            with self._lock:
                self.done[lane] += 1

    def join(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)
