"""Alarms on MongoDB: the same contract as ``sqlite_alarms`` without multi-document transactions.

Recording an evaluation: (1) stage its event in the outbox, (2) insert the evaluation, (3) apply the
state change to the alarm document with ONE guarded update (same ``updated_us``, ``state`` and
``last_evaluated_us`` as read; a transition also pushes the evaluation id to ``transition_ids``),
(4) release the event - or, when the guard did not match, delete the evaluation and the staged event.
A writer dying after (3) leaves a staged event that the relay releases because its evaluation id is in
``transition_ids``; dying before (3) leaves one it deletes (and at worst an orphan evaluation row).

CIC runs: ``cic_state`` per scope key (newest answered attempt, count of dropped members),
``cic_members`` per unanswered attempt after it. Every step is idempotent - raising the newest
answered attempt, deleting the members it ends, upserting new members by id - so an event applied
again after a crash half-way ends in the same state (``domain.cic``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pymongo

from cdrstats_alerting.domain import cic
from cdrstats_alerting.domain.alarms import FIRING, Alarm, AlarmScope
from cdrstats_alerting.domain.evaluate import Evaluation
from cdrstats_alerting.domain.windows import Span
from cdrstats_alerting.store.alarms_interface import StateChange
from cdrstats_alerting.store.mongo_outbox import MongoOutbox

TRANSITIONS_KEPT = 50
_DEFINITION = (
    "owner", "name", "metric", "hangup_cause", "window", "condition", "threshold", "baseline", "min_attempts",
    "cooldown_s", "enabled",
)  # fmt: skip
_STATE = ("state", "last_evaluated_us", "last_triggered_us", "last_value", "created_us", "updated_us")
#: state fields added after the first release: documents written before lack them
_ADDED_STATE = {"last_verdict": "", "last_message": ""}


def alarm_doc(alarm: Alarm) -> dict[str, Any]:
    doc: dict[str, Any] = {name: getattr(alarm, name) for name in (*_DEFINITION, *_STATE, *_ADDED_STATE)}
    doc.update(scope_kind=alarm.scope.kind, scope_value=alarm.scope.value, emails=list(alarm.emails))
    doc.update(webhooks=list(alarm.webhooks), _id=alarm.id)
    return doc


def alarm_from_doc(doc: Mapping[str, Any]) -> Alarm:
    fields = {name: doc[name] for name in (*_DEFINITION, *_STATE)}
    fields.update({name: doc.get(name, default) for name, default in _ADDED_STATE.items()})
    return Alarm(
        id=doc["_id"], scope=AlarmScope(doc["scope_kind"], doc["scope_value"]), emails=tuple(doc["emails"]),
        webhooks=tuple(doc["webhooks"]), **fields,
    )  # fmt: skip


def evaluation_doc(e: Evaluation) -> dict[str, Any]:
    base = e.baseline_window or Span(0, 0)
    return {
        "_id": e.id, "alarm_id": e.alarm_id, "time_us": e.time_us, "window_start_us": e.window.start_us,
        "window_end_us": e.window.end_us, "value": e.value, "baseline": e.baseline, "baseline_start_us": base.start_us,
        "baseline_end_us": base.end_us, "threshold": e.threshold, "attempts": e.attempts, "verdict": e.verdict,
        "state_before": e.state_before, "state_after": e.state_after, "published": e.published,
        "message": e.message, "error": e.error, "link": e.link,
    }  # fmt: skip


def evaluation_from_doc(doc: Mapping[str, Any]) -> Evaluation:
    has_baseline = doc["baseline"] is not None
    return Evaluation(
        id=doc["_id"], alarm_id=doc["alarm_id"], time_us=doc["time_us"],
        window=Span(doc["window_start_us"], doc["window_end_us"]), value=doc["value"], baseline=doc["baseline"],
        baseline_window=Span(doc["baseline_start_us"], doc["baseline_end_us"]) if has_baseline else None,
        threshold=doc["threshold"], attempts=doc["attempts"], verdict=doc["verdict"],
        state_before=doc["state_before"], state_after=doc["state_after"], published=doc["published"],
        message=doc["message"], error=doc["error"], link=doc["link"],
    )  # fmt: skip


class MongoAlarms:
    """Mixin of MongoAlertingStore (``self.db``, ``self.outbox``); indexes in ``migrate_alarms``."""

    db: Any
    outbox: MongoOutbox

    def migrate_alarms(self) -> None:
        asc, desc = pymongo.ASCENDING, pymongo.DESCENDING
        self.db["alarms"].create_index([("owner", asc), ("name", asc)], name="owner_name")
        self.db["alarms"].create_index([("enabled", asc), ("next_due_us", asc)], name="due")
        self.db["alarm_evaluations"].create_index([("alarm_id", asc), ("time_us", desc)], name="alarm_time")
        self.db["alarm_evaluations"].create_index("time_us", name="time")
        self.db["cic_members"].create_index([("k", asc), ("s", asc), ("c", asc)], unique=True, name="run")

    def create_alarm(self, alarm: Alarm) -> Alarm:
        self.db["alarms"].insert_one({**alarm_doc(alarm), "next_due_us": 0, "transition_ids": []})
        return alarm

    def update_alarm(self, alarm: Alarm) -> Alarm | None:
        definition = {k: v for k, v in alarm_doc(alarm).items() if k not in ("_id", "owner", *_STATE, *_ADDED_STATE)}
        found = self.db["alarms"].find_one_and_update(
            {"_id": alarm.id},
            {"$set": {**definition, "updated_us": alarm.updated_us, "next_due_us": 0}},
            return_document=pymongo.ReturnDocument.AFTER,
        )
        return alarm_from_doc(found) if found else None

    def get_alarm(self, alarm_id: str) -> Alarm | None:
        doc = self.db["alarms"].find_one({"_id": alarm_id})
        return alarm_from_doc(doc) if doc else None

    def list_alarms(self, owner: str | None = None) -> list[Alarm]:
        query = {} if owner is None else {"owner": owner}
        return [alarm_from_doc(d) for d in self.db["alarms"].find(query).sort([("name", 1), ("_id", 1)])]

    def delete_alarm(self, alarm_id: str) -> bool:
        deleted = self.db["alarms"].delete_one({"_id": alarm_id}).deleted_count
        self.db["alarm_evaluations"].delete_many({"alarm_id": alarm_id})
        return bool(deleted)

    def due_alarms(self, now_us: int) -> list[Alarm]:
        query = {"enabled": True, "next_due_us": {"$lte": now_us}}
        return [alarm_from_doc(d) for d in self.db["alarms"].find(query).sort([("next_due_us", 1), ("_id", 1)])]

    def record_evaluation(self, alarm: Alarm, evaluation: Evaluation, change: StateChange) -> bool:
        check = {"alarm_id": alarm.id, "evaluation_id": evaluation.id}
        seq = self.outbox.stage(change.event_type, change.event_data or {}, check) if change.event_type else ""
        self.db["alarm_evaluations"].insert_one(evaluation_doc(evaluation))
        update: dict[str, Any] = {
            "$set": {
                "state": change.state_after, "last_evaluated_us": evaluation.time_us,
                "last_triggered_us": change.last_triggered_us, "next_due_us": change.next_due_us,
                "last_verdict": evaluation.verdict, "last_message": evaluation.message,
            }
        }  # fmt: skip
        if change.last_value is not None:
            update["$set"]["last_value"] = change.last_value
        if seq:
            update["$push"] = {"transition_ids": {"$each": [evaluation.id], "$slice": -TRANSITIONS_KEPT}}
        guard = {
            "_id": alarm.id, "updated_us": alarm.updated_us, "state": alarm.state,
            "last_evaluated_us": alarm.last_evaluated_us,
        }  # fmt: skip
        if not self.db["alarms"].update_one(guard, update).matched_count:
            self.db["alarm_evaluations"].delete_one({"_id": evaluation.id})
            if seq:
                self.outbox.discard(seq)
            return False
        if seq:
            self.outbox.release(seq)
        return True

    def _alarm_event_committed(self, doc: Mapping[str, Any]) -> bool:
        """Recovery of a staged alarm event: did its state change reach the alarm?"""
        check = doc.get("check") or {}
        query = {"_id": check.get("alarm_id"), "transition_ids": check.get("evaluation_id")}
        return self.db["alarms"].find_one(query, {"_id": 1}) is not None

    def list_evaluations(
        self, alarm_id: str, since_us: int = 0, limit: int = 500, before_us: int = 0
    ) -> list[Evaluation]:
        query = {"alarm_id": alarm_id, "time_us": {"$gte": since_us, "$lt": before_us or 2**62}}
        cursor = self.db["alarm_evaluations"].find(query).sort([("time_us", -1), ("_id", -1)]).limit(limit)
        return [evaluation_from_doc(d) for d in cursor]

    def prune_evaluations(self, before_us: int, limit: int = 5_000) -> int:
        coll = self.db["alarm_evaluations"]
        old = {"time_us": {"$lt": before_us}}
        ids = [doc["_id"] for doc in coll.find(old, {"_id": 1}).sort("time_us", 1).limit(limit)]
        return int(coll.delete_many({"_id": {"$in": ids}, **old}).deleted_count) if ids else 0

    def alarm_counts(self) -> dict[str, int]:
        newest = self.db["alarm_evaluations"].find_one({}, {"time_us": 1}, sort=[("time_us", -1)])
        return {
            "alarms": int(self.db["alarms"].count_documents({})),
            "firing": int(self.db["alarms"].count_documents({"state": FIRING})),
            "last_evaluation_us": int(newest["time_us"]) if newest else 0,
        }

    # -- CIC -------------------------------------------------------------------------------

    def cic_run(self, key: str) -> cic.Run:
        state = self.db["cic_state"].find_one({"_id": key}) or {}
        kept = int(self.db["cic_members"].count_documents({"k": key}))
        oldest = self.db["cic_members"].find_one({"k": key}, sort=[("s", 1), ("c", 1)])
        return cic.Run(kept + int(state.get("dropped", 0)), int(oldest["s"]) if oldest else 0)

    def _observe_cic(self, cdrs: Sequence[Mapping[str, Any]]) -> None:
        """Advance the CIC runs by one batch; idempotent, so a redelivered half-applied event is harmless."""
        tenant_of = {code: doc["_id"] for doc in self.db["tenants"].find() for code in doc["accountcodes"]}
        prefixes = {
            (d["owner"], d["scope_value"]) for d in self.db["alarms"].find({"metric": "cic", "scope_kind": "prefix"})
        }
        for key, batch in cic.plan(cdrs, tenant_of, sorted(prefixes)).items():
            self._apply_cic_batch(key, batch)

    def _apply_cic_batch(self, key: str, batch: cic.KeyBatch) -> None:
        states, members = self.db["cic_state"], self.db["cic_members"]
        state = states.find_one({"_id": key}) or {}
        last: cic.OrderKey | None = (state["ls"], state["lc"]) if state.get("ls") is not None else None
        if batch.last_answered is not None and (last is None or batch.last_answered > last):
            last = batch.last_answered
            states.update_one({"_id": key}, {"$set": {"ls": last[0], "lc": last[1], "dropped": 0}}, upsert=True)
        if last is not None:  # also when ``last`` did not move: a run that died after raising it left members
            ended = {"k": key, "$or": [{"s": {"$lt": last[0]}}, {"s": last[0], "c": {"$lte": last[1]}}]}
            members.delete_many(ended)
        for start, cdr_id in batch.unanswered:
            if last is None or (start, cdr_id) > last:
                doc = {"k": key, "s": start, "c": cdr_id}
                members.update_one({"_id": f"{key}\x00{start:020d}\x00{cdr_id}"}, {"$setOnInsert": doc}, upsert=True)
        kept = int(members.count_documents({"k": key}))
        if kept > cic.MAX_RUN_MEMBERS:  # keep the newest; the oldest are only counted from now on
            cut = next(
                iter(members.find({"k": key}).sort([("s", 1), ("c", 1)]).skip(kept - cic.MAX_RUN_MEMBERS - 1).limit(1))
            )
            older = {"k": key, "$or": [{"s": {"$lt": cut["s"]}}, {"s": cut["s"], "c": {"$lte": cut["c"]}}]}
            dropped = members.delete_many(older).deleted_count
            states.update_one({"_id": key}, {"$inc": {"dropped": dropped}}, upsert=True)
