"""Destination control and notification settings as the gateway shows them (alerting and notify own them).

Plain values, no protobuf: ``control_rpc`` converts. The scope here carries the tenant id the
two services key everything on ("customer:<id>"; "" for admins, who act for the installation).
"""

from __future__ import annotations

import dataclasses
import re

from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.models import User

LISTS = ("black", "white")
VERDICTS = ("white", "black", "geo", "none")
GEO_MODES = ("allow", "forbid")
REPORT_KINDS = ("daily", "weekly")
DELIVERY_STATUSES = ("pending", "sent", "failed")
CHANNELS = ("email", "webhook")
DELIVERY_KINDS = ("alarm_triggered", "alarm_cleared", "destination_alert", "mail_report", "worker_failure", "test")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
TENANT_PREFIX = "customer:"


def tenant_id(customer_id: int) -> str:
    return f"{TENANT_PREFIX}{customer_id}"


def customer_of(tenant: str) -> int | None:
    """The customer id of a tenant id, None for the installation ("") or anything else."""
    rest = tenant.removeprefix(TENANT_PREFIX)
    return int(rest) if tenant.startswith(TENANT_PREFIX) and plain_digits(rest) else None


@dataclasses.dataclass(frozen=True)
class ControlScope:
    """Who asks alerting/notify: an admin (everything) or one tenant (its own objects, plus global entries)."""

    admin: bool
    tenant: str = ""
    accountcodes: tuple[str, ...] = ()


def control_scope(user: User) -> ControlScope:
    if user.is_admin:
        return ControlScope(admin=True)
    tenant = tenant_id(user.customer_id) if user.customer_id is not None else ""
    return ControlScope(admin=False, tenant=tenant, accountcodes=user.accountcodes)


@dataclasses.dataclass(frozen=True)
class TenantCodes:
    """What SetTenant pushes: a tenant's current account codes (empty: the tenant is gone)."""

    id: str
    accountcodes: tuple[str, ...]
    name: str = ""


@dataclasses.dataclass(frozen=True)
class ListEntry:
    id: str = ""
    list: str = "black"
    owner: str = ""
    prefix: str = ""
    country: str = ""
    note: str = ""
    created_us: int = 0


@dataclasses.dataclass(frozen=True)
class EntryPage:
    entries: tuple[ListEntry, ...]
    next_after_id: str = ""


@dataclasses.dataclass(frozen=True)
class EntryQuery:
    list: str = ""
    prefix_starts: str = ""
    country: str = ""
    after_id: str = ""
    limit: int = 0


@dataclasses.dataclass(frozen=True)
class GeoRule:
    id: str = ""
    owner: str = ""
    switch_id: str = ""
    mode: str = "forbid"
    countries: tuple[str, ...] = ()
    note: str = ""
    created_us: int = 0


@dataclasses.dataclass(frozen=True)
class Verdict:
    verdict: str
    rule_id: str = ""
    rule: str = ""
    country: str = ""
    destination_e164: str = ""


@dataclasses.dataclass(frozen=True)
class Hit:
    id: str
    cdr_id: str
    switch_id: str
    accountcode: str
    destination_e164: str
    country: str
    verdict: str
    rule_id: str
    rule: str
    owner: str
    start_us: int
    time_us: int


@dataclasses.dataclass(frozen=True)
class Contacts:
    owner: str = ""
    emails: tuple[str, ...] = ()
    webhooks: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class MailReport:
    owner: str = ""
    daily: bool = False
    weekly: bool = False
    hour: int = 7
    weekday: int = 1
    recipients: tuple[str, ...] = ()
    switch_id: str = ""
    last_daily_period: str = ""
    last_weekly_period: str = ""
    time_zone: str = ""


@dataclasses.dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str
    recipients: tuple[str, ...]
    period: str
    period_start_us: int
    period_end_us: int


@dataclasses.dataclass(frozen=True)
class SendResult:
    delivery_ids: tuple[str, ...]
    message: str


@dataclasses.dataclass(frozen=True)
class Delivery:
    id: str
    owner: str
    channel: str
    recipient: str
    kind: str
    reference: str
    subject: str
    status: str
    attempts: int
    last_error: str
    created_us: int
    next_attempt_us: int
    sent_us: int


@dataclasses.dataclass(frozen=True)
class DeliveryQuery:
    status: str = ""
    channel: str = ""
    kind: str = ""
    before_us: int = 0
    limit: int = 0


@dataclasses.dataclass(frozen=True)
class DeliveryPage:
    deliveries: tuple[Delivery, ...]
    next_before_us: int = 0


_FIELD = re.compile(r"^(?:\w+: )?([\w.\[\]]+):")


#: ``scheme://user:password@`` anywhere in a text (a webhook URL, or an error quoting one)
_URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://[^:/@\s'\"]*):[^@/\s'\"]+@", re.IGNORECASE)
PASSWORD_MASK = "********"  # noqa: S105 - a mask, not a password


def mask_url_passwords(text: str) -> str:
    """A webhook URL's password masked: the delivery log lists recipients to admins and owners alike; the
    contacts page (where the owner typed it, and can change it) is the only place it is shown."""
    return _URL_PASSWORD.sub(rf"\1:{PASSWORD_MASK}@", text)


def error_field(message: str, *, full: bool = False) -> str:
    """The field a service's INVALID_ARGUMENT message names: ``alerting: entries[0].prefix: ...`` -> ``prefix``
    (the form field a page shows it at), or with ``full`` ``entries[0].prefix`` (the API's ``details.field``)."""
    match = _FIELD.match(message)
    if match is None:
        return ""
    return match.group(1) if full else re.sub(r"\[\d+\]", "", match.group(1)).rsplit(".", 1)[-1]


def split_lines(text: str) -> tuple[str, ...]:
    """A textarea or comma list of addresses / prefixes: one item per line or comma, blanks dropped."""
    return tuple(item.strip() for item in re.split(r"[\n,;]", text) if item.strip())
