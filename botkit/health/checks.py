"""The checks of ``botkit health`` that need no queue: the store, the bot's ``/healthz``; and the shape of a
check's outcome (:class:`Check`), shared with :mod:`botkit.health.queue`."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botkit.config import Settings

TIMEOUT_S = 2.0  # per check: a probe must answer well within the kubelet's timeoutSeconds
HEALTH_PATH = "/healthz"  # served by botkit.asgi_server on the web widget's and the console's servers


@dataclass(frozen=True)
class Check:
    """The outcome of one check: its name, whether it passed, and one line saying what it found."""

    name: str
    ok: bool
    detail: str
    seconds: float = 0.0
    required: bool = True  # a failed check that is not required is shown (WARN) but fails nothing

    def line(self) -> str:
        """``ok   store: ...``, ``FAIL redis: ...``, or ``WARN workers: ...`` for an advisory check."""
        label = "ok  " if self.ok else ("FAIL" if self.required else "WARN")
        return f"{label} {self.name}: {self.detail}"


class Failed(Exception):
    """A check failed; the message is its one line."""


def timed(checks: list[Check], name: str, run: Callable[[], Any], *, required: bool = True) -> Any:
    """Run one check and append its :class:`Check` to ``checks`` (``required=False``: advisory).

    Returns ``run``'s value (``True`` for a line) when it passed, None when it raised :class:`Failed`.

    ``run`` returns the line to show (a string) or, for the config, the settings.
    """
    began = time.monotonic()
    try:
        result = run()
    except Failed as exc:
        checks.append(Check(name, False, str(exc), round(time.monotonic() - began, 3), required))
        return None
    detail = result if isinstance(result, str) else _describe(result)
    checks.append(Check(name, True, detail, round(time.monotonic() - began, 3), required))
    return result if not isinstance(result, str) else True


def _describe(settings: Any) -> str:
    source = getattr(settings, "config_file", None)
    return f"loaded from {source}" if source else "loaded (defaults and environment)"


def check_store(settings: Settings, timeout_s: float = TIMEOUT_S) -> str:
    """The store answers a query within ``timeout_s``: the SQLite file exists and opens, or the
    PostgreSQL server accepts the URL's credentials. The memory store has nothing to reach.

    Raises:
        Failed: one line naming the database (password hidden) and why.
    """
    if settings.store == "memory":
        return "memory store (nothing to reach)"
    from sqlalchemy import text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from botkit.db import DatabaseUnavailable
    from botkit.db.engine import database_url, open_engine

    raw = database_url(settings)
    try:
        url = make_url(raw)
    except ArgumentError:
        raise Failed(f"database_url {raw!r} is not a database URL") from None
    shown = url.render_as_string(hide_password=True)
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = url.database or ""
        if path not in ("", ":memory:") and not Path(path).is_file():
            # Opening would create it: a bot that is running has made it already.
            raise Failed(f"SQLite file {path} does not exist (botkit run creates it at start)")
        url = url.update_query_dict({"timeout": f"{timeout_s:g}"})  # a writer's lock: wait this long
    elif backend == "postgresql":
        # libpq counts whole seconds, at least 2.
        url = url.update_query_dict({"connect_timeout": str(max(2, round(timeout_s)))})
    try:
        engine = open_engine(url.render_as_string(hide_password=False), migrate=False)
    except DatabaseUnavailable as exc:
        raise Failed(str(exc)) from None
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        raise Failed(f"cannot reach the database at {shown}: {one_line(exc)}") from None
    finally:
        engine.dispose()
    return f"{engine.dialect.name} at {shown} answers"


def bot_health_url(settings: Settings) -> str:
    """The bot's ``/healthz``: on its web widget's server when the web adapter runs, else its console's.

    Raises:
        Failed: the bot serves neither (a bot of webhooks and gateways only has no liveness endpoint).
    """
    if "web" in settings.adapters:
        listen, port = settings.web.listen, settings.web.port
    elif settings.console.enabled or "botkit.console" in settings.plugins:
        listen, port = settings.console.listen, settings.console.port
    else:
        raise Failed(
            f"this bot serves no {HEALTH_PATH}: it is answered by the web adapter's or the console's server; "
            "run one of them, or pass --url"
        )
    if port == 0:
        raise Failed("the server's port is 0 (any free port): pass --url with the port it bound")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(listen, listen)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{HEALTH_PATH}"


def check_http(url: str, timeout_s: float = TIMEOUT_S) -> str:
    """``GET url`` answers 200 within ``timeout_s``.

    Raises:
        Failed: no answer, or another status.
    """
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise Failed(f"{url} did not answer within {timeout_s:g} s: {one_line(reason)}") from None
    if status != 200:
        raise Failed(f"{url} answered {status}, not 200")
    return f"{url} answered 200"


def one_line(exc: object) -> str:
    """An error's own message on one line (SQLAlchemy's and pydantic's span several)."""
    message = str(getattr(exc, "orig", None) or exc)
    message = message.split("\n(Background on this error", 1)[0]
    return re.sub(r"\s+", " ", message).strip() or type(exc).__name__
