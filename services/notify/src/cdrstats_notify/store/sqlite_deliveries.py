"""Deliveries and contacts on SQLite: a mixin of SqliteNotifyStore (``self.conn``, ``self.lock``).

Every state change and its ``notification_*`` outbox event commit in one transaction; enqueueing for an
event commits with the processed-event record (``consumer.apply_once``), so a redelivered event queues nothing.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from cdrstats_common import consumer, outbox, retention, telemetry
from cdrstats_common.sqlite import transaction
from cdrstats_notify.domain.deliveries import FAILED, PENDING, SENT, Contacts, Delivery, DeliveryFilter, event_data
from cdrstats_notify.store.deliveries_interface import LEASE_US, Merge

SOURCE = "notify"

DELIVERY_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS deliveries (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        channel TEXT NOT NULL,
        recipient TEXT NOT NULL,
        kind TEXT NOT NULL,
        reference TEXT NOT NULL,
        subject TEXT NOT NULL,
        text_body TEXT NOT NULL,
        html_body TEXT NOT NULL,
        payload TEXT,
        grp TEXT NOT NULL DEFAULT '',
        context TEXT NOT NULL DEFAULT '{}',
        events INTEGER NOT NULL DEFAULT 1,
        trace TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        created_us INTEGER NOT NULL,
        scheduled_us INTEGER NOT NULL,
        next_attempt_us INTEGER NOT NULL,
        lease_until_us INTEGER NOT NULL DEFAULT 0,
        sent_us INTEGER NOT NULL DEFAULT 0
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS deliveries_created ON deliveries(created_us)",
    "CREATE INDEX IF NOT EXISTS deliveries_owner ON deliveries(owner, created_us)",
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(next_attempt_us) WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS deliveries_group ON deliveries(grp, channel, recipient, scheduled_us) WHERE grp != ''",
    """CREATE TABLE IF NOT EXISTS contacts (
        owner TEXT PRIMARY KEY,
        emails TEXT NOT NULL,
        webhooks TEXT NOT NULL,
        updated_us INTEGER NOT NULL
    )""",
]

_COLUMNS = (
    "id, owner, channel, recipient, kind, reference, subject, text_body, html_body, payload, grp, context, events,"
    " trace, status, attempts, last_error, created_us, scheduled_us, next_attempt_us, lease_until_us, sent_us"
)


def _now_us() -> int:
    return int(time.time() * 1_000_000)


def _from_row(row: sqlite3.Row) -> Delivery:
    return Delivery(
        owner=row["owner"],
        channel=row["channel"],
        recipient=row["recipient"],
        kind=row["kind"],
        reference=row["reference"],
        subject=row["subject"],
        text=row["text_body"],
        html=row["html_body"],
        payload=None if row["payload"] is None else json.loads(row["payload"]),
        group=row["grp"],
        context=json.loads(row["context"]),
        events=row["events"],
        trace=json.loads(row["trace"]),
        id=row["id"],
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        created_us=row["created_us"],
        scheduled_us=row["scheduled_us"],
        next_attempt_us=row["next_attempt_us"],
        sent_us=row["sent_us"],
    )


def _payload(delivery: Delivery) -> str | None:
    return None if delivery.payload is None else json.dumps(delivery.payload, separators=(",", ":"))


class SqliteDeliveries:
    conn: sqlite3.Connection
    lock: threading.Lock

    # -- queueing ---------------------------------------------------------------------------------

    def enqueue(
        self,
        deliveries: Sequence[Delivery],
        *,
        event_id: str | None = None,
        now_us: int | None = None,
        merge: Merge | None = None,
        window_us: int = 0,
    ) -> list[str] | None:
        now = _now_us() if now_us is None else now_us
        ids: list[str] = []

        def effect(conn: sqlite3.Connection) -> None:
            for delivery in deliveries:
                ids.append(self._enqueue_one(conn, delivery, now, merge, window_us))

        with self.lock:
            if event_id is None:
                with transaction(self.conn):
                    effect(self.conn)
                return ids
            return ids if consumer.apply_once(self.conn, event_id, effect) else None

    def _enqueue_one(
        self, conn: sqlite3.Connection, delivery: Delivery, now: int, merge: Merge | None, window_us: int
    ) -> str:
        due = now
        if delivery.group:
            if merge is None:
                raise ValueError("group: coalescing deliveries need a merge function")
            key = (delivery.group, delivery.channel, delivery.recipient)
            unsent = conn.execute(
                f"""SELECT {_COLUMNS} FROM deliveries WHERE grp = ? AND channel = ? AND recipient = ?
                    AND status = 'pending' AND attempts = 0 AND lease_until_us <= ?
                    ORDER BY scheduled_us DESC LIMIT 1""",
                (*key, now),
            ).fetchone()
            if unsent is not None:
                merged = merge(_from_row(unsent), delivery)
                conn.execute(
                    """UPDATE deliveries SET subject = ?, text_body = ?, html_body = ?, payload = ?, context = ?,
                       events = ? WHERE id = ?""",
                    (
                        merged.subject,
                        merged.text,
                        merged.html,
                        _payload(merged),
                        json.dumps(merged.context),
                        merged.events,
                        unsent["id"],
                    ),
                )
                return str(unsent["id"])
            last = conn.execute(
                "SELECT max(scheduled_us) FROM deliveries WHERE grp = ? AND channel = ? AND recipient = ?", key
            ).fetchone()[0]
            if last is not None and now < last + window_us:
                due = last + window_us
        previous = conn.execute("SELECT max(created_us) FROM deliveries").fetchone()[0]
        created = now if previous is None else max(now, previous + 1)  # unique: ListDeliveries pages by it
        delivery_id = str(uuid.uuid4())
        trace = delivery.trace or dict(telemetry.inject_headers({}))
        conn.execute(
            f"INSERT INTO deliveries({_COLUMNS}) VALUES ({', '.join('?' * 22)})",
            (
                delivery_id,
                delivery.owner,
                delivery.channel,
                delivery.recipient,
                delivery.kind,
                delivery.reference,
                delivery.subject,
                delivery.text,
                delivery.html,
                _payload(delivery),
                delivery.group,
                json.dumps(delivery.context),
                delivery.events,
                json.dumps(trace),
                PENDING,
                0,
                "",
                created,
                due,
                due,
                0,
                0,
            ),
        )
        return delivery_id

    def due(self, now_us: int, limit: int, *, lease_us: int = LEASE_US) -> list[Delivery]:
        with self.lock, transaction(self.conn):
            rows = self.conn.execute(
                f"""SELECT {_COLUMNS} FROM deliveries WHERE status = 'pending' AND next_attempt_us <= ?
                    AND lease_until_us <= ? ORDER BY next_attempt_us, created_us LIMIT ?""",
                (now_us, now_us, limit),
            ).fetchall()
            self.conn.executemany(
                "UPDATE deliveries SET lease_until_us = ? WHERE id = ?", [(now_us + lease_us, r["id"]) for r in rows]
            )
        return [_from_row(row) for row in rows]

    def claim(self, delivery_id: str, now_us: int, *, lease_us: int = LEASE_US) -> Delivery | None:
        with self.lock, transaction(self.conn):
            row = self.conn.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE id = ? AND status = 'pending' AND lease_until_us <= ?",
                (delivery_id, now_us),
            ).fetchone()
            if row is None:
                return None
            self.conn.execute("UPDATE deliveries SET lease_until_us = ? WHERE id = ?", (now_us + lease_us, delivery_id))
        return _from_row(row)

    # -- outcomes ---------------------------------------------------------------------------------

    def mark_sent(self, delivery_id: str, now_us: int) -> Delivery | None:
        return self._finish(delivery_id, SENT, "", now_us, 0, "notification_sent")

    def mark_retry(self, delivery_id: str, now_us: int, next_attempt_us: int, error: str) -> Delivery | None:
        return self._finish(delivery_id, PENDING, error, now_us, next_attempt_us, "notification_failed")

    def mark_failed(self, delivery_id: str, now_us: int, error: str) -> Delivery | None:
        return self._finish(delivery_id, FAILED, error, now_us, 0, "notification_failed")

    def _finish(
        self, delivery_id: str, status: str, error: str, now_us: int, next_attempt_us: int, event_type: str
    ) -> Delivery | None:
        with self.lock, transaction(self.conn):
            row = self.conn.execute(
                f"SELECT {_COLUMNS} FROM deliveries WHERE id = ? AND status = 'pending'", (delivery_id,)
            ).fetchone()
            if row is None:
                return None
            before = _from_row(row)
            after = dataclasses.replace(
                before,
                status=status,
                attempts=before.attempts + 1,
                last_error=error,
                next_attempt_us=next_attempt_us if status == PENDING else before.next_attempt_us,
                sent_us=now_us if status == SENT else 0,
            )
            self.conn.execute(
                """UPDATE deliveries SET status = ?, attempts = ?, last_error = ?, next_attempt_us = ?,
                   lease_until_us = 0, sent_us = ? WHERE id = ?""",
                (after.status, after.attempts, after.last_error, after.next_attempt_us, after.sent_us, delivery_id),
            )
            data = event_data(after, error=None if status == SENT else error, next_attempt_us=next_attempt_us)
            outbox.add_event(self.conn, SOURCE, event_type, data)
        return after

    # -- reading ----------------------------------------------------------------------------------

    def get_delivery(self, delivery_id: str) -> Delivery | None:
        with self.lock:
            row = self.conn.execute(f"SELECT {_COLUMNS} FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return None if row is None else _from_row(row)

    def list_deliveries(self, selection: DeliveryFilter) -> list[Delivery]:
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        if selection.owner is not None:  # None: every owner; "" is the installation's own
            clauses.append("owner = ?")
            params.append(selection.owner)
        for column, value in (("status", selection.status), ("channel", selection.channel), ("kind", selection.kind)):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if selection.before_us:
            clauses.append("created_us < ?")
            params.append(selection.before_us)
        query = f"SELECT {_COLUMNS} FROM deliveries WHERE {' AND '.join(clauses)} ORDER BY created_us DESC LIMIT ?"
        with self.lock:
            rows = self.conn.execute(query, (*params, selection.limit)).fetchall()
        return [_from_row(row) for row in rows]

    def delivery_counts(self) -> dict[str, int]:
        with self.lock:
            row = self.conn.execute(
                """SELECT count(*), coalesce(sum(status = 'pending'), 0), coalesce(sum(status = 'failed'), 0)
                   FROM deliveries"""
            ).fetchone()
        return {"deliveries": int(row[0]), "pending": int(row[1]), "failed": int(row[2])}

    def prune_deliveries(self, before_us: int, limit: int) -> int:
        with self.lock, transaction(self.conn):
            return retention.sqlite_delete_batch(
                self.conn, "deliveries", "created_us < ? AND status != ?", (before_us, PENDING), limit, "created_us"
            )

    # -- contacts ---------------------------------------------------------------------------------

    def get_contacts(self, owner: str) -> Contacts:
        with self.lock:
            row = self.conn.execute("SELECT emails, webhooks FROM contacts WHERE owner = ?", (owner,)).fetchone()
        if row is None:
            return Contacts(owner)
        return Contacts(owner, tuple(json.loads(row["emails"])), tuple(json.loads(row["webhooks"])))

    def save_contacts(self, contacts: Contacts) -> Contacts:
        with self.lock, transaction(self.conn):
            self.conn.execute(
                """INSERT INTO contacts(owner, emails, webhooks, updated_us) VALUES (?, ?, ?, ?)
                   ON CONFLICT(owner) DO UPDATE SET emails = excluded.emails, webhooks = excluded.webhooks,
                   updated_us = excluded.updated_us""",
                (contacts.owner, json.dumps(list(contacts.emails)), json.dumps(list(contacts.webhooks)), _now_us()),
            )
        return contacts
