"""MongoDB live calls (a mixin of MongoRollupStore): call_state effects are idempotent on their own."""

from __future__ import annotations

import time
from typing import Any

from pymongo.errors import DuplicateKeyError

from cdrstats_reporting.domain.live import CallState
from cdrstats_reporting.domain.rollup import Filters


class MongoLiveCalls:
    _db: Any
    _events: Any
    _meta: Any

    @staticmethod
    def _match(filters: Filters, **extra: Any) -> dict[str, Any]:
        return {**extra, **{dim: {"$in": values} for dim, values in filters.items()}}

    def apply_call_state(self, event_id: str, state: CallState) -> bool:
        """Effects are idempotent by themselves (set, min, max, delete); the marker makes a redelivery a no-op."""
        if self._events.find_one({"_id": event_id}, {"_id": 1}) is not None:
            return False
        key = {"switch_id": state.switch_id, "uuid": state.uuid}
        if state.event == "ended":
            self._end_calls([(state.switch_id, state.uuid)], [(state.switch_id, state.uuid)], state.time_us)
        elif self._db["ended_calls"].find_one(key) is None:
            answered = state.event == "answered"
            self._db["live_calls"].update_one(
                key,
                {
                    "$setOnInsert": {**state.details, "state": "started"},
                    "$min": {"start_time_us": state.time_us},
                    "$max": {"answer_time_us": state.time_us if answered else 0, "last_event_us": state.time_us},
                },
                upsert=True,
            )
            if answered:
                self._db["live_calls"].update_one(key, {"$set": {"state": "answered"}})
            self._bump_live()
        try:
            self._events.insert_one({"_id": event_id, "processed_at": time.time()})
        except DuplicateKeyError:
            return False
        return True

    def _end_calls(self, keys: list[tuple[str, str]], recent: list[tuple[str, str]], ended_us: int) -> None:
        for switch, uuid in recent:
            self._db["ended_calls"].update_one(
                {"switch_id": switch, "uuid": uuid}, {"$setOnInsert": {"ended_us": ended_us}}, upsert=True
            )
        if keys and self._db["live_calls"].find_one({}, {"_id": 1}) is not None:
            removed = sum(self._db["live_calls"].delete_one({"switch_id": s, "uuid": u}).deleted_count for s, u in keys)
            if removed:
                self._bump_live()

    def _bump_live(self) -> None:
        self._meta.update_one({"_id": "live_version"}, {"$inc": {"value": 1}}, upsert=True)

    def expire_live_calls(self, before_us: int) -> int:
        removed = int(self._db["live_calls"].delete_many({"last_event_us": {"$lt": before_us}}).deleted_count)
        self._db["ended_calls"].delete_many({"ended_us": {"$lt": before_us}})
        if removed:
            self._bump_live()
        return removed

    def live_calls(self, filters: Filters, since_us: int) -> list[dict[str, Any]]:
        if filters.matches_nothing():
            return []
        match = self._match(filters, last_event_us={"$gte": since_us})
        docs = self._db["live_calls"].find(match, {"_id": 0})
        return sorted((dict(d) for d in docs), key=lambda d: (-d["start_time_us"], d["uuid"]))

    def live_version(self) -> int:
        row = self._meta.find_one({"_id": "live_version"})
        return int(row["value"]) if row else 0
