"""Jinja2 templates (plain Environment, autoescaped) and the page-rendering helper."""

from __future__ import annotations

import pathlib
from typing import Any

import jinja2
from aiohttp import web

from cdrstats_gateway import keys
from cdrstats_gateway.domain import formatting

PACKAGE_DIR = pathlib.Path(__file__).resolve().parent
TEMPLATE_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"


def make_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["count"] = formatting.count
    env.filters["decimal"] = formatting.decimal
    env.filters["mm_ss"] = formatting.mm_ss
    return env


def render(request: web.Request, template: str, context: dict[str, Any], *, status: int = 200) -> web.Response:
    """Render a page with what every page needs: the user, the CSRF token and named-route URLs."""
    session = request.get(keys.SESSION)

    def url(name: str, **parts: str) -> str:
        return str(request.app.router[name].url_for(**parts))

    page = (
        request.app[keys.TEMPLATES]
        .get_template(template)
        .render(
            {
                "user": request.get(keys.USER),
                "csrf_token": session.csrf_token if session is not None else "",
                "url": url,
                "static": lambda path: str(request.app.router["static"].url_for(filename=path)),
                **context,
            }
        )
    )
    return web.Response(text=page, status=status, content_type="text/html")
