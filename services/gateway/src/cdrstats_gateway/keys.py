"""Typed keys for everything the app and a request carry (aiohttp AppKey / RequestKey)."""

from __future__ import annotations

import jinja2
from aiohttp import web

from cdrstats_gateway.clients import Services
from cdrstats_gateway.domain.models import Session, User
from cdrstats_gateway.settings import GatewaySettings
from cdrstats_gateway.store import GatewayStore
from cdrstats_gateway.throttle import LoginThrottle, SendThrottle

SETTINGS = web.AppKey("settings", GatewaySettings)
STORE: web.AppKey[GatewayStore] = web.AppKey("store")
SERVICES: web.AppKey[Services] = web.AppKey("services")
TEMPLATES = web.AppKey("templates", jinja2.Environment)
SECRET_KEY = web.AppKey("secret_key", str)
THROTTLE = web.AppKey("throttle", LoginThrottle)
SEND_THROTTLE = web.AppKey("send_throttle", SendThrottle)

#: the authenticated user of this request (session for pages, token or basic for the API)
USER = web.RequestKey("user", User)
#: the switch whose own push credentials (HTTP basic) authenticated this request (bulk CDR API only)
SWITCH = web.RequestKey("switch", str)
SESSION = web.RequestKey("session", Session)
#: the raw session id from the cookie (only its hash is stored)
SESSION_ID = web.RequestKey("session_id", str)
