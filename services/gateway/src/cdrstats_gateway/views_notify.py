"""Notification pages: mail-report settings with a live preview, contacts with test sends, the delivery log.

Notify owns the data. A customer edits its tenant's report and contacts; an admin edits the
installation's (owner "") or, by picking one, a customer's. The preview is the e-mail notify
would send, served as its own small HTML document (no scripts, inline styles only) for a
sandboxed iframe: an e-mail's HTML never runs inside the app's own origin.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from cdrstats_gateway import auth, keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import control
from cdrstats_gateway.domain.control import MailReport, control_scope
from cdrstats_gateway.domain.digits import plain_digits
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.rendering import render
from cdrstats_gateway.send_limit import allow_send
from cdrstats_gateway.views_cdrs import local_time
from cdrstats_gateway.views_control import form_error, owner_names

#: the preview document may style itself inline and nothing else; only this app may frame it
PREVIEW_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}
MAX_FIELD = 200


def chosen_owner(user: User, value: Any, names: dict[str, str]) -> str:
    """Admins pick any known owner ("" = the installation); a customer always gets its own tenant."""
    if not user.is_admin:
        return control_scope(user).tenant
    owner = str(value or "")
    if owner not in names:
        raise web.HTTPNotFound(text="No such owner.")
    return owner


def _int(form: Any, name: str, low: int, high: int, default: int) -> int:
    text = str(form.get(name, "")).strip()
    if not text:
        return default
    if not plain_digits(text) or not low <= int(text) <= high:
        raise InvalidInput(name, f"a whole number from {low} to {high}, got {text[:8]!r}")
    return int(text)


def report_from_form(form: Any, owner: str) -> MailReport:
    return MailReport(
        owner=owner,
        daily=form.get("daily") == "on",
        weekly=form.get("weekly") == "on",
        hour=_int(form, "hour", 0, 23, 7),
        weekday=_int(form, "weekday", 1, 7, 1),
        recipients=control.split_lines(str(form.get("recipients", ""))[:4000]),
        switch_id=str(form.get("switch_id", "")).strip()[:MAX_FIELD],
    )


def _kind_period(form: Any) -> tuple[str, str]:
    kind = str(form.get("kind", "daily"))
    if kind not in control.REPORT_KINDS:
        raise InvalidInput("kind", "daily or weekly")
    return kind, str(form.get("period", "")).strip()[:10]


def tabs(request: web.Request, current: str, owner_query: str) -> list[dict[str, Any]]:
    pages = (("mail_report", "Mail report"), ("contacts", "Contacts"), ("deliveries", "Delivery log"))
    return [
        {
            "href": str(request.app.router[name].url_for()) + (owner_query if name != "deliveries" else ""),
            "label": label,
            "current": name == current,
        }
        for name, label in pages
    ]


def owner_query(user: User, owner: str) -> str:
    return f"?{urlencode({'owner': owner})}" if user.is_admin and owner else ""


# --- mail report ---------------------------------------------------------------------------------


async def _report_page(
    request: web.Request,
    user: User,
    owner: str,
    names: dict[str, str],
    *,
    draft: MailReport | None = None,
    error: dict[str, str] | None = None,
    message: str = "",
    status: int = 200,
) -> web.Response:
    services = request.app[keys.SERVICES]
    report, unavailable = draft, ""
    if report is None:
        try:
            report = await services.get_mail_report(control_scope(user), owner)
        except ServiceError as exc:
            report, unavailable = MailReport(owner=owner), exc.message
    try:
        switches = await services.switches()
    except ServiceError:
        switches = []
    context = {
        "tabs": tabs(request, "mail_report", owner_query(user, owner)),
        "owner": owner,
        "names": names,
        "report": report,
        "switches": switches,
        "weekdays": control.WEEKDAYS,
        "unavailable": unavailable,
        "error": error,
        "message": message or ("Settings saved." if request.query.get("saved") else ""),
        "installation_zone": request.app[keys.SETTINGS].time_zone,
        "preview": _preview_start(request, owner, report),
    }
    return render(request, "mail_report.html", context, status=status)


def _preview_start(request: web.Request, owner: str, report: MailReport) -> dict[str, str]:
    """The iframe's first URL: the shown settings, and ``kind``/``period`` when the page was asked for them."""
    kind = request.query.get("kind", "daily")
    kind = kind if kind in control.REPORT_KINDS else "daily"
    period = request.query.get("period", "").strip()[:10]
    values = {
        "owner": owner,
        "switch_id": report.switch_id,
        "recipients": ",".join(report.recipients),
        "kind": kind,
        "period": period,
    }
    return {"kind": kind, "period": period, "query": urlencode({k: v for k, v in values.items() if v})}


async def mail_report(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    names = await owner_names(request, user)
    return await _report_page(request, user, chosen_owner(user, request.query.get("owner"), names), names)


async def mail_report_post(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    form = await request.post()
    names = await owner_names(request, user)
    owner = chosen_owner(user, form.get("owner"), names)
    services = request.app[keys.SERVICES]
    scope = control_scope(user)
    draft = MailReport(owner=owner)
    try:
        draft = report_from_form(form, owner)
        if form.get("action") == "send":
            kind, period = _kind_period(form)
            await allow_send(request, user)
            sent = await services.send_mail_report(scope, owner, kind, period, draft)
            message = sent.message or f"Queued {len(sent.delivery_ids)} e-mail(s)."
            return await _report_page(request, user, owner, names, draft=draft, message=message)
        await services.save_mail_report(scope, draft)
    except (ServiceError, InvalidInput) as exc:
        if isinstance(exc, ServiceError) and exc.status not in (400, 404):
            raise
        status = exc.status if isinstance(exc, ServiceError) else 400
        return await _report_page(request, user, owner, names, draft=draft, error=form_error(exc), status=status)
    target = request.app.router["mail_report"].url_for()
    query = owner_query(user, owner)
    raise web.HTTPSeeOther(f"{target}{query}{'&' if query else '?'}saved=1")


async def _preview(request: web.Request) -> tuple[Any, str]:
    """(rendered mail or None, error message) for the query string the page's script builds."""
    user = auth.require_user(request)
    names = await owner_names(request, user)
    owner = chosen_owner(user, request.query.get("owner"), names)
    try:
        kind, period = _kind_period(request.query)
        draft = report_from_form(request.query, owner)
        rendered = await request.app[keys.SERVICES].preview_mail_report(control_scope(user), owner, kind, period, draft)
    except (ServiceError, InvalidInput) as exc:
        return None, str(exc) if isinstance(exc, InvalidInput) else exc.message
    return rendered, ""


async def mail_report_preview(request: web.Request) -> web.StreamResponse:
    """GET /mail-report/preview: the e-mail's HTML for the sandboxed iframe (own CSP, frameable here)."""
    rendered, error = await _preview(request)
    if rendered is None:
        style = "font-family:sans-serif;color:#b91c1c"
        body = f"<!doctype html><meta charset=utf-8><p style='{style}'>{html.escape(error)}</p>"
        return web.Response(text=body, content_type="text/html", headers=PREVIEW_HEADERS)
    page = rendered.html or "<!doctype html><p>(empty)</p>"
    return web.Response(text=page, content_type="text/html", headers=PREVIEW_HEADERS)


async def mail_report_preview_json(request: web.Request) -> web.StreamResponse:
    """GET /mail-report/preview.json: subject, period and recipients shown above the iframe."""
    rendered, error = await _preview(request)
    if rendered is None:
        return web.json_response({"error": error})
    zone = request.app[keys.SETTINGS].time_zone
    return web.json_response(
        {
            "subject": rendered.subject,
            "period": rendered.period,
            "recipients": list(rendered.recipients),
            "from": local_time(rendered.period_start_us, zone, seconds=False).replace("T", " "),
            "to": local_time(rendered.period_end_us, zone, seconds=False).replace("T", " "),
            "time_zone": zone,
        }
    )


ROUTES = (
    ("GET", "/mail-report", mail_report, "mail_report"),
    ("POST", "/mail-report", mail_report_post, "mail_report_post"),
    ("GET", "/mail-report/preview", mail_report_preview, "mail_report_preview"),
    ("GET", "/mail-report/preview.json", mail_report_preview_json, "mail_report_preview_json"),
)
