"""A fake Slack on 127.0.0.1: the Web API, files, response URLs and Socket Mode, plus a signed event sender.

Point a real ``slack_sdk`` client at it (``AsyncWebClient(base_url=fake.api_base)``, or the adapter's
``api_base`` setting) and drive your bot as Slack would::

    async with FakeSlackServer() as slack:
        adapter = SlackAdapter(SlackSettings(bot_token=slack.bot_token, signing_secret=slack.signing_secret,
                                             api_base=slack.api_base, port=0))
        await adapter.start(bot)
        status, _ = await slack.send_event(adapter.url, slack.message_event("hi", channel="D1", im=True))
        await slack.wait_for(lambda: slack.calls_to("chat.postMessage"))

It validates what the real Web API would reject (unknown channel/ts, too-long text, malformed blocks) and,
stricter than Slack, refuses text that leaves ``&``, ``<`` or ``>`` unescaped (error ``unescaped_markup``):
Slack would render such text wrongly or swallow it as a link, so a bot must never send it.

Users (``users.info`` with their locale, :meth:`FakeSlackServer.add_user`), channels the bot may no longer
post to (:meth:`FakeSlackServer.close_channel`) and files (``files``, see
:mod:`botkit.adapters.slack.fake_files`) are there for proactive messages, languages and attachments.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from botkit.adapters.slack.fake_files import FakeSlackFiles

__all__ = ["ApiCall", "FakeSlackServer", "PostedMessage", "sign_request", "unescape"]

TEXT_LIMIT = 40_000
# Web API methods that write to a channel, and the argument naming it: a closed channel refuses them.
_WRITES = {
    "chat.postMessage": "channel",
    "chat.update": "channel",
    "files.completeUploadExternal": "channel_id",
}
SECTION_LIMIT = 3000
# A well-formed control sequence (<@U1>, <#C1>, <!here>, <https://x|label>) or entity; anything else
# containing & < > is unescaped model output.
_VALID_MARKUP = re.compile(r"<(?:[@#!][^<>&\s]+|(?:https?|mailto):[^<>\s]+)>|&(?:amp|lt|gt);")


_ENTITY = re.compile(r"&(amp|lt|gt);")


def unescape(text: str) -> str:
    """What a Slack client shows for ``text``: the entities ``&amp;``, ``&lt;``, ``&gt;`` decoded."""
    return _ENTITY.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], text)


def sign_request(body: str | bytes, signing_secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds to a request: ``X-Slack-Request-Timestamp`` and the v0 ``X-Slack-Signature``.

    Args:
        body: the exact request body.
        signing_secret: the app's signing secret.
        timestamp: Unix time to sign with (now when None; pass an old one to test stale requests).
    """
    ts = int(time.time()) if timestamp is None else timestamp
    raw = body.decode() if isinstance(body, bytes) else body
    digest = hmac.new(signing_secret.encode(), f"v0:{ts}:{raw}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": f"v0={digest}"}


@dataclass
class ApiCall:
    """One Web API call as the fake received it (``status`` is what it answered)."""

    method: str
    params: dict[str, Any]
    status: int = 200
    error: str | None = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class PostedMessage:
    """A message the bot posted, with every text it was edited to (``texts[-1]`` is the current one)."""

    channel: str
    ts: str
    thread_ts: str | None
    texts: list[str]
    blocks: list[Any] | None = None

    @property
    def text(self) -> str:
        """The current text as a Slack client shows it (entities decoded)."""
        return unescape(self.texts[-1])


class FakeSlackServer:
    """An in-process stand-in for Slack's servers.

    Args:
        bot_token: the only ``xoxb-`` token the Web API accepts.
        app_token: the only ``xapp-`` token ``apps.connections.open`` accepts.
        signing_secret: used by :meth:`send_event` and friends to sign what they deliver.
        bot_user_id: what ``auth.test`` says the bot's user id is.

    Attributes:
        calls: every Web API call, in order (rate-limited and failed ones included).
        messages: posted messages by ``ts``.
        responses: bodies POSTed to response URLs (see :meth:`response_url`), in order.
        acks: Socket Mode acknowledgements received, by envelope id.
        files: users' files to download and the bot's uploads (:class:`FakeSlackFiles`).
        users: what ``users.info`` knows of each user, by id (see :meth:`add_user`); a user it was not told
            of is a member whose locale is ``default_locale``.
        closed: channels the bot may no longer write to, with the error Slack gives (:meth:`close_channel`).
        failing: Web API methods answered with an error instead, e.g. ``{"users.info": "missing_scope"}``.
        delays: seconds to wait before answering a Web API method, by method name.
    """

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-fake-bot-token-0123456789",
        app_token: str = "xapp-fake-app-token-0123456789",
        signing_secret: str = "fake-signing-secret-0123456789",
        bot_user_id: str = "UBOT0001",
        bot_id: str = "BBOT0001",
        team_id: str = "T0001",
    ) -> None:
        self.bot_token, self.app_token, self.signing_secret = bot_token, app_token, signing_secret
        self.bot_user_id, self.bot_id, self.team_id = bot_user_id, bot_id, team_id
        self.calls: list[ApiCall] = []
        self.messages: dict[str, PostedMessage] = {}
        self.responses: list[dict[str, Any]] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.files = FakeSlackFiles(bot_token, team_id)
        self.users: dict[str, dict[str, Any]] = {}
        self.closed: dict[str, str] = {}
        self.failing: dict[str, str] = {}
        self.default_locale = "en-US"
        self.delays: dict[str, float] = {}
        self._rate_limited = 0
        self._retry_after = 1
        self._outage_until = 0.0
        self._outage_turns = itertools.count()
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._ack_waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.socket_connected = asyncio.Event()
        self.url = ""

    # -- life cycle -------------------------------------------------------------------------------
    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1; returns the base URL."""
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk reads users.info with GET
        app.router.add_post("/hooks/{name}", self._hook)
        app.router.add_get("/socket", self._socket)
        self.files.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # aiohttp keeps it private
        self.url = self.files.url = f"http://127.0.0.1:{port}"
        self._session = aiohttp.ClientSession()
        return self.url

    async def stop(self) -> None:
        """Close sockets, the sender session and the server."""
        for ws in self._sockets:
            await ws.close()
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeSlackServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        """The Web API base URL for ``AsyncWebClient(base_url=...)`` (with its trailing slash)."""
        return f"{self.url}/api/"

    def response_url(self, name: str = "r1") -> str:
        """A response URL on this fake, to put in slash command and block action payloads."""
        return f"{self.url}/hooks/{name}"

    # -- test controls ----------------------------------------------------------------------------
    def rate_limit(self, calls: int, retry_after: int = 1) -> None:
        """Answer the next ``calls`` Web API calls with HTTP 429 and ``Retry-After: retry_after``."""
        self._rate_limited, self._retry_after = calls, retry_after

    def fail_for(self, seconds: float, retry_after: int = 1) -> None:
        """For ``seconds`` from now, answer every Web API call with an error and do nothing: in turn HTTP
        429 (``Retry-After: retry_after``), 500, 502 and 503, as Slack does when overloaded or down."""
        self._outage_until, self._retry_after = time.monotonic() + seconds, retry_after

    def add_user(self, user_id: str, *, locale: str = "en-US", name: str = "") -> None:
        """Let ``users.info`` know ``user_id``; its ``locale`` is returned with ``include_locale=true``."""
        self.users[user_id] = {"id": user_id, "name": name or user_id.lower(), "locale": locale}

    def close_channel(self, channel: str, error: str = "is_archived") -> None:
        """Refuse the bot's posts to ``channel`` with ``error``, as Slack does once it may no longer write
        there (``is_archived``, ``channel_not_found``, ``not_in_channel``, ``account_inactive``)."""
        self.closed[channel] = error

    def calls_to(self, method: str, *, ok: bool = True) -> list[ApiCall]:
        """Calls of ``method`` (only the successful ones unless ``ok`` is False)."""
        return [c for c in self.calls if c.method == method and (not ok or (c.status == 200 and not c.error))]

    def thread(self, channel: str, thread_ts: str | None) -> list[PostedMessage]:
        """Messages the bot posted in ``channel`` under ``thread_ts`` (None: top level)."""
        return [m for m in self.messages.values() if m.channel == channel and m.thread_ts == thread_ts]

    async def wait_for(self, condition: Callable[[], object], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until ``condition()`` is truthy; raises ``TimeoutError`` after ``timeout`` seconds.

        A bounded poll is the point of this test helper (the condition is any expression over the fake's
        records, which no single event could signal).
        """
        async with asyncio.timeout(timeout):
            while not condition():  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    # -- delivering to the app --------------------------------------------------------------------
    async def deliver(
        self,
        url: str,
        body: str,
        content_type: str,
        *,
        headers: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        secret: str | None = None,
    ) -> tuple[int, str]:
        """POST ``body`` to the app signed like Slack would; returns (status, response text)."""
        assert self._session is not None, "start() the fake first"
        signed = sign_request(body, secret if secret is not None else self.signing_secret, timestamp)
        all_headers = {"Content-Type": content_type, **signed, **(headers or {})}
        async with self._session.post(url, data=body.encode(), headers=all_headers) as resp:
            return resp.status, await resp.text()

    async def send_event(self, url: str, payload: Mapping[str, Any], **kw: Any) -> tuple[int, str]:
        """Deliver an Events API body (JSON). ``kw`` as for :meth:`deliver` (headers, timestamp, secret)."""
        return await self.deliver(url, json.dumps(payload), "application/json", **kw)

    async def send_command(self, url: str, form: Mapping[str, str], **kw: Any) -> tuple[int, str]:
        """Deliver a slash command (form-encoded fields)."""
        return await self.deliver(url, urlencode(form), "application/x-www-form-urlencoded", **kw)

    async def send_action(self, url: str, payload: Mapping[str, Any], **kw: Any) -> tuple[int, str]:
        """Deliver an interactivity payload (a form with one ``payload`` field holding the JSON)."""
        form = urlencode({"payload": json.dumps(payload)})
        return await self.deliver(url, form, "application/x-www-form-urlencoded", **kw)

    async def push_envelope(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """Send a Socket Mode envelope to the connected app; returns its acknowledgement (5 s at most)."""
        timeout = 5.0  # a test must fail, not hang, when the app never acknowledges
        await asyncio.wait_for(self.socket_connected.wait(), timeout)
        envelope_id = str(envelope["envelope_id"])
        waiter = asyncio.get_running_loop().create_future()
        self._ack_waiters[envelope_id] = waiter
        await self._sockets[-1].send_str(json.dumps(envelope))
        return await asyncio.wait_for(waiter, timeout)

    # -- payload builders -------------------------------------------------------------------------
    def event_callback(self, event: Mapping[str, Any], event_id: str | None = None) -> dict[str, Any]:
        """Wrap an inner event in the ``event_callback`` envelope Slack sends."""
        return {
            "token": "verification-token",
            "team_id": self.team_id,
            "api_app_id": "A0001",
            "event": dict(event),
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team_id, "user_id": self.bot_user_id, "is_bot": True}],
        }

    def message_event(
        self, text: str, *, channel: str = "D0001", user: str = "U0001", im: bool = True, **extra: Any
    ) -> dict[str, Any]:
        """An ``event_callback`` body for a user's message (a DM unless ``im`` is False)."""
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "event_ts": ts}
        event["channel_type"] = "im" if im else "channel"
        return self.event_callback({**event, **extra})

    # -- the fake platform ------------------------------------------------------------------------
    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        call = ApiCall(method, params)
        self.calls.append(call)
        outage = time.monotonic() < self._outage_until
        status = (429, 500, 502, 503)[next(self._outage_turns) % 4] if outage else 0
        if status >= 500:
            call.status = status
            return web.json_response({"ok": False, "error": "fatal_error"}, status=status)
        if status == 429 or self._rate_limited > 0:
            if status != 429:
                self._rate_limited -= 1
            call.status = 429
            headers = {"Retry-After": str(self._retry_after)}
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429, headers=headers)
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if request.headers.get("Authorization") != f"Bearer {wanted}":
            return self._fail(call, "invalid_auth")
        await asyncio.sleep(self.delays.get(method, 0.0))
        if method in self.failing:
            return self._fail(call, self.failing[method])
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return self._fail(call, "unknown_method")
        closed = self.closed.get(str(params.get(_WRITES.get(method, ""), "")))
        if closed is not None:
            return self._fail(call, closed)
        result: dict[str, Any] | str = handler(params)
        if isinstance(result, str):
            return self._fail(call, result)
        return web.json_response({"ok": True, **result})

    def _fail(self, call: ApiCall, error: str) -> web.Response:
        call.error = error
        return web.json_response({"ok": False, "error": error})

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://fake.slack.com/",
            "team": "Fake",
            "user": "botkit",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any] | str:
        channel = params.get("channel")
        if not channel:
            return "channel_not_found"
        problem = _check_content(params)
        if problem:
            return problem
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        thread = params.get("thread_ts") or None
        text = str(params.get("text") or "")
        self.messages[ts] = PostedMessage(str(channel), ts, thread, [text], params.get("blocks"))
        return {"channel": channel, "ts": ts, "message": {"text": params.get("text"), "ts": ts}}

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any] | str:
        message = self.messages.get(str(params.get("ts")))
        if message is None or message.channel != params.get("channel"):
            return "message_not_found"
        problem = _check_content(params)
        if problem:
            return problem
        message.texts.append(str(params.get("text") or ""))
        if "blocks" in params:  # as on Slack: an update without blocks keeps the message's blocks
            message.blocks = params["blocks"] or None
        return {"channel": message.channel, "ts": message.ts, "text": params.get("text")}

    def _m_chat_delete(self, params: dict[str, Any]) -> dict[str, Any] | str:
        message = self.messages.get(str(params.get("ts")))
        if message is None or message.channel != params.get("channel"):
            return "message_not_found"
        del self.messages[message.ts]
        return {"channel": message.channel, "ts": message.ts}

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any] | str:
        user_id = str(params.get("user") or "")
        if not user_id:
            return "user_not_found"
        member = {"id": user_id, "name": user_id.lower(), "locale": self.default_locale}
        user = self.users.get(user_id) or member
        if str(params.get("include_locale")).lower() in ("1", "true"):
            return {"user": dict(user)}
        return {"user": {k: v for k, v in user.items() if k != "locale"}}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any] | str:
        return self.files.get_upload_url(params)

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any] | str:
        if not params.get("channel_id"):
            return "channel_not_found"
        comment = params.get("initial_comment")
        if comment:
            problem = _check_content({"text": comment})
            if problem:
                return problem
        try:
            files = json.loads(str(params.get("files") or "[]"))
        except json.JSONDecodeError:
            return "invalid_arguments"
        return self.files.complete(params, files if isinstance(files, list) else [])

    def _m_conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self.thread(str(params.get("channel")), str(params.get("ts")))
        return {"messages": [{"ts": m.ts, "text": m.texts[-1]} for m in found], "has_more": False}

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self.url.replace("http://", "ws://") + "/socket?ticket=" + uuid.uuid4().hex}

    async def _hook(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return web.Response(status=400, text="invalid_payload")
        problem = _check_content(body)
        if problem:
            return web.Response(status=400, text=problem)
        self.responses.append({"name": request.match_info["name"], **body})
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}}))
        self.socket_connected.set()
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            ack = json.loads(msg.data)
            envelope_id = str(ack.get("envelope_id"))
            self.acks[envelope_id] = ack
            waiter = self._ack_waiters.pop(envelope_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(ack)
        return ws


async def _params(request: web.Request) -> dict[str, Any]:
    """The call's arguments, wherever slack_sdk put them (query string, form or JSON body)."""
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        data = await request.json()
        return {**params, **data} if isinstance(data, dict) else params
    form = await request.post()
    params.update({k: str(v) for k, v in form.items()})
    if isinstance(params.get("blocks"), str):
        params["blocks"] = json.loads(params["blocks"])
    return params


def _check_content(params: Mapping[str, Any]) -> str | None:
    """The Web API error for a message's text and blocks, or None when Slack would accept them."""
    text, blocks = params.get("text"), params.get("blocks")
    if not text and not blocks:
        return "no_text"
    if text is not None and not isinstance(text, str):
        return "invalid_arguments"
    if text and len(text) > TEXT_LIMIT:
        return "msg_too_long"
    if text and re.search(r"[<>&]", _VALID_MARKUP.sub("", text)):
        return "unescaped_markup"
    if blocks is not None:
        return _check_blocks(blocks)
    return None


def _check_blocks(blocks: Any) -> str | None:
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "invalid_blocks"
    action_ids: set[str] = set()
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "section":
            text = block.get("text") or {}
            body = text.get("text", "")
            if not body or len(body) > SECTION_LIMIT or re.search(r"[<>&]", _VALID_MARKUP.sub("", body)):
                return "invalid_blocks"
        elif kind == "actions":
            elements = block.get("elements") or []
            if not elements or len(elements) > 25:
                return "invalid_blocks"
            for element in elements:
                label = (element.get("text") or {}).get("text", "")
                action_id = element.get("action_id", "")
                too_long = len(label) > 75 or len(element.get("value", "")) > 2000
                if not label or too_long or action_id in action_ids:
                    return "invalid_blocks"
                action_ids.add(action_id)
        else:
            return "invalid_blocks"
    return None
