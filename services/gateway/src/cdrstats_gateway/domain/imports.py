"""CSV import jobs the gateway tracks while it streams an upload to ingest (progress for the page).

In-process state: one gateway replica serves an upload from start to end, and the
page that polls it talks to the same process (the job lives as long as the upload
plus a little history; the durable record is ingest's import job and rejects store).
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import AsyncIterator, Callable

from cdrstats_gateway.domain.switches import ImportOutcome

MAX_JOBS = 200
#: a job created for an upload that never came may be dropped after this long
WAIT_S = 3600.0
MAX_IMPORT_BYTES = 2 * 1024**3


class ImportTooLarge(Exception):
    """The upload went past MAX_IMPORT_BYTES."""


@dataclasses.dataclass
class ImportJob:
    id: str
    owner_id: int
    created_at: float
    state: str = "waiting"  # waiting, uploading, done, failed
    file_name: str = ""
    switch_id: str = ""
    format: str = ""
    size_bytes: int = 0
    sent_bytes: int = 0
    outcome: ImportOutcome | None = None
    error: str = ""
    finished_at: float | None = None

    @property
    def progress(self) -> int:
        """Percent of the file ingest has read; 100 only once ingest has answered."""
        if self.state == "done":
            return 100
        if self.size_bytes <= 0:
            return 0
        return min(99, self.sent_bytes * 100 // self.size_bytes)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


class ImportTracker:
    """Jobs by id; a job is visible to its owner only (another user's id looks unknown)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._jobs: dict[str, ImportJob] = {}

    def create(self, owner_id: int) -> ImportJob:
        if len(self._jobs) >= MAX_JOBS:
            now = self.clock()
            done = [
                j for j in self._jobs.values() if j.finished or (j.state == "waiting" and j.created_at < now - WAIT_S)
            ]
            for job in sorted(done, key=lambda j: j.created_at)[: len(self._jobs) - MAX_JOBS + 1]:
                del self._jobs[job.id]
        job = ImportJob(secrets.token_urlsafe(12), owner_id, self.clock())
        self._jobs[job.id] = job
        return job

    def get(self, job_id: str, owner_id: int) -> ImportJob | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.owner_id == owner_id else None

    def of_owner(self, owner_id: int, limit: int = 20) -> list[ImportJob]:
        jobs = [j for j in self._jobs.values() if j.owner_id == owner_id]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit]

    def finish(self, job: ImportJob, outcome: ImportOutcome) -> None:
        job.outcome, job.state, job.finished_at = outcome, "done", self.clock()

    def fail(self, job: ImportJob, error: str) -> None:
        job.error, job.state, job.finished_at = error, "failed", self.clock()


async def counted(job: ImportJob, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Pass chunks through, counting what ingest has been sent (the progress bar's numerator)."""
    job.state = "uploading"
    async for chunk in chunks:
        job.sent_bytes += len(chunk)
        if job.sent_bytes > MAX_IMPORT_BYTES:
            raise ImportTooLarge(f"file: at most {MAX_IMPORT_BYTES} bytes")
        yield chunk
