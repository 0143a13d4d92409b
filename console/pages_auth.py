"""Logging in and out, and the language switch.

The login form has no session yet, so its CSRF token is a double-submit one: a random value in a
short-lived, SameSite=Strict cookie of its own that the form must repeat. Attempts are limited per name and
per address (:class:`~botkit.console.limits.LoginLimiter`): past the limit the answer is 429 with
``Retry-After``, and the password is not even checked.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from botkit.console.accounts import Login
from botkit.console.texts import LANGUAGES, text
from botkit.console.web import LANG_COOKIE, SESSION_COOKIE, language_of, page, render, state_of

LOGIN_COOKIE = "botkit_console_login"


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this server, else the queue (no open redirect to another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _login_page(
    request: Request, *, error: str = "", status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=token,
        error=error,
        next=safe_next(request.query_params.get("next")),
    )
    response.set_cookie(LOGIN_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="strict")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


async def login_form(request: Request) -> Response:
    """The login page."""
    return _login_page(request)


async def login(request: Request) -> Response:
    """Check the login form's token, the attempt limit and the password; on success start a session."""
    try:
        return await _login(request)
    finally:
        await request.close()


async def _login(request: Request) -> Response:
    state = state_of(request)
    form = await request.form()
    sent = form.get("csrf")
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        return render(request, "message.html", None, status_code=403, message_key="csrf")
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    address = request.client.host if request.client is not None else "unknown"
    wait = state.limiter.retry_after(name, address)
    if wait is not None:
        said = text("too_many", language_of(request), seconds=wait)
        return _login_page(request, error=said, status_code=429, headers={"Retry-After": str(wait)})
    user = await asyncio.to_thread(state.accounts.authenticate, name, password)
    if user is None:
        state.limiter.failed(name, address)
        return _login_page(request, error=text("bad_login", language_of(request)), status_code=401)
    token, _ = await asyncio.to_thread(state.accounts.open_session, user)
    response = RedirectResponse(safe_next(str(form.get("next") or "")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(state.accounts.session_ttl.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies,
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@page()
async def logout(request: Request, login: Login) -> Response:
    """End the session (its row is deleted: the cookie no longer opens anything)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    await asyncio.to_thread(state_of(request).accounts.close_session, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def switch_language(request: Request) -> Response:
    """Remember the agent's language in a cookie and go back (a preference, not an action: no CSRF)."""
    code = request.path_params["code"]
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    if code in LANGUAGES:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, path="/", samesite="lax")
    return response


ROUTES = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/lang/{code}", switch_language, methods=["GET"]),
]
