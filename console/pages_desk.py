"""The agents' pages: the queue, a conversation (transcript, the bot's sources, take/assign/resolve/close,
a reply box), the tickets, and the live-update stream.

Every action goes through the desk's :class:`~botkit.desk.AgentDesk`, the Python API the Slack bridge uses,
so an agent's reply reaches the user on their own platform and is stored as the conversation's turn.

Live updates are Server-Sent Events fed by polling the database once a second (:class:`Pulse`), not a
WebSocket fed by the desk's listeners: updates only flow one way, EventSource reconnects by itself, the
stream is plain HTTP behind the same session cookie and guard as every page, and the database is the one
place that sees every change, whichever bot replica, Slack thread or jobs worker made it. A change makes
the page fetch its live parts again (``data-live``), rendered and escaped by the server like the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from botkit.console.accounts import Login
from botkit.console.web import SESSION_COOKIE, back, page, render, sse, state_of
from botkit.db.schema import conversations
from botkit.desk.records import read_transcript, utc_now
from botkit.desk.ticket_types import STATUSES, NoSuchTicket, TicketError
from botkit.errors import ConversationClosed

RECENT = timedelta(hours=1)  # bot conversations shown on the queue page
KEEP_ALIVE_S = 15.0
RECHECK_LOGIN_S = 30.0


def _recent_bot_conversations(request: Request) -> list[Any]:
    since = utc_now() - RECENT
    query = (
        select(conversations)
        .where(conversations.c.mode == "bot", conversations.c.last_seen_at >= since)
        .order_by(conversations.c.last_seen_at.desc())
        .limit(20)
    )
    with state_of(request).engine.connect() as conn:
        return list(conn.execute(query).all())


@page()
async def queue(request: Request, login: Login) -> Response:
    """Waiting tickets, those with an agent, and recently active bot conversations (live)."""
    desk = state_of(request).desk()
    values: dict[str, Any] = {"desk": desk is not None, "waiting": [], "assigned": [], "recent": []}
    if desk is not None:
        open_tickets = await desk.agents.open_tickets()
        values["waiting"] = [t for t in open_tickets if t.status == "waiting"]
        values["assigned"] = [t for t in open_tickets if t.status == "assigned"]
    values["recent"] = await asyncio.to_thread(_recent_bot_conversations, request)
    template = "_queue.html" if request.query_params.get("fragment") else "queue.html"
    return render(request, template, login, **values)


@page()
async def conversation(request: Request, login: Login) -> Response:
    """One conversation: its transcript, latest ticket, the bot's sources and what an agent can do."""
    state = state_of(request)
    key = request.path_params["key"]
    desk = state.desk()

    def read() -> tuple[list[Any], Any, list[str]]:
        with state.engine.connect() as conn:
            lines = read_transcript(conn, key)
        ticket = desk.agents.tickets.latest_for(key) if desk is not None else None
        agents = [u.name for u in state.accounts.users() if not u.disabled]
        return lines, ticket, agents

    lines, ticket, agents = await asyncio.to_thread(read)
    if not lines and ticket is None:
        return render(request, "message.html", login, status_code=404, message_key="not_found")
    template = "_conversation.html" if request.query_params.get("fragment") else "conversation.html"
    return render(
        request,
        template,
        login,
        key=key,
        lines=lines,
        ticket=ticket,
        agents=agents,
        notice=request.query_params.get("notice", ""),
    )


@page()
async def act(request: Request, login: Login) -> Response:
    """Take, assign, resolve, close or reply to a ticket; back to its conversation, saying what happened."""
    desk = state_of(request).desk()
    if desk is None:
        return render(request, "message.html", login, status_code=404, message_key="no_desk")
    ticket_id = int(request.path_params["ticket_id"])
    action = request.path_params["action"]
    form = await request.form()
    agents = desk.agents
    me = login.user.name
    try:
        ticket = await agents.ticket(ticket_id)
        if action == "take":
            await agents.take(ticket_id, me)
        elif action == "assign":
            chosen = str(form.get("agent") or me)
            found = await asyncio.to_thread(state_of(request).accounts.user, chosen)
            if found is None or found.disabled:
                raise ValueError(f"there is no active console user named {chosen!r} to assign to")
            await agents.assign(ticket_id, chosen, by=me)
        elif action == "resolve":
            await agents.resolve(ticket_id, me)
        elif action == "close":
            await agents.close(ticket_id, me)
        elif action == "reply":
            await agents.reply(ticket_id, me, str(form.get("text") or ""))
        else:
            return render(request, "message.html", login, status_code=404, message_key="not_found")
    except (TicketError, ValueError, ConversationClosed, LookupError) as exc:
        if isinstance(exc, NoSuchTicket):
            return render(request, "message.html", login, status_code=404, message_key="not_found")
        return back(f"/conversations/{quote(ticket.conversation, safe='')}", notice=str(exc))
    return back(f"/conversations/{quote(ticket.conversation, safe='')}", notice="done")


@page()
async def ticket_list(request: Request, login: Login) -> Response:
    """Tickets, newest first, filtered by status, assignee and words of the subject."""
    desk = state_of(request).desk()
    status = request.query_params.get("status", "")
    assignee = request.query_params.get("assignee", "")
    words = request.query_params.get("q", "").strip()
    found = []
    if desk is not None:
        listed = await asyncio.to_thread(
            desk.agents.tickets.list,
            status=status if status in STATUSES else None,
            assignee=assignee or None,
        )
        found = [t for t in reversed(listed) if words.casefold() in t.subject.casefold()][:500]
    return render(
        request,
        "tickets.html",
        login,
        desk=desk is not None,
        tickets=found,
        statuses=STATUSES,
        status=status,
        assignee=assignee,
        q=words,
    )


@page()
async def ticket_detail(request: Request, login: Login) -> Response:
    """One ticket: its fields, events and transcript."""
    desk = state_of(request).desk()
    if desk is None:
        return render(request, "message.html", login, status_code=404, message_key="no_desk")
    ticket_id = int(request.path_params["ticket_id"])
    tickets = desk.agents.tickets
    try:
        ticket = await asyncio.to_thread(tickets.get, ticket_id)
        events = await asyncio.to_thread(tickets.events, ticket_id)
        lines = await asyncio.to_thread(tickets.transcript, ticket_id)
    except TicketError:
        return render(request, "message.html", login, status_code=404, message_key="not_found")
    return render(request, "ticket.html", login, ticket=ticket, events=events, lines=lines)


@page(api=True)
async def events(request: Request, login: Login) -> Response:
    """Server-Sent Events: ``change`` whenever tickets or turns change (see the module docstring)."""
    state = state_of(request)
    token = request.cookies.get(SESSION_COOKIE, "")

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        last: tuple[int, int, int] | None = None
        loop = asyncio.get_running_loop()
        quiet_since = checked_at = loop.time()
        while not state.stopping.is_set():
            beat = await state.pulse.beat()
            if beat != last:
                if last is not None:
                    yield sse("change", {"events": beat[0], "turns": beat[1], "tickets": beat[2]})
                last, quiet_since = beat, loop.time()
            elif loop.time() - quiet_since >= KEEP_ALIVE_S:
                yield ": still here\n\n"
                quiet_since = loop.time()
            if loop.time() - checked_at >= RECHECK_LOGIN_S:  # a logout or an expiry ends the stream
                if await asyncio.to_thread(state.accounts.session, token) is None:
                    return
                checked_at = loop.time()
            try:
                await asyncio.wait_for(state.stopping.wait(), state.pulse.interval_s)
            except TimeoutError:
                pass

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


ROUTES = [
    Route("/", queue, methods=["GET"]),
    Route("/conversations/{key:path}", conversation, methods=["GET"]),
    Route("/tickets", ticket_list, methods=["GET"]),
    Route("/tickets/{ticket_id:int}", ticket_detail, methods=["GET"]),
    Route("/tickets/{ticket_id:int}/{action}", act, methods=["POST"]),
    Route("/events", events, methods=["GET"]),
]
