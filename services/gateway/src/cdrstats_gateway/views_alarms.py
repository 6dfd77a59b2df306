"""Alarm pages: the list, the create/edit form with "Test now", and one alarm's history.

Customers manage their tenant's alarms; admins the installation's, and they see every alarm
with its owner. "Test now" posts the form: the page comes back with the evaluation next to the
unsaved values (it works without JavaScript; alarms.js only shows and hides fields and draws
the history chart).
"""

from __future__ import annotations

import dataclasses

from aiohttp import web

from cdrstats_gateway import alarm_pages, auth, keys
from cdrstats_gateway.clients import ServiceError
from cdrstats_gateway.domain import alarms
from cdrstats_gateway.domain.alarms import Alarm, Evaluation
from cdrstats_gateway.domain.errors import InvalidInput
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.rendering import STATIC_DIR, render
from cdrstats_gateway.views_cdrs import viewer_zone

MAX_ID = 64
HISTORY_LIMIT = 2000
TABLE_ROWS = 50


def _alarm_id(request: web.Request) -> str:
    value = request.match_info["id"]
    if not value or len(value) > MAX_ID or not value.isprintable():
        raise web.HTTPNotFound(text="No such alarm.")
    return value


def _redirect(request: web.Request, name: str, query: str = "", **parts: str) -> web.HTTPSeeOther:
    url = str(request.app.router[name].url_for(**parts))
    return web.HTTPSeeOther(f"{url}?{query}" if query else url)


async def alarm_list(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    found = await request.app[keys.SERVICES].list_alarms(user)
    owners = await alarm_pages.owner_names(request) if user.is_admin else {}
    context = {
        "alarms": found,
        "owners": owners,
        "message": alarm_pages.MESSAGES.get(request.query.get("done", ""), ""),
        **alarm_pages.labels(),
        "zone": viewer_zone(request, user),
    }
    return render(request, "alarms.html", context)


async def _form_page(
    request: web.Request,
    user: User,
    alarm: Alarm,
    *,
    new: bool,
    result: Evaluation | None = None,
    error: str = "",
    field_errors: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    context = {
        "alarm": alarm,
        "new": new,
        "result": result,
        "error": error,
        "field_errors": field_errors or {},
        "zone": viewer_zone(request, user),
        **await alarm_pages.pickers(request, user, alarm),
        **alarm_pages.labels(),
    }
    return render(request, "alarm_form.html", context, status=status)


async def alarm_new(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    return await _form_page(request, user, Alarm(threshold=40.0), new=True)  # "ASR below 40 %": a start


async def _save_or_test(request: web.Request, user: User, current: Alarm | None) -> web.StreamResponse:
    """The form's two buttons: save (create/update) or evaluate the values as typed."""
    form = await request.post()
    new = current is None
    draft = alarm_pages.draft_from_form(form, current or Alarm())
    try:
        alarm = alarms.from_form(form, current)
    except InvalidInput as exc:
        field, text = alarms.error_field(str(exc))
        return await _form_page(request, user, draft, new=new, **alarm_pages.errors_for(field, text), status=400)
    services = request.app[keys.SERVICES]
    testing = form.get("action") == "test"
    try:
        if testing:
            result = await services.test_alarm(user, alarm)
            return await _form_page(request, user, alarm, new=new, result=result)
        saved = await (services.create_alarm(user, alarm) if new else services.update_alarm(user, alarm))
    except ServiceError as exc:
        if testing and exc.status in (502, 503):  # reporting or alerting down: say so next to the values
            error = f"The test could not run: {exc.message}."
            return await _form_page(request, user, alarm, new=new, error=error, status=exc.status)
        if exc.status != 400:
            raise
        field, text = alarms.error_field(exc.message)
        return await _form_page(request, user, alarm, new=new, **alarm_pages.errors_for(field, text), status=400)
    raise _redirect(request, "alarm", "done=created" if new else "done=saved", id=saved.id)


async def alarm_create(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    return await _save_or_test(request, user, None)


async def alarm_edit(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    alarm = await request.app[keys.SERVICES].get_alarm(user, _alarm_id(request))
    return await _form_page(request, user, alarm, new=False)


async def alarm_edit_post(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    current = await request.app[keys.SERVICES].get_alarm(user, _alarm_id(request))
    return await _save_or_test(request, user, current)


async def _detail_page(
    request: web.Request, user: User, alarm: Alarm, *, result: Evaluation | None = None, error: str = ""
) -> web.Response:
    services = request.app[keys.SERVICES]
    zone = viewer_zone(request, user)
    history: list[Evaluation] = []
    history_error = ""
    try:
        history = await services.list_evaluations(user, alarm.id, limit=HISTORY_LIMIT)
    except ServiceError as exc:
        history_error = exc.message
    owners = await alarm_pages.owner_names(request) if user.is_admin and alarm.owner else {}
    context = {
        "alarm": alarm,
        "owners": owners,
        "result": result,
        "error": error,
        "message": alarm_pages.MESSAGES.get(request.query.get("done", ""), ""),
        "evaluations": history[:TABLE_ROWS],
        "history_count": len(history),
        "history_error": history_error,
        "chart": alarm_pages.chart_data(alarm, history, zone),
        "cdr_link": alarm_pages.cdr_link(request, alarm, history),
        "zone": zone,
        "has_echarts": (STATIC_DIR / "vendor" / "echarts.min.js").exists(),
        **alarm_pages.labels(),
    }
    return render(request, "alarm_detail.html", context)


async def alarm_detail(request: web.Request) -> web.StreamResponse:
    user = auth.require_user(request)
    alarm = await request.app[keys.SERVICES].get_alarm(user, _alarm_id(request))
    return await _detail_page(request, user, alarm)


async def alarm_post(request: web.Request) -> web.StreamResponse:
    """The buttons of the list and detail pages: enable, disable, delete, test now."""
    user = auth.require_user(request)
    services = request.app[keys.SERVICES]
    alarm = await services.get_alarm(user, _alarm_id(request))
    form = await request.post()
    action = str(form.get("action", ""))
    back_to_list = form.get("back") == "list"
    if action == "delete":
        await services.delete_alarm(user, alarm.id)
        raise _redirect(request, "alarms", "done=deleted")
    if action in ("enable", "disable"):
        await services.update_alarm(user, dataclasses.replace(alarm, enabled=action == "enable"))
        done = f"done={action}d"
        raise _redirect(request, "alarms", done) if back_to_list else _redirect(request, "alarm", done, id=alarm.id)
    if action == "test":
        try:
            result = await services.test_alarm(user, alarm)
        except ServiceError as exc:
            if exc.status == 404:
                raise
            return await _detail_page(request, user, alarm, error=f"The test could not run: {exc.message}.")
        return await _detail_page(request, user, alarm, result=result)
    raise web.HTTPBadRequest(text="action: expected enable, disable, delete or test.")


ROUTES = (
    ("GET", "/alarms", alarm_list, "alarms"),
    ("GET", "/alarms/new", alarm_new, "alarm_new"),
    ("POST", "/alarms/new", alarm_create, "alarm_create"),
    ("GET", "/alarms/{id}", alarm_detail, "alarm"),
    ("POST", "/alarms/{id}", alarm_post, "alarm_post"),
    ("GET", "/alarms/{id}/edit", alarm_edit, "alarm_edit"),
    ("POST", "/alarms/{id}/edit", alarm_edit_post, "alarm_edit_post"),
)
