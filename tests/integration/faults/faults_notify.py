"""Every alarm transition notified exactly once per recipient, by delivery id, whatever failed meanwhile.

Chain of ids: a transition is an evaluation stored with ``published`` (alerting); its event on
alerting.events carries ``data.evaluation_id`` (the test's own queue saw it); notify's deliveries carry
the event id as ``reference``; what arrives carries the delivery id (``X-CDRStats-Delivery`` on a
webhook, ``Message-ID: <delivery id@domain>`` on an e-mail). Receivers may see a delivery more than once
(at least once, by design): the raw counts are reported, the distinct ids are what must be exactly one.
"""

from __future__ import annotations

import collections
from typing import Any

from cdrstats_common.testing_receivers import ReceivedMail, ReceivedRequest

ALARM_KINDS = ("alarm_triggered", "alarm_cleared")


def delivery_of(mail: ReceivedMail) -> str:
    return str(mail.message["Message-ID"] or "").strip("<>").split("@", 1)[0]


def check_notifications(
    evaluations: list[dict[str, Any]],
    events: list[dict[str, Any]],
    deliveries: list[dict[str, Any]],
    mails: list[ReceivedMail],
    hooks: list[ReceivedRequest],
    recipients: dict[str, str],
) -> dict[str, Any]:
    """``recipients``: {channel: address}. Returns the figures and a list of problems (empty = all good)."""
    problems: list[str] = []
    transitions = [e for e in evaluations if e["published"]]
    changed = [e for e in evaluations if e["state_before"] != e["state_after"]]
    if {e["id"] for e in changed} != {e["id"] for e in transitions}:
        problems.append(f"published evaluations {len(transitions)} != state changes {len(changed)}")
    events_by_evaluation: dict[str, set[str]] = collections.defaultdict(set)
    for event in events:
        events_by_evaluation[event["data"]["evaluation_id"]].add(event["id"])
    alarm_deliveries = [d for d in deliveries if d["kind"] in ALARM_KINDS]
    by_reference: dict[tuple[str, str], list[dict[str, Any]]] = collections.defaultdict(list)
    for delivery in alarm_deliveries:
        by_reference[(delivery["reference"], delivery["channel"])].append(delivery)
    mail_ids = collections.Counter(delivery_of(m) for m in mails)
    hook_ok = collections.Counter(r.headers.get("X-CDRStats-Delivery", "") for r in hooks if r.status < 300)
    hook_any = collections.Counter(r.headers.get("X-CDRStats-Delivery", "") for r in hooks)
    expected_ids: set[str] = set()
    for transition in transitions:
        event_ids = events_by_evaluation.get(transition["id"], set())
        if len(event_ids) != 1:
            problems.append(f"transition {transition['id']}: {len(event_ids)} distinct events {sorted(event_ids)}")
            continue
        (event_id,) = event_ids
        for channel, address in recipients.items():
            found = by_reference.get((event_id, channel), [])
            if len(found) != 1 or found[0]["recipient"] != address or found[0]["status"] != "sent":
                problems.append(f"transition {transition['id']} {channel}: deliveries {found}")
                continue
            delivery_id = found[0]["id"]
            expected_ids.add(delivery_id)
            arrived = mail_ids[delivery_id] if channel == "email" else hook_ok[delivery_id]
            if arrived < 1:
                problems.append(f"transition {transition['id']} {channel}: delivery {delivery_id} never arrived")
    stray_events = set(events_by_evaluation) - {t["id"] for t in transitions}
    if stray_events:
        problems.append(f"alarm events of evaluations that are no transition: {sorted(stray_events)}")
    stray = (set(mail_ids) | set(hook_any)) - expected_ids
    if stray:
        problems.append(f"notifications of no transition: {sorted(stray)}")
    return {
        "evaluations": len(evaluations),
        "transitions": len(transitions),
        "transitions_by_kind": dict(collections.Counter(t["state_after"] for t in transitions)),
        "alarm_events_received": len(events),
        "alarm_events_distinct": len({e["id"] for e in events}),
        "deliveries": len(alarm_deliveries),
        "delivery_attempts": sum(int(d["attempts"]) for d in alarm_deliveries),
        "emails_received_raw": sum(mail_ids.values()),
        "emails_distinct_delivery_ids": len(mail_ids),
        "webhook_requests_raw": sum(hook_any.values()),
        "webhook_requests_refused": sum(1 for r in hooks if r.status >= 300),
        "webhooks_distinct_delivery_ids_accepted": len(hook_ok),
        "problems": problems,
    }
