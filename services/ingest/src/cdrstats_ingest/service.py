"""Ingest use-cases: authenticate switches, normalise what they send, store it with its event."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cdrstats_common import prom
from cdrstats_common.argon2_slots import ARGON2_SLOTS
from cdrstats_ingest.domain import normalise as normalise
from cdrstats_ingest.domain.errors import BadCredentials, InvalidCdr, NotFound, UnknownSwitch
from cdrstats_ingest.domain.switch import SwitchConfig, redact_dsn
from cdrstats_ingest.domain.switch_rules import InvalidSwitch, validate_switch
from cdrstats_ingest.store import CdrStore, StoredSwitch
from cdrstats_ingest.store.interface import RejectRecord

log = logging.getLogger(__name__)


@dataclasses.dataclass
class RecordResult:
    index: int
    status: str  # accepted, duplicate, rejected
    id: str = ""
    reason: str = ""
    reject_id: str = ""


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
            with ARGON2_SLOTS:
                self.hasher.verify(stored.password_hash, password)
        except (VerificationError, InvalidHashError) as exc:
            raise BadCredentials(f"wrong password for switch user {username!r}") from exc
        self._verified[username] = digest
        return stored.config

    def upsert_switch(self, config: SwitchConfig, password: str = "") -> SwitchConfig:
        """Create or update; raises InvalidSwitch naming the field. Empty passwords keep the saved ones."""
        if password and not config.username:
            config = dataclasses.replace(config, username=config.id)
        validate_switch(config)
        if config.username:
            owner = self.store.find_switch_by_username(config.username)
            if owner is not None and owner.config.id != config.id:
                raise InvalidSwitch(
                    f"the user {config.username!r} already belongs to switch {owner.config.id!r}",
                    field="switch.username",
                )
        current = self.store.get_switch(config.id)
        if current is not None:
            self._verified.pop(current.config.username, None)
            if not config.connector.password:  # write only: the admin pages never have it to send back
                kept = dataclasses.replace(config.connector, password=current.config.connector.password)
                config = dataclasses.replace(config, connector=kept)
            if config.connector.dsn and config.connector.dsn == redact_dsn(current.config.connector.dsn):
                # the masked DSN the API showed came back unchanged: keep the password it hides
                kept = dataclasses.replace(config.connector, dsn=current.config.connector.dsn)
                config = dataclasses.replace(config, connector=kept)
        self._verified.pop(config.username, None)
        password_hash = None
        if password:
            with ARGON2_SLOTS:
                password_hash = self.hasher.hash(password)
        return self.store.upsert_switch(config, password_hash)

    # -- switch registry (GetSwitch, ListSwitches, DeleteSwitch) ---------------
    def get_switch(self, switch_id: str) -> StoredSwitch:
        stored = self.store.get_switch(switch_id)
        if stored is None:
            raise UnknownSwitch(f"no switch with id {switch_id!r}")
        return stored

    def list_switches(self) -> list[StoredSwitch]:
        """Every switch with its password state (a handful of switches: one look-up each is fine)."""
        found = (self.store.get_switch(config.id) for config in self.store.list_switches())
        return [stored for stored in found if stored is not None]

    def delete_switch(self, switch_id: str) -> None:
        """Its CDRs stay; from now on its pushes are refused and its connector is not polled."""
        stored = self.get_switch(switch_id)
        self._verified.pop(stored.config.username, None)
        if not self.store.delete_switch(switch_id):
            raise UnknownSwitch(f"no switch with id {switch_id!r}")

    def switch(self, switch_id: str) -> SwitchConfig:
        stored = self.store.get_switch(switch_id)
        if stored is None:
            raise UnknownSwitch(f"no switch with id {switch_id!r}")
        return stored.config

    # -- CDRs -----------------------------------------------------------------
    def submit(self, switch: SwitchConfig, cdrs: list[dict[str, Any]], first_index: int = 0) -> list[RecordResult]:
        """Bulk canonical CDRs: a bad record is rejected with its reason, its neighbours still land."""
        results: list[RecordResult] = []
        good: list[tuple[int, dict[str, Any]]] = []
        rejected: list[tuple[RecordResult, RejectRecord]] = []
        for offset, received in enumerate(cdrs):
            index = first_index + offset
            cdr = {**received, "switch_id": switch.id, "source": received.get("source") or "api"}
            try:
                cdr = normalise.enrich(cdr, switch)
                normalise.validate(cdr)
            except InvalidCdr as exc:
                reason = str(exc)
                raw = json.dumps(received, default=str, sort_keys=True)
                location = f"record {index} of a SubmitCdrs stream"
                rejected.append(
                    (
                        RecordResult(index, "rejected", reason=reason),
                        RejectRecord(switch.id, "api", reason, raw, location),
                    )
                )
                prom.CDRS.labels(cdr["source"], "rejected").inc()
                continue
            good.append((index, cdr))
        if rejected:  # kept with the raw record, so an admin can see and re-import them
            reject_ids = self.store.add_rejects([record for _, record in rejected])
            for (result, _), reject_id in zip(rejected, reject_ids, strict=True):
                result.reject_id = reject_id
                results.append(result)
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
