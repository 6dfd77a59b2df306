"""Who is asking: sessions and CSRF for pages, API tokens or HTTP basic for /api/v1, login throttling."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlencode

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.typedefs import Handler

from cdrstats_gateway import keys
from cdrstats_gateway.domain.models import User
from cdrstats_gateway.middlewares import API_PREFIX, ApiError
from cdrstats_gateway.throttle import login_keys

T = TypeVar("T")
SESSION_COOKIE = "cdrstats_session"
LOGIN_CSRF_COOKIE = "cdrstats_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MULTIPART = web.RequestKey("multipart", MultipartReader)
SESSION_TTL_S = 12 * 3600.0
REALM = 'Basic realm="cdr-stats"'
_PUBLIC_PREFIXES = ("/static/", "/healthz", "/livez", "/readyz")
#: the OpenAPI document holds no data: tools fetch it without credentials
PUBLIC_API_PATHS = frozenset({"/api/v1/openapi.json"})


def set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    secure = request.app[keys.SETTINGS].cookie_secure
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Lax", secure=secure)


# --- CSRF -------------------------------------------------------------------------------------


def _sign(secret: str, token: str) -> str:
    return hmac.new(secret.encode(), f"login-csrf:{token}".encode(), hashlib.sha256).hexdigest()


def login_csrf_token(request: web.Request) -> tuple[str, str | None]:
    """The pre-session CSRF token from the signed cookie, or a new one and the cookie value to set."""
    secret = request.app[keys.SECRET_KEY]
    token, _, signature = request.cookies.get(LOGIN_CSRF_COOKIE, "").partition(".")
    if token and hmac.compare_digest(signature, _sign(secret, token)):
        return token, None
    token = secrets.token_urlsafe(32)
    return token, f"{token}.{_sign(secret, token)}"


async def _submitted_csrf(request: web.Request) -> object:
    """The token from the X-CSRF-Token header (scripts), else the form field.

    A multipart upload is not buffered to find it: its first part must be the token
    field, and the reader is kept for the handler (``multipart_reader``).
    """
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        request[MULTIPART] = reader
        part = await reader.next()
        if isinstance(part, BodyPartReader) and part.name == CSRF_FIELD:
            return await part.text()
        return None
    form = await request.post()
    return form.get(CSRF_FIELD)


async def multipart_reader(request: web.Request) -> MultipartReader:
    """The upload's parts (after the CSRF field if check_csrf already read it)."""
    reader = request.get(MULTIPART)
    return reader if reader is not None else await request.multipart()


async def check_csrf(request: web.Request) -> None:
    """Every POST form carries the token: the session's, or for /login the signed pre-session cookie's."""
    submitted = await _submitted_csrf(request)
    if request.path == str(request.app.router["login"].url_for()):
        expected, new_cookie = login_csrf_token(request)
        if new_cookie is not None:
            expected = ""  # no valid signed cookie: nothing to compare against
    else:
        session = request.get(keys.SESSION)
        if session is None:
            return  # no session, no authority to abuse: the view sends the visitor to /login
        expected = session.csrf_token
    if not isinstance(submitted, str) or not expected or not hmac.compare_digest(submitted, expected):
        raise web.HTTPForbidden(text="The form's security token is missing or out of date. Reload the page and retry.")


# --- sessions for pages -----------------------------------------------------------------------


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith((API_PREFIX, *_PUBLIC_PREFIXES)):
        return await handler(request)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        store = request.app[keys.STORE]
        session = await asyncio.to_thread(store.get_session, session_id)
        user = None if session is None else await asyncio.to_thread(store.get_user, session.user_id)
        if session is not None and user is not None:
            request[keys.SESSION] = session
            request[keys.SESSION_ID] = session_id
            request[keys.USER] = user
    if request.method == "POST":
        await check_csrf(request)
    return await handler(request)


def require_user(request: web.Request) -> User:
    """The logged-in user, or a redirect to the login page that comes back here."""
    user = request.get(keys.USER)
    if user is None:
        login = request.app.router["login"].url_for()
        raise web.HTTPSeeOther(f"{login}?{urlencode({'next': request.path_qs})}")
    return user


async def start_session(request: web.Request, response: web.StreamResponse, user: User) -> None:
    """A new session id on every login (no fixation); the old session, if any, is deleted."""
    store = request.app[keys.STORE]
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await asyncio.to_thread(store.delete_session, old)
    session_id, _ = await asyncio.to_thread(store.create_session, user.id, SESSION_TTL_S)
    set_cookie(request, response, SESSION_COOKIE, session_id, int(SESSION_TTL_S))
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")


async def end_session(request: web.Request, response: web.StreamResponse) -> None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await asyncio.to_thread(request.app[keys.STORE].delete_session, session_id)
    response.del_cookie(SESSION_COOKIE, path="/")


# --- throttled password checks ----------------------------------------------------------------


class Throttled(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed logins; retry in {math.ceil(retry_after_s)} s")
        self.retry_after_s = math.ceil(retry_after_s)


async def _throttled(request: web.Request, username: str, check: Callable[[], T]) -> tuple[T, str]:
    """Run the password ``check`` unless the username or client IP is throttled (then raise Throttled).

    A falsy result counts as a failure of both keys; the username's key is returned for a reset.
    """
    throttle = request.app[keys.THROTTLE]
    user_key, ip_key = login_keys(username, request.remote)
    wait = await asyncio.to_thread(throttle.retry_after, user_key, ip_key)
    if wait > 0:
        raise Throttled(wait)
    result = await asyncio.to_thread(check)
    if not result:
        await asyncio.to_thread(throttle.failed, user_key, ip_key)
    return result, user_key


async def authenticate(request: web.Request, username: str, password: str) -> User | None:
    """Check a password unless the username or client IP is throttled (then raise Throttled)."""
    store = request.app[keys.STORE]
    user, user_key = await _throttled(request, username, lambda: store.authenticate(username, password))
    if user is not None:
        await asyncio.to_thread(request.app[keys.THROTTLE].reset, user_key)
    return user


async def check_current_password(request: web.Request, user: User, password: str) -> bool:
    """A password change's "current password", throttled on the same keys as a login.

    Else a stolen session could try passwords here without limit; once throttled, the answer
    is 429 with Retry-After (a page or API JSON, through the error middleware).
    """
    store = request.app[keys.STORE]
    try:
        matched, _ = await _throttled(request, user.username, lambda: store.check_password(user.id, password))
    except Throttled as exc:
        raise web.HTTPTooManyRequests(
            text=f"current_password: too many wrong passwords; retry in {exc.retry_after_s} s",
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None
    return bool(matched)


# --- the REST API: bearer tokens or HTTP basic --------------------------------------------------


def decode_basic(credentials: str) -> tuple[str, str]:
    """``user:password`` from base64 (UTF-8 per RFC 7617, Latin-1 for old clients); ValueError if malformed."""
    try:
        raw = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    username, sep, password = text.partition(":")
    if not sep:
        raise ValueError("no colon between username and password")
    return username, password


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": REALM})


async def _api_user(request: web.Request) -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        user = await asyncio.to_thread(request.app[keys.STORE].user_for_api_token, credentials.strip())
        if user is None:
            raise _unauthenticated("unknown or revoked API token")
        return user
    if scheme.lower() == "basic":
        try:
            username, password = decode_basic(credentials)
        except ValueError as exc:
            raise _unauthenticated(f"malformed basic credentials: {exc}") from exc
        try:
            found = await authenticate(request, username, password)
        except Throttled as exc:
            headers = {"Retry-After": str(exc.retry_after_s)}
            raise ApiError(429, "too_many_requests", str(exc), headers=headers) from exc
        if found is None:
            raise _unauthenticated("wrong username or password")
        return found
    raise _unauthenticated("send Authorization: Bearer <API token> or HTTP basic credentials")


#: routes a switch may call with its own push credentials (HTTP basic) instead of a user's
SWITCH_KEY_ROUTES = {("POST", "/api/v1/cdrs")}


async def _switch_by_key(request: web.Request) -> str | None:
    """The switch whose push credentials the request carries, on the routes that accept them."""
    if (request.method, request.path) not in SWITCH_KEY_ROUTES:
        return None
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, password = decode_basic(credentials)
    except ValueError:
        return None
    # checked first: a right switch key is no failed user login, so it never counts toward throttling;
    # a wrong one goes on to the user check and counts there, and once that username or address is
    # throttled no key is tried at all (else the bulk route would allow unlimited key guesses)
    if await asyncio.to_thread(request.app[keys.THROTTLE].retry_after, *login_keys(username, request.remote)) > 0:
        return None
    return await request.app[keys.SERVICES].authenticate_switch(username, password)


@web.middleware
async def api_auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(API_PREFIX) and request.path not in PUBLIC_API_PATHS:
        switch_id = await _switch_by_key(request)
        if switch_id is not None:
            request[keys.SWITCH] = switch_id
        else:
            request[keys.USER] = await _api_user(request)
    return await handler(request)
