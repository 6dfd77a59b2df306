"""Ingest use-cases: authenticate switches, normalise what they send, store it with its event."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cdrstats_common import prom
from cdrstats_ingest.domain import freeswitch_json as freeswitch_json
from cdrstats_ingest.domain import normalise as normalise
from cdrstats_ingest.domain.errors import BadCredentials, InvalidCdr, NotFound, UnknownSwitch
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.store import CdrStore

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RecordResult:
    index: int
    status: str  # accepted, duplicate, rejected
    id: str = ""
    reason: str = ""


class IngestService:
    def __init__(self, store: CdrStore, hasher: PasswordHasher | None = None) -> None:
        self.store = store
        self.hasher = hasher or PasswordHasher()
        # argon2 costs tens of ms by design; remember passwords already verified (by digest)
        self._verified: dict[str, bytes] = {}

    # -- switches -------------------------------------------------------------
    def authenticate(self, username: str, password: str) -> SwitchConfig:
        stored = self.store.find_switch_by_username(username)
        if stored is None:
            raise UnknownSwitch(f"no switch has the user {username!r}")
        if not stored.config.enabled:
            raise BadCredentials(f"switch {stored.config.id!r} is disabled")
        digest = hashlib.sha256(f"{stored.password_hash}\0{password}".encode()).digest()
        cached = self._verified.get(username)
        if cached is not None and hmac.compare_digest(cached, digest):
            return stored.config
        try:
            self.hasher.verify(stored.password_hash, password)
        except (VerificationError, InvalidHashError) as exc:
            raise BadCredentials(f"wrong password for switch user {username!r}") from exc
        self._verified[username] = digest
        return stored.config

    def upsert_switch(self, config: SwitchConfig, password: str = "") -> SwitchConfig:
        if not config.id:
            raise InvalidCdr("a switch needs an id", field="switch.id")
        if password and not config.username:
            config = dataclasses.replace(config, username=config.id)
        self._verified.pop(config.username, None)
        return self.store.upsert_switch(config, self.hasher.hash(password) if password else None)

    def switch(self, switch_id: str) -> SwitchConfig:
        stored = self.store.get_switch(switch_id)
        if stored is None:
            raise UnknownSwitch(f"no switch with id {switch_id!r}")
        return stored.config

    # -- CDRs -----------------------------------------------------------------
    def receive_freeswitch_json(
        self, switch: SwitchConfig, body: bytes, content_type: str, uuid_hint: str = ""
    ) -> RecordResult:
        """One mod_json_cdr POST: one leg. Raises InvalidCdr naming what is wrong."""
        try:
            document = freeswitch_json.decode_body(body, content_type)
            cdr = freeswitch_json.normalise(document, switch, uuid_hint=uuid_hint)  # enriched and validated
        except InvalidCdr:
            prom.CDRS.labels("freeswitch_json", "rejected").inc()
            raise
        outcome = self.store.add_cdrs([cdr])
        prom.CDRS.labels("freeswitch_json", outcome.statuses[0]).inc()
        return RecordResult(0, outcome.statuses[0], outcome.ids[0])

    def submit(self, switch: SwitchConfig, cdrs: list[dict[str, Any]], first_index: int = 0) -> list[RecordResult]:
        """Bulk canonical CDRs: a bad record is rejected with its reason, its neighbours still land."""
        results: list[RecordResult] = []
        good: list[tuple[int, dict[str, Any]]] = []
        for offset, cdr in enumerate(cdrs):
            index = first_index + offset
            cdr = {**cdr, "switch_id": switch.id, "source": cdr.get("source") or "api"}
            try:
                cdr = normalise.enrich(cdr, switch)
                normalise.validate(cdr)
            except InvalidCdr as exc:
                results.append(RecordResult(index, "rejected", reason=str(exc)))
                prom.CDRS.labels(cdr["source"], "rejected").inc()
                continue
            good.append((index, cdr))
        if good:
            outcome = self.store.add_cdrs([cdr for _, cdr in good])
            for (index, cdr), status, cdr_id in zip(good, outcome.statuses, outcome.ids, strict=True):
                results.append(RecordResult(index, status, cdr_id))
                prom.CDRS.labels(cdr["source"], status).inc()
        results.sort(key=lambda r: r.index)
        return results

    def get_cdr(self, cdr_id: str, *, admin: bool, allowed_accountcodes: list[str]) -> dict[str, Any]:
        cdr = self.store.get_cdr(cdr_id)
        if cdr is None or (not admin and cdr["accountcode"] not in allowed_accountcodes):
            raise NotFound(f"no CDR {cdr_id!r}")  # same answer for "not yours": ids can't be probed
        return cdr

    def status(self) -> tuple[int, int]:
        return self.store.cdr_count(), self.store.outbox_pending()
