"""Operational metrics (Prometheus), one definition per metric for every process (docs/operations.md).

Business metrics (ASR, ACD, ...) are not here: they live in ``metrics.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from cdrstats_common.events import envelope_time

CDRS = Counter("cdrstats_cdrs", "CDRs received by ingest, by source and result", ["source", "result"])
OUTBOX_PENDING = Gauge("cdrstats_outbox_pending", "Events written to the outbox and not yet confirmed by the broker")
OUTBOX_LAG = Gauge("cdrstats_outbox_lag_seconds", "Age of the oldest pending outbox event")
EVENTS_PUBLISHED = Counter("cdrstats_events_published", "Events confirmed by the broker, by type", ["event_type"])
EVENTS_CONSUMED = Counter(
    "cdrstats_events_consumed",
    "Events handled, by type and result (applied, duplicate, failed, stale: refused as older than the id log)",
    ["event_type", "result"],
)
CONSUMER_LAG = Gauge("cdrstats_consumer_lag_seconds", "Time from an event's creation to its handling", ["event_type"])
ROLLUP_APPLY = Histogram("cdrstats_rollup_apply_seconds", "Time to apply one cdrs_ingested event to the roll-ups")
ALARM_EVALUATION = Histogram(
    "cdrstats_alarm_evaluation_seconds", "Time to evaluate one alarm (metric queries to reporting included)"
)
ALARM_EVALUATIONS = Counter(
    "cdrstats_alarm_evaluations", "Stored alarm evaluations by verdict (ok, breach, insufficient, error)", ["verdict"]
)
DESTINATION_HITS = Counter(
    "cdrstats_destination_hits", "CDRs newly logged by destination control, by verdict (black, geo, white)", ["verdict"]
)
NOTIFICATIONS = Counter(
    "cdrstats_notifications",
    "Notification send attempts by channel (email, webhook) and result (sent, retry, failed)",
    ["channel", "result"],
)


def consume(event_type: str, envelope: Mapping[str, Any], handle: Callable[[], bool]) -> bool:
    """Run a consumer's ``handle`` (True = applied, False = duplicate) and record its metrics."""
    started = time.perf_counter()
    try:
        applied = handle()
    except Exception:
        EVENTS_CONSUMED.labels(event_type, "failed").inc()
        raise
    if event_type == "cdrs_ingested":
        ROLLUP_APPLY.observe(time.perf_counter() - started)
    EVENTS_CONSUMED.labels(event_type, "applied" if applied else "duplicate").inc()
    created = envelope_time(envelope)
    if created is not None:
        CONSUMER_LAG.labels(event_type).set(max(0.0, time.time() - created))
    return applied
