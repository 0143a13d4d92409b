"""What every console page shares: the state the app carries, the guard (login, role, CSRF) around each
page, template rendering with autoescape, and the security headers on every response.

A page is ``async def handler(request, login) -> Response`` wrapped by :func:`page`: the guard finds the
session from its cookie (a GET without one is sent to the login page, anything else gets 401), refuses an
agent on an admin page (403), and refuses every POST whose ``csrf`` form field (or ``X-CSRF-Token`` header)
is not the session's token (403), before the handler runs.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine, func, select
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from botkit.console.accounts import Accounts, Login, Role
from botkit.console.audit import AuditLog
from botkit.console.limits import LoginLimiter
from botkit.console.texts import LANGUAGES, pick_language, text
from botkit.db.schema import ticket_events, tickets, turns
from botkit.plugin import BotView

if TYPE_CHECKING:
    from botkit.desk.plugin import SupportDesk
    from botkit.kb.knowledge import KnowledgeBase

SESSION_COOKIE = "botkit_console"
LANG_COOKIE = "botkit_console_lang"
MAX_FORM_FILES = 20
# Only this server's own scripts, styles and images; no frames; forms post back here only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]

Handler = Callable[[Request, Login], Awaitable[Response]]


class Pulse:
    """A cheap fingerprint of what the live pages show (the newest ticket event and turn, the ticket count),
    read from the database at most once a second however many pages listen."""

    def __init__(self, engine: Engine, interval_s: float = 1.0) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self._value: tuple[int, int, int] = (0, 0, 0)
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()

    def _read(self) -> tuple[int, int, int]:
        with self.engine.connect() as conn:
            event = conn.scalar(select(func.max(ticket_events.c.id))) or 0
            turn = conn.scalar(select(func.max(turns.c.id))) or 0
            count = conn.scalar(select(func.count()).select_from(tickets)) or 0
        return int(event), int(turn), int(count)

    async def beat(self) -> tuple[int, int, int]:
        """The fingerprint, at most ``interval_s`` old."""
        async with self._lock:
            loop = asyncio.get_running_loop()
            if loop.time() - self._read_at >= self.interval_s:
                self._value = await asyncio.to_thread(self._read)
                self._read_at = loop.time()
            return self._value


@dataclass
class ConsoleState:
    """What the console's handlers share (``request.app.state.console``)."""

    bot: BotView
    engine: Engine
    accounts: Accounts
    audit: AuditLog
    limiter: LoginLimiter
    pulse: Pulse
    secure_cookies: bool = False
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    templates: Environment = field(
        default_factory=lambda: Environment(
            loader=PackageLoader("botkit.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
    )
    _kb: KnowledgeBase | None = None

    def desk(self) -> SupportDesk | None:
        """The bot's support desk plugin, set up (None when the desk is not enabled)."""
        from botkit.desk.plugin import SupportDesk

        for plugin in self.bot.plugins:
            if isinstance(plugin, SupportDesk) and hasattr(plugin, "agents"):
                return plugin
        return None

    def knowledge(self) -> KnowledgeBase:
        """The knowledge base the desk answers from, or one on the console's database.

        Raises:
            ImportError: the ``kb`` extra is not installed.
        """
        from botkit.kb.knowledge import KnowledgeBase

        desk = self.desk()
        if desk is not None and isinstance(desk.answerer, KnowledgeBase):
            return desk.answerer
        if self._kb is None:
            from botkit.config import KBSettings
            from botkit.kb.tune import tuned_model_dir

            config = self.bot.settings
            self._kb = KnowledgeBase(
                self.engine,
                config.kb if config is not None else KBSettings(),
                tuned_dir=tuned_model_dir(config.data_dir) if config is not None else None,  # `kb tune`'s
            )
        return self._kb


def state_of(request: Request) -> ConsoleState:
    """The console's state from the app."""
    found: ConsoleState = request.app.state.console
    return found


def language_of(request: Request) -> str:
    """The page's language (see :mod:`botkit.console.texts`)."""
    settings = state_of(request).bot.settings
    return pick_language(
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
        settings.language if settings is not None else None,
    )


def render(
    request: Request, template: str, login: Login | None, *, status_code: int = 200, **values: Any
) -> HTMLResponse:
    """``template`` rendered (autoescaped) with the page's language, the login and its CSRF token."""
    lang = language_of(request)
    page = state_of(request).templates.get_template(template)

    def t(key: str, **fields: object) -> str:
        return text(key, lang, **fields)

    body = page.render(
        t=t,
        lang=lang,
        languages=LANGUAGES,
        login=login,
        csrf=login.csrf_token if login is not None else "",
        path=request.url.path,
        quote=quote,
        when=when,
        **values,
    )
    return HTMLResponse(body, status_code=status_code, headers={"Cache-Control": "no-store"})


def when(moment: datetime | None) -> str:
    """A time as agents read it (UTC, to the second)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else ""


def page(
    role: Role = "agent", *, api: bool = False
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Wrap a handler with the login, role and CSRF checks (see the module docstring).

    Args:
        role: ``agent`` (any logged-in user) or ``admin``.
        api: answer a missing login with 401 rather than a redirect (live updates, fragments).
    """

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            state = state_of(request)
            login = await asyncio.to_thread(state.accounts.session, request.cookies.get(SESSION_COOKIE))
            if login is None:
                if request.method == "GET" and not api:
                    # The path as sent (still quoted): a conversation key may hold "/" or "?".
                    raw = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
                    target = raw + (f"?{request.url.query}" if request.url.query else "")
                    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
                return PlainTextResponse("log in first", status_code=401)
            if role == "admin" and not login.user.is_admin:
                return render(request, "message.html", login, status_code=403, message_key="forbidden")
            if request.method != "POST":
                return await handler(request, login)
            try:
                form = await request.form(max_files=MAX_FORM_FILES)
                sent = form.get("csrf") or request.headers.get("x-csrf-token") or ""
                if not isinstance(sent, str) or not hmac.compare_digest(sent, login.csrf_token):
                    return render(request, "message.html", login, status_code=403, message_key="csrf")
                return await handler(request, login)
            finally:
                await request.close()  # uploaded files spooled to disk are closed (and deleted) here

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap


def back(to: str, **query: str) -> RedirectResponse:
    """After a POST, the page to show (303: the browser GETs it)."""
    suffix = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    return RedirectResponse(f"{to}?{suffix}" if suffix else to, status_code=303)


def sse(event: str, data: object) -> str:
    """One Server-Sent Events message."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response (pure ASGI, so streamed responses pass as they
    are streamed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)
