"""The admins' pages: users (add, change role, disable or enable), settings (all of them to read, secrets
hidden; the few that are safe to change while the bot runs), and the audit log. Every change is written to
the audit log, refused ones with their reason.

An admin cannot disable or demote themselves: the console would otherwise let its last admin lock
everyone out of the admin pages.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from botkit.console.accounts import AccountError, Login
from botkit.console.web import back, page, render, state_of

# A URL's password ("postgresql://user:secret@host/db") is hidden on the settings page.
URL_PASSWORD = re.compile(r"(?<=://)([^:/@\s]+):[^@\s]+@")


@page("admin")
async def users_page(request: Request, login: Login) -> Response:
    """Every user, with their role and whether they may log in."""
    users = await asyncio.to_thread(state_of(request).accounts.users)
    return render(request, "users.html", login, users=users, notice=request.query_params.get("notice", ""))


@page("admin")
async def user_change(request: Request, login: Login) -> Response:
    """``add``, ``role``, ``disable`` or ``enable`` a user; the audit log records the attempt."""
    state = state_of(request)
    accounts = state.accounts
    action = request.path_params["action"]
    form = await request.form()
    name = str(form.get("name") or "").strip()
    role = str(form.get("role") or "")
    me = login.user.name
    try:
        if action == "add":
            user = await asyncio.to_thread(accounts.add_user, name, str(form.get("password") or ""), role)
            detail: dict[str, Any] = {"role": user.role}
        elif action == "role":
            if name == me and role != "admin":
                raise AccountError("an admin cannot take their own admin role")
            detail = {"role": (await asyncio.to_thread(accounts.set_role, name, role)).role}
        elif action in ("disable", "enable"):
            if name == me:
                raise AccountError("an admin cannot disable themselves")
            await asyncio.to_thread(accounts.set_disabled, name, action == "disable")
            detail = {}
        else:
            return render(request, "message.html", login, status_code=404, message_key="not_found")
    except AccountError as exc:
        await asyncio.to_thread(state.audit.record, me, f"user.{action}", name, error=str(exc))
        return back("/users", notice=str(exc))
    await asyncio.to_thread(state.audit.record, me, f"user.{action}", name, **detail)
    return back("/users", notice="done")


def _settings_view(request: Request) -> str:
    settings = state_of(request).bot.settings
    if settings is None:
        return "{}"
    dumped = json.dumps(settings.model_dump(mode="json"), indent=2, ensure_ascii=False)  # SecretStr: ****
    return URL_PASSWORD.sub(r"\1:***@", dumped)


@page("admin")
async def settings_page(request: Request, login: Login) -> Response:
    """The settings as loaded (read only) and the form for what may change at run time."""
    settings = state_of(request).bot.settings
    return render(
        request,
        "settings.html",
        login,
        settings=settings,
        dumped=_settings_view(request),
        notice=request.query_params.get("notice", ""),
    )


@page("admin")
async def settings_change(request: Request, login: Login) -> Response:
    """Change the knowledge base's threshold and the desk's unsure-before-handoff count, now, in this
    process (the config file is not rewritten: a restart goes back to it)."""
    state = state_of(request)
    settings = state.bot.settings
    if settings is None:
        return back("/settings", notice="this bot was built without settings; nothing to change")
    form = await request.form()
    changes: dict[str, Any] = {}
    problems: list[str] = []
    threshold = str(form.get("kb_threshold") or "").strip()
    if threshold:
        try:
            value = float(threshold)
            if not 0.0 <= value <= 1.0:
                raise ValueError
        except ValueError:
            problems.append(f"kb.threshold must be a number from 0 to 1, not {threshold!r}")
        else:
            changes["kb.threshold"] = (settings.kb.threshold, value)
    unsure = str(form.get("unsure_before_handoff") or "").strip()
    if unsure:
        if not unsure.isdigit() or int(unsure) < 1:
            problems.append(
                f"desk.unsure_before_handoff must be a whole number of at least 1, not {unsure!r}"
            )
        else:
            changes["desk.unsure_before_handoff"] = (settings.desk.unsure_before_handoff, int(unsure))
    if problems:
        await asyncio.to_thread(state.audit.record, login.user.name, "settings.change", "", error=problems)
        return back("/settings", notice="; ".join(problems))
    _apply(state, changes)
    detail = {key: {"from": old, "to": new} for key, (old, new) in changes.items()}
    target = ", ".join(changes) or "(nothing)"
    await asyncio.to_thread(state.audit.record, login.user.name, "settings.change", target, **detail)
    return back("/settings", notice="done")


def _apply(state: Any, changes: dict[str, tuple[Any, Any]]) -> None:
    """Set the new values on the settings the running bot reads (the desk and the knowledge base hold
    the same section objects, unless they were given their own)."""
    settings = state.bot.settings
    desk = state.desk()
    if "kb.threshold" in changes:
        value = changes["kb.threshold"][1]
        settings.kb.threshold = value
        answerer = getattr(desk, "answerer", None)
        if answerer is not None and hasattr(answerer, "settings"):
            answerer.settings.threshold = value
    if "desk.unsure_before_handoff" in changes:
        value = changes["desk.unsure_before_handoff"][1]
        settings.desk.unsure_before_handoff = value
        if desk is not None:
            desk.settings.unsure_before_handoff = value


@page("admin")
async def audit_page(request: Request, login: Login) -> Response:
    """The audit log, newest first (``?action=`` narrows it)."""
    action = request.query_params.get("action", "").strip()
    entries = await asyncio.to_thread(state_of(request).audit.recent, 500, action=action or None)
    return render(request, "audit.html", login, entries=entries, action=action)


ROUTES = [
    Route("/users", users_page, methods=["GET"]),
    Route("/users/{action}", user_change, methods=["POST"]),
    Route("/settings", settings_page, methods=["GET"]),
    Route("/settings", settings_change, methods=["POST"]),
    Route("/audit", audit_page, methods=["GET"]),
]
