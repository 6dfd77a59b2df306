"""Mail-report schedules on MongoDB: a mixin of MongoNotifyStore (``self.db``; ``self.enqueue`` from the
deliveries mixin). One document per owner in ``mail_reports``, ``_id`` = the owner.

Without a replica set there is no transaction over the schedule and the deliveries, so a claim is two
steps that can each be redone: (1) one conditional update moves the watermark and parks the rendered
e-mails in the schedule (``pending.<kind>``); (2) they are queued with ``enqueue(event_id=...)``, at most
once per (owner, kind, period), and the parked copy is removed. A process that dies between the steps
leaves the parked copy; ``finish_report_claims`` (every scheduling run) queues it, still only once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from cdrstats_notify.domain.deliveries import Delivery
from cdrstats_notify.domain.mail_report import KINDS, Schedule

MAIL_REPORTS = "mail_reports"
_SETTINGS = ("daily", "weekly", "hour", "weekday", "switch_id", "daily_since_us", "weekly_since_us")


def _from_doc(doc: dict[str, Any]) -> Schedule:
    return Schedule(
        owner=doc["_id"],
        recipients=tuple(doc.get("recipients", ())),
        last_daily_period=doc.get("last_daily_period", ""),
        last_weekly_period=doc.get("last_weekly_period", ""),
        **{name: doc[name] for name in _SETTINGS},
    )


def _delivery_doc(delivery: Delivery) -> dict[str, Any]:
    return dataclasses.asdict(delivery)


def claim_event_id(owner: str, kind: str, period: str) -> str:
    """The processed-event id that makes queueing a claimed report happen once."""
    return f"mail_report:{owner}:{kind}:{period}"


class MongoReports:
    db: Any
    enqueue: Any  # DeliveryStore.enqueue, from the deliveries mixin

    def migrate_reports(self) -> None:
        """Nothing beyond ``_id``: schedules are few and found by owner or by a full read."""

    def get_mail_report(self, owner: str) -> Schedule | None:
        doc = self.db[MAIL_REPORTS].find_one({"_id": owner})
        return None if doc is None else _from_doc(doc)

    def save_mail_report(self, schedule: Schedule) -> Schedule:
        settings = {name: getattr(schedule, name) for name in _SETTINGS}
        self.db[MAIL_REPORTS].update_one(
            {"_id": schedule.owner},
            {
                "$set": {**settings, "recipients": list(schedule.recipients)},
                "$setOnInsert": {"last_daily_period": "", "last_weekly_period": ""},
            },
            upsert=True,
        )
        stored = self.get_mail_report(schedule.owner)
        assert stored is not None
        return stored

    def list_mail_reports(self) -> list[Schedule]:
        docs = self.db[MAIL_REPORTS].find({"$or": [{"daily": True}, {"weekly": True}]}).sort("_id", 1)
        return [_from_doc(doc) for doc in docs]

    def claim_report_period(
        self, owner: str, kind: str, period: str, deliveries: Sequence[Delivery], now_us: int
    ) -> list[str] | None:
        if kind not in KINDS:
            raise ValueError(f"kind: expected daily or weekly, got {kind!r}")
        column = f"last_{kind}_period"
        pending = {"period": period, "now_us": now_us, "deliveries": [_delivery_doc(d) for d in deliveries]}
        moved = self.db[MAIL_REPORTS].find_one_and_update(
            {"_id": owner, column: {"$lt": period}, f"pending.{kind}": {"$exists": False}},
            {"$set": {column: period, f"pending.{kind}": pending}},
        )
        if moved is None:
            return None
        return self._finish_claim(owner, kind, pending)

    def finish_report_claims(self) -> int:
        """Queue the e-mails of claims a crash interrupted; how many were queued."""
        queued = 0
        for doc in self.db[MAIL_REPORTS].find({"pending": {"$exists": True}}):
            for kind, pending in dict(doc.get("pending") or {}).items():
                queued += len(self._finish_claim(doc["_id"], kind, pending))
        return queued

    def _finish_claim(self, owner: str, kind: str, pending: dict[str, Any]) -> list[str]:
        deliveries = [Delivery(**doc) for doc in pending["deliveries"]]
        ids = self.enqueue(
            deliveries, event_id=claim_event_id(owner, kind, pending["period"]), now_us=pending["now_us"]
        )
        self.db[MAIL_REPORTS].update_one(
            {"_id": owner, f"pending.{kind}.period": pending["period"]}, {"$unset": {f"pending.{kind}": ""}}
        )
        return list(ids or [])  # None: another process queued them first
