"""Use-cases of the switches that push: FreeSWITCH CDR POSTs (JSON and XML) and live call state.

A CDR body that cannot be read is refused (the switch keeps it and retries, then
writes it to disk) and kept in the rejects store with its raw body, so an admin
sees it at once. Call-state events are ephemeral: a bad one is answered and
logged, not kept.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from cdrstats_common import prom
from cdrstats_ingest.domain import callstate, freeswitch_json, freeswitch_xml
from cdrstats_ingest.domain.errors import InvalidCdr
from cdrstats_ingest.domain.switch import SwitchConfig
from cdrstats_ingest.store import CdrStore
from cdrstats_ingest.store.interface import RejectRecord

log = logging.getLogger(__name__)

FORMATS = {"json": freeswitch_json.SOURCE, "xml": freeswitch_xml.SOURCE}


@dataclasses.dataclass(frozen=True)
class PushResult:
    status: str  # accepted or duplicate
    id: str


@dataclasses.dataclass
class CallStateOutcome:
    accepted: int = 0
    rejected: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # {"index", "field", "reason"}


class PushReceiver:
    def __init__(self, store: CdrStore) -> None:
        self.store = store

    def receive_freeswitch(
        self,
        switch: SwitchConfig,
        body: bytes,
        *,
        fmt: str,
        content_type: str = "",
        uuid_hint: str = "",
        location: str = "",
    ) -> PushResult:
        """One mod_json_cdr / mod_xml_cdr POST (one leg). Raises InvalidCdr naming what is wrong, after keeping it."""
        source = FORMATS[fmt]
        try:
            cdr = self._parse(switch, body, fmt=fmt, content_type=content_type, uuid_hint=uuid_hint)
        except InvalidCdr as exc:
            prom.CDRS.labels(source, "rejected").inc()
            self._keep_reject(switch, source, body, str(exc), location)
            raise
        outcome = self.store.add_cdrs([cdr])
        prom.CDRS.labels(source, outcome.statuses[0]).inc()
        return PushResult(outcome.statuses[0], outcome.ids[0])

    def receive_call_states(self, switch: SwitchConfig, body: bytes) -> CallStateOutcome:
        """A call-state POST: one event or a list; each is published or rejected on its own."""
        outcome = CallStateOutcome()
        for index, raw in enumerate(callstate.parse_body(body)):
            try:
                event = callstate.normalise(raw, switch)
            except InvalidCdr as exc:
                outcome.rejected.append({"index": index, "field": exc.field, "reason": str(exc)})
                continue
            self.store.add_call_state(event)
            outcome.accepted += 1
        if outcome.rejected:
            log.warning(
                "call-state events refused",
                extra={
                    "fields": {"switch": switch.id, "rejected": len(outcome.rejected), "first": outcome.rejected[0]}
                },
            )
        return outcome

    @staticmethod
    def _parse(switch: SwitchConfig, body: bytes, *, fmt: str, content_type: str, uuid_hint: str) -> dict[str, Any]:
        if fmt == "xml":
            return freeswitch_xml.normalise(freeswitch_xml.decode_body(body, content_type), switch, uuid_hint=uuid_hint)
        document = freeswitch_json.decode_body(body, content_type)
        return freeswitch_json.normalise(document, switch, uuid_hint=uuid_hint)

    def _keep_reject(self, switch: SwitchConfig, source: str, body: bytes, reason: str, location: str) -> None:
        raw = body.decode("utf-8", errors="backslashreplace")
        try:
            self.store.add_rejects([RejectRecord(switch.id, source, reason, raw, location)])
        except Exception:  # the 400 still goes out; the switch keeps the CDR and retries
            log.exception("could not keep a rejected CDR", extra={"fields": {"switch": switch.id, "source": source}})
