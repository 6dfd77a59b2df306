"""REST API of notifications (notify owns them): mail report, its preview and send, contacts, deliveries.

A customer reads and writes its tenant's settings; an admin the installation's (``owner`` "")
or, by naming it, a customer's (``owner`` "customer:<id>").
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.domain import control
from cdrstats_gateway.domain.control import Contacts, MailReport, control_scope
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.formatting import rfc3339
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.rest import BOOL, INT, STR, TIME, Param, arr, documented, obj, read_json, ref
from cdrstats_gateway.rest_control import decode_cursor, encode_cursor, query_limit, service_fields
from cdrstats_gateway.send_limit import allow_send
from cdrstats_gateway.views_contacts import delivery_query

MAX_DELIVERIES = 1000
OWNER = {"type": "string", "description": 'admins: "" (the installation) or "customer:<id>"; customers: their own'}
#: 409: the owner is a customer notify knows no account codes of (none assigned yet)
MAIL_ERRORS = (400, 409, 503)
OWNER_PARAM = (Param("owner", description='admins: "" (the installation, default) or "customer:<id>"'),)
HOUR = {"type": "integer", "minimum": 0, "maximum": 23, "description": "local hour (time_zone)"}
WEEKDAY = {"type": "integer", "minimum": 1, "maximum": 7, "description": "1 = Monday"}
MAIL_REPORT = obj(
    {
        "owner": STR,
        "daily": BOOL,
        "weekly": BOOL,
        "hour": HOUR,
        "weekday": WEEKDAY,
        "recipients": arr(STR),
        "switch_id": {"type": "string", "description": "empty: every switch"},
        "last_daily_period": STR,
        "last_weekly_period": STR,
        "time_zone": STR,
    }
)
MAIL_REPORT_IN = obj(
    {
        "owner": OWNER,
        "daily": BOOL,
        "weekly": BOOL,
        "hour": HOUR,
        "weekday": WEEKDAY,
        "recipients": arr(STR),
        "switch_id": STR,
    },
    required=(),
)
DRAFT = obj({"switch_id": STR, "recipients": arr(STR)}, required=())
MAIL_REQUEST = obj(
    {
        "owner": OWNER,
        "kind": {"enum": list(control.REPORT_KINDS)},
        "period": {"type": "string", "description": "YYYY-MM-DD (daily) or YYYY-Www (weekly); empty: the last one"},
        "draft": DRAFT,
    },
    required=(),
)
RENDERED = obj(
    {
        "subject": STR,
        "text": STR,
        "html": STR,
        "recipients": arr(STR),
        "period": STR,
        "period_start": TIME,
        "period_end": TIME,
    }
)
SENT = obj({"delivery_ids": arr(STR), "message": STR})
CONTACTS = obj({"owner": STR, "emails": arr(STR), "webhooks": arr(STR)})
CONTACTS_IN = obj({"owner": OWNER, "emails": arr(STR), "webhooks": arr(STR)}, required=())
DELIVERY = obj(
    {
        "id": STR,
        "owner": STR,
        "channel": {"enum": list(control.CHANNELS)},
        "recipient": STR,
        "kind": STR,
        "reference": STR,
        "subject": STR,
        "status": {"enum": list(control.DELIVERY_STATUSES)},
        "attempts": INT,
        "last_error": STR,
        "created_at": TIME,
        "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
        "sent_at": {"type": ["string", "null"], "format": "date-time"},
    }
)


def owner_of(user: User, value: Any) -> str:
    """Admins name an owner ("" default); customers always act for their own tenant."""
    if not user.is_admin:
        return control_scope(user).tenant
    owner = "" if value is None else value
    if not isinstance(owner, str) or (owner and control.customer_of(owner) is None):
        raise InvalidInput("owner", '"" (the installation) or "customer:<id>"')
    return owner


def _strings(body: dict[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(name, "a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def _number(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, "a whole number")
    return value


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(name, "true or false")
    return value


def report_json(report: MailReport) -> dict[str, Any]:
    shown = dataclasses.asdict(report)
    shown["recipients"] = list(report.recipients)
    return shown


def delivery_json(d: control.Delivery) -> dict[str, Any]:
    shown = dataclasses.asdict(d)
    shown["created_at"] = rfc3339(shown.pop("created_us"))
    next_us, sent_us = shown.pop("next_attempt_us"), shown.pop("sent_us")
    shown["next_attempt_at"] = rfc3339(next_us) if next_us else None
    shown["sent_at"] = rfc3339(sent_us) if sent_us else None
    return shown


@documented("Your mail-report settings", "notifications", ref("MailReport"), params=OWNER_PARAM, errors=MAIL_ERRORS)
async def get_report(request: web.Request) -> web.StreamResponse:
    user = request[keys.USER]
    with service_fields():
        report = await request.app[keys.SERVICES].get_mail_report(
            control_scope(user), owner_of(user, request.query.get("owner"))
        )
    return web.json_response(report_json(report))


@documented(
    "Change the mail-report settings (absent fields keep their value)",
    "notifications",
    ref("MailReport"),
    body=MAIL_REPORT_IN,
    errors=MAIL_ERRORS,
)
async def put_report(request: web.Request) -> web.StreamResponse:
    user = request[keys.USER]
    body = await read_json(request)
    services = request.app[keys.SERVICES]
    with service_fields():
        owner = owner_of(user, body.get("owner"))
        current = await services.get_mail_report(control_scope(user), owner)
        report = MailReport(
            owner=owner,
            daily=_flag(body, "daily", current.daily),
            weekly=_flag(body, "weekly", current.weekly),
            hour=_number(body, "hour", current.hour),
            weekday=_number(body, "weekday", current.weekday),
            recipients=_strings(body, "recipients") if "recipients" in body else current.recipients,
            switch_id=str(body.get("switch_id", current.switch_id) or ""),
        )
        saved = await services.save_mail_report(control_scope(user), report)
    return web.json_response(report_json(saved))


def _mail_request(user: User, body: dict[str, Any]) -> tuple[str, str, str, MailReport | None]:
    owner = owner_of(user, body.get("owner"))
    kind = str(body.get("kind") or "daily")
    if kind not in control.REPORT_KINDS:
        raise InvalidInput("kind", "daily or weekly")
    draft_body = body.get("draft")
    draft = None
    if draft_body is not None:
        if not isinstance(draft_body, dict):
            raise InvalidInput("draft", "an object with switch_id and recipients")
        recipients = _strings(draft_body, "recipients")
        draft = MailReport(owner=owner, recipients=recipients, switch_id=str(draft_body.get("switch_id") or ""))
    return owner, kind, str(body.get("period") or ""), draft


@documented(
    "Render the report for a period without sending it (draft: unsaved switch and recipients)",
    "notifications",
    RENDERED,
    body=MAIL_REQUEST,
    errors=MAIL_ERRORS,
)
async def preview_report(request: web.Request) -> web.StreamResponse:
    user = request[keys.USER]
    body = await read_json(request)
    with service_fields():
        owner, kind, period, draft = _mail_request(user, body)
        mail = await request.app[keys.SERVICES].preview_mail_report(control_scope(user), owner, kind, period, draft)
    shown = dataclasses.asdict(mail)
    shown["recipients"] = list(mail.recipients)
    shown["period_start"] = rfc3339(shown.pop("period_start_us"))
    shown["period_end"] = rfc3339(shown.pop("period_end_us"))
    return web.json_response(shown)


@documented(
    "Render and queue the report now to the saved recipients (or the draft's)",
    "notifications",
    SENT,
    body=MAIL_REQUEST,
    errors=(*MAIL_ERRORS, 429),
)
async def send_report(request: web.Request) -> web.StreamResponse:
    user = request[keys.USER]
    body = await read_json(request)
    with service_fields():
        owner, kind, period, draft = _mail_request(user, body)
        await allow_send(request, user)
        sent = await request.app[keys.SERVICES].send_mail_report(control_scope(user), owner, kind, period, draft)
    return web.json_response({"delivery_ids": list(sent.delivery_ids), "message": sent.message})


@documented(
    "Where destination alerts go: e-mail addresses and webhook URLs",
    "notifications",
    ref("Contacts"),
    params=OWNER_PARAM,
    errors=(400, 503),
)
async def get_contacts(request: web.Request) -> web.StreamResponse:
    user = request[keys.USER]
    with service_fields():
        found = await request.app[keys.SERVICES].get_contacts(
            control_scope(user), owner_of(user, request.query.get("owner"))
        )
    return web.json_response({"owner": found.owner, "emails": list(found.emails), "webhooks": list(found.webhooks)})


@documented("Replace the contacts", "notifications", ref("Contacts"), body=CONTACTS_IN, errors=(400, 503))
async def put_contacts(request: web.Request) -> web.StreamResponse:
    user = request[keys.USER]
    body = await read_json(request)
    with service_fields():
        wanted = Contacts(owner_of(user, body.get("owner")), _strings(body, "emails"), _strings(body, "webhooks"))
        saved = await request.app[keys.SERVICES].save_contacts(control_scope(user), wanted)
    return web.json_response({"owner": saved.owner, "emails": list(saved.emails), "webhooks": list(saved.webhooks)})


@documented(
    "The delivery log, newest first (cursor pages)",
    "notifications",
    obj({"items": arr(ref("Delivery")), "next_cursor": {"type": ["string", "null"]}}),
    params=(
        Param("status", schema={"enum": list(control.DELIVERY_STATUSES)}),
        Param("channel", schema={"enum": list(control.CHANNELS)}),
        Param("kind", schema={"enum": list(control.DELIVERY_KINDS)}),
        Param("cursor", description="next_cursor of the previous page"),
        Param("limit", schema={"type": "integer", "minimum": 1, "maximum": MAX_DELIVERIES}),
    ),
    errors=(400, 503),
)
async def list_deliveries(request: web.Request) -> web.StreamResponse:
    before = decode_cursor(request, "before")
    limit = query_limit(request, 100, MAX_DELIVERIES)
    with service_fields():
        if before and not plain_digits(before):
            raise InvalidInput("cursor", "a next_cursor value")
        query = delivery_query({**request.query, "before": before}, limit)
        page = await request.app[keys.SERVICES].list_deliveries(control_scope(request[keys.USER]), query)
    items = [delivery_json(d) for d in page.deliveries]
    next_cursor = encode_cursor("before", str(page.next_before_us) if page.next_before_us else "")
    return web.json_response({"items": items, "next_cursor": next_cursor})


ROUTES = (
    ("GET", "/api/v1/mail-report", get_report, "api_mail_report"),
    ("PUT", "/api/v1/mail-report", put_report, "api_mail_report_update"),
    ("POST", "/api/v1/mail-report/preview", preview_report, "api_mail_report_preview"),
    ("POST", "/api/v1/mail-report/send", send_report, "api_mail_report_send"),
    ("GET", "/api/v1/contacts", get_contacts, "api_contacts"),
    ("PUT", "/api/v1/contacts", put_contacts, "api_contacts_update"),
    ("GET", "/api/v1/deliveries", list_deliveries, "api_deliveries"),
)
SCHEMAS = {"MailReport": MAIL_REPORT, "Contacts": CONTACTS, "Delivery": DELIVERY}
