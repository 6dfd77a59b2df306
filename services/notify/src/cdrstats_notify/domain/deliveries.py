"""The delivery record: one message (an e-mail or a webhook POST) to one recipient, and its life.

Every notification goes through a delivery, whoever queues it (alert events, mail reports, tests), so
the log, the retries and the ``notification_sent`` / ``notification_failed`` events are the same for all.
Times are epoch microseconds (UTC), like the proto.
"""

from __future__ import annotations

import dataclasses
import re
import urllib.parse
from typing import Any

EMAIL, WEBHOOK = "email", "webhook"
CHANNELS = (EMAIL, WEBHOOK)
PENDING, SENT, FAILED = "pending", "sent", "failed"
STATUSES = (PENDING, SENT, FAILED)
#: what a delivery delivers; ``Delivery.kind``
KINDS = ("alarm_triggered", "alarm_cleared", "destination_alert", "mail_report", "worker_failure", "test")

MAX_CONTACTS = 20  # per channel and owner
_EMAIL = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")


@dataclasses.dataclass(frozen=True)
class Delivery:
    """A queued or logged message. Build one with ``Delivery(owner=..., channel=..., ...)`` to enqueue it;
    the store fills ``id``, ``status``, the counters and the times.

    ``group`` and ``context`` serve coalescing: deliveries with the same non-empty ``group``, channel and
    recipient are merged while still unsent (see ``DeliveryStore.enqueue``); ``context`` keeps the data the
    message was rendered from so a merge can render it again. ``events`` counts what it reports.
    ``trace`` carries the trace context of the request or event that queued it (for the send span).
    """

    owner: str  # "" = the installation, else a tenant id "customer:<id>"
    channel: str  # email, webhook
    recipient: str  # an e-mail address or a webhook URL
    kind: str
    reference: str  # the event id / report period it delivers
    subject: str
    text: str = ""  # e-mail plain text
    html: str = ""  # e-mail HTML alternative
    payload: dict[str, Any] | None = None  # the webhook's JSON body
    group: str = ""
    context: dict[str, Any] = dataclasses.field(default_factory=dict)
    events: int = 1
    trace: dict[str, str] = dataclasses.field(default_factory=dict)
    # filled by the store
    id: str = ""
    status: str = PENDING
    attempts: int = 0
    last_error: str = ""
    created_us: int = 0
    scheduled_us: int = 0  # when it was first due (later than created for a coalescing follow-up)
    next_attempt_us: int = 0
    sent_us: int = 0

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel: expected one of {', '.join(CHANNELS)}, got {self.channel!r}")
        if self.channel == WEBHOOK and self.payload is None:
            raise ValueError("payload: a webhook delivery needs a JSON payload")


@dataclasses.dataclass(frozen=True)
class Contacts:
    """Where an owner's destination alerts go (and, for the installation, worker-failure e-mails)."""

    owner: str
    emails: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class DeliveryFilter:
    """ListDeliveries' selection; ``owner`` None = every owner (admins)."""

    owner: str | None = None
    status: str = ""
    channel: str = ""
    kind: str = ""
    before_us: int = 0  # 0 = from the newest
    limit: int = 100


def event_data(delivery: Delivery, *, error: str | None = None, next_attempt_us: int = 0) -> dict[str, Any]:
    """The ``data`` of ``notification_sent`` (no error) / ``notification_failed`` (docs/events.md).

    A failure is ``final`` when the delivery was given up; otherwise ``next_attempt_us`` says when it is retried.
    """
    data: dict[str, Any] = {
        "delivery_id": delivery.id,
        "owner": delivery.owner,
        "channel": delivery.channel,
        "recipient": delivery.recipient,
        "kind": delivery.kind,
        "reference": delivery.reference,
        "subject": delivery.subject,
        "attempts": delivery.attempts,
    }
    if error is not None:
        data.update(error=error, final=next_attempt_us == 0, next_attempt_us=next_attempt_us)
    return data


def is_email(value: str) -> bool:
    return len(value) <= 254 and _EMAIL.fullmatch(value) is not None


def is_webhook_url(value: str) -> bool:
    """An http(s) URL with a host and a valid port; never raises (a bad IPv6 literal or port is just invalid)."""
    try:
        parsed = urllib.parse.urlsplit(value)
        _ = parsed.port  # raises on a port out of range
        return parsed.scheme in ("http", "https") and bool(parsed.hostname) and len(value) <= 2000
    except ValueError:
        return False


def clean_contacts(owner: str, emails: list[str], webhooks: list[str], *, field: str = "contacts") -> Contacts:
    """Trimmed, de-duplicated contacts; ValueError naming the first bad entry."""
    kept_emails = _clean(emails, is_email, f"{field}.emails", "an e-mail address")
    kept_hooks = _clean(webhooks, is_webhook_url, f"{field}.webhooks", "an http(s) URL")
    return Contacts(owner, kept_emails, kept_hooks)


def _clean(values: list[str], valid: Any, field: str, expected: str) -> tuple[str, ...]:
    kept: list[str] = []
    for index, raw in enumerate(values):
        value = raw.strip()
        if not valid(value):
            raise ValueError(f"{field}[{index}]: expected {expected}, got {raw!r}")
        if value not in kept:
            kept.append(value)
    if len(kept) > MAX_CONTACTS:
        raise ValueError(f"{field}: expected at most {MAX_CONTACTS}, got {len(kept)}")
    return tuple(kept)
