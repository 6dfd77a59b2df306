"""File imports and the rejects store's use-cases: stream a CDR file into the store, re-import rejects.

A file is read record by record from its chunks (constant memory, whatever its size);
good CDRs are stored in batches of ``batch_size`` through ``store.add_cdrs`` (the bulk
path: identity de-duplication, events through the outbox); every rejected line is kept
in the rejects store with its raw text, line number and reason. An import job record
follows progress and outcome.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from cdrstats_common import prom
from cdrstats_common.cdr import DEFAULTS
from cdrstats_ingest.domain import freeswitch_json, normalise
from cdrstats_ingest.domain.errors import InvalidCdr, NotFound, UnknownSwitch
from cdrstats_ingest.domain.files.asterisk_csv import AsteriskCsv
from cdrstats_ingest.domain.files.formats import FileFormat
from cdrstats_ingest.domain.files.freeswitch_csv import TEMPLATES, FreeswitchCsv
from cdrstats_ingest.domain.files.generic_csv import GenericCsv, MappingProfile
from cdrstats_ingest.domain.files.records import split_records
from cdrstats_ingest.domain.ids import new_id
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.store import CdrStore
from cdrstats_ingest.store.interface import ImportJob, RejectRecord

FORMATS = (*TEMPLATES, "asterisk_csv", "generic_csv")
BATCH_SIZE = 1000
MAX_REPORTED_REJECTS = 1000
#: re-parsers of other sources' rejects (raw text, switch) -> canonical CDR; push sources may add theirs
RETRY_PARSERS: dict[str, Callable[[str, SwitchConfig], dict[str, Any]]] = {
    "freeswitch_json": lambda raw, switch: freeswitch_json.normalise(
        freeswitch_json.decode_body(raw.encode(), "application/json"), switch
    ),
    "api": lambda raw, switch: {**DEFAULTS, "source": "api", **_json_object(raw), "switch_id": switch.id},
}


@dataclasses.dataclass
class RecordResult:
    index: int  # file line (1-based), or 0 for a single record
    status: str  # accepted, duplicate, rejected
    id: str = ""
    reason: str = ""
    reject_id: str = ""


@dataclasses.dataclass
class ImportOutcome:
    job: ImportJob
    rejects: list[RecordResult]  # the first MAX_REPORTED_REJECTS; all are in the rejects store


def make_format(name: str, mapping: MappingProfile | None = None, header: list[str] | None = None) -> FileFormat:
    """The reader of an import format; InvalidCdr naming ``format`` or the mapping when unusable."""
    if name in TEMPLATES:
        return FreeswitchCsv(name)
    if name == "asterisk_csv":
        return AsteriskCsv()
    if name == "generic_csv":
        if mapping is None:
            raise InvalidCdr("generic_csv needs a mapping profile (by name or inline)", field="mapping")
        return GenericCsv(mapping, header)
    raise InvalidCdr(f"unknown format {name!r}, expected one of {', '.join(FORMATS)}", field="format")


class FileImports:
    """Imports, mapping profiles and rejects over one store."""

    def __init__(self, store: CdrStore, *, batch_size: int = BATCH_SIZE, clock: Callable[[], float] = time.time):
        self.store = store
        self.batch_size = batch_size
        self.clock = clock

    # -- mapping profiles ------------------------------------------------------
    def save_profile(self, profile: MappingProfile) -> MappingProfile:
        if not profile.name.strip():
            raise InvalidCdr("a saved profile needs a name", field="mapping.name")
        profile.check()
        self.store.save_mapping_profile(profile.name, profile.to_dict())
        return profile

    def profile(self, name: str) -> MappingProfile:
        values = self.store.get_mapping_profile(name)
        if values is None:
            raise NotFound(f"no mapping profile named {name!r}")
        return MappingProfile.from_dict(values)

    def list_profiles(self) -> list[MappingProfile]:
        return [MappingProfile.from_dict(values) for values in self.store.list_mapping_profiles()]

    def delete_profile(self, name: str) -> None:
        if not self.store.delete_mapping_profile(name):
            raise NotFound(f"no mapping profile named {name!r}")

    # -- imports -------------------------------------------------------------------
    def run(
        self,
        switch: SwitchConfig,
        fmt: FileFormat,
        chunks: Iterable[bytes],
        *,
        file_name: str = "",
        size_bytes: int = 0,
    ) -> ImportOutcome:
        """Import a whole file; a bad line never stops it. InvalidCdr only for an unusable header."""
        job = ImportJob(new_id(), switch.id, fmt.name, file_name, size_bytes, started_at=self.clock())
        self.store.save_import_job(job)
        run = _Run(self, switch, fmt, job)
        try:
            run.consume(_counted(chunks, job))
        except BaseException as exc:
            job.status, job.error, job.finished_at = "failed", str(exc) or type(exc).__name__, self.clock()
            self.store.save_import_job(job)
            raise
        job.status, job.finished_at = "done", self.clock()
        self.store.save_import_job(job)
        return ImportOutcome(job, run.reported)

    # -- rejects -------------------------------------------------------------------
    def retry_reject(self, reject_id: str, raw: str = "") -> RecordResult:
        """Re-parse a reject (or its correction) with the switch's current settings; close it once stored."""
        stored = self.store.get_reject(reject_id)
        if stored is None:
            raise NotFound(f"no reject {reject_id!r}")
        record = stored.record
        found = self.store.get_switch(record.switch_id)
        if found is None:
            raise UnknownSwitch(f"the reject's switch {record.switch_id!r} is no longer registered")
        text = raw or record.raw
        try:
            cdr = normalise.enrich(_reparse(record, text, found.config), found.config)
            normalise.validate(cdr)
        except InvalidCdr as exc:
            return RecordResult(0, "rejected", reason=str(exc), reject_id=reject_id)
        outcome = self.store.add_cdrs([cdr])
        self.store.mark_reject_reimported(reject_id, outcome.ids[0])
        prom.CDRS.labels(cdr["source"], outcome.statuses[0]).inc()
        return RecordResult(0, outcome.statuses[0], outcome.ids[0], reject_id=reject_id)


class _Run:
    """One import's running state: the pending batch, the rejects, the counters of its job."""

    def __init__(self, owner: FileImports, switch: SwitchConfig, fmt: FileFormat, job: ImportJob) -> None:
        self.owner, self.switch, self.fmt, self.job = owner, switch, fmt, job
        self.where = job.file_name or "the file"
        self.batch: list[dict[str, Any]] = []
        self.bad: list[tuple[int, RejectRecord]] = []
        self.reported: list[RecordResult] = []

    def consume(self, chunks: Iterable[bytes]) -> None:
        records = split_records(chunks, quote=self.fmt.quote, backslash_escapes=self.fmt.backslash_escapes)
        for record in records:
            if record.error:
                self.reject(record.line, record.text, record.error)
            elif record.text.strip():
                self.parse(record.line, record.text)
            if len(self.batch) >= self.owner.batch_size or len(self.bad) >= self.owner.batch_size:
                self.flush()
        self.flush()

    def parse(self, line: int, text: str) -> None:
        try:
            fields = self.fmt.fields(text)
            if self.fmt.take_header(fields):  # an unusable header stops the import (InvalidCdr)
                return
            cdr = normalise.enrich(self.fmt.to_cdr(fields, self.switch), self.switch)
            normalise.validate(cdr)
        except InvalidCdr as exc:
            if exc.field == "header":
                raise InvalidCdr(f"line {line}: {exc}", field="header") from exc
            self.reject(line, text, str(exc))
            return
        self.batch.append(cdr)

    def reject(self, line: int, text: str, reason: str) -> None:
        record = RejectRecord(
            switch_id=self.switch.id,
            source=self.fmt.source,
            reason=reason,
            raw=text,
            location=f"line {line} of {self.where}",
            parser=json.dumps(self.fmt.context()),
        )
        self.bad.append((line, record))

    def flush(self) -> None:
        job, store = self.job, self.owner.store
        if self.batch:
            outcome = store.add_cdrs(self.batch)
            job.accepted += outcome.accepted
            job.duplicates += outcome.duplicates
            job.lines += len(self.batch)
            prom.CDRS.labels(self.fmt.source, "accepted").inc(outcome.accepted)
            prom.CDRS.labels(self.fmt.source, "duplicate").inc(outcome.duplicates)
            self.batch = []
        if self.bad:
            ids = store.add_rejects([record for _, record in self.bad])
            job.rejected += len(ids)
            job.lines += len(ids)
            prom.CDRS.labels(self.fmt.source, "rejected").inc(len(ids))
            room = MAX_REPORTED_REJECTS - len(self.reported)
            for (line, record), reject_id in list(zip(self.bad, ids, strict=True))[: max(room, 0)]:
                self.reported.append(RecordResult(line, "rejected", reason=record.reason, reject_id=reject_id))
            self.bad = []
        store.save_import_job(job)


def _counted(chunks: Iterable[bytes], job: ImportJob) -> Iterator[bytes]:
    for chunk in chunks:
        job.bytes_read += len(chunk)
        yield chunk


def _reparse(record: RejectRecord, text: str, switch: SwitchConfig) -> dict[str, Any]:
    context = json.loads(record.parser) if record.parser else {}
    name = context.get("format", "")
    if name in FORMATS:
        mapping = MappingProfile.from_dict(context["mapping"]) if context.get("mapping") else None
        fmt = make_format(name, mapping, context.get("header"))
        records = list(split_records([text.encode()], quote=fmt.quote, backslash_escapes=fmt.backslash_escapes))
        if len(records) != 1 or records[0].error:
            raise InvalidCdr("expected exactly one record", field="raw")
        return fmt.to_cdr(fmt.fields(records[0].text), switch)
    parser = RETRY_PARSERS.get(record.source)
    if parser is None:
        raise InvalidCdr(f"records from {record.source!r} cannot be re-imported", field="source")
    return parser(text, switch)


def _json_object(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise InvalidCdr(f"not JSON: {exc}", field="raw") from None
    if not isinstance(value, dict):
        raise InvalidCdr("expected a JSON object (a canonical CDR)", field="raw")
    return value
