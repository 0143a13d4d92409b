"""A fake Discord (REST API + gateway) on 127.0.0.1, for testing adapters built on discord.py.

It speaks the documented protocol closely enough for the real library: ``GET /gateway/bot`` hands out
``ws://127.0.0.1:PORT/``; the gateway sends HELLO, answers heartbeats, takes IDENTIFY and RESUME, sends
READY and GUILD_CREATE, and compresses frames as a ``zlib-stream`` when asked to. The REST side
validates message bodies as Discord does (2000 characters, non-empty, component limits), checks interaction
callbacks (unknown interaction, already acknowledged, callback type allowed for the interaction type) and
can be told to answer the next calls with 429. Not faked: file uploads, embeds' limits, rate-limit headers
on successful answers, and every route a botkit adapter does not call (they answer 404)::

    fake = FakeDiscordServer()
    await fake.start()
    settings = DiscordSettings(token=fake.token, api_base=fake.api_base)
    ...
    await fake.send_message("hello", dm=True)
    await fake.wait_for(lambda: fake.messages_in(fake.dm_channel_id))
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

__all__ = ["Call", "FakeDiscordServer", "SentMessage"]


@dataclass
class Call:
    """One REST request the fake received."""

    method: str
    path: str  # without the /api/v10 prefix
    body: Any
    status: int
    at: float = field(default_factory=time.monotonic)


@dataclass
class SentMessage:
    """A message the bot created: its current content and every content it had (creation, edits).

    ``channel_id`` is where it shows; ``interaction`` is the interaction token it answers, if any.
    """

    id: str
    channel_id: str
    content: str
    components: list[Any] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    history: list[str] = field(default_factory=list)
    interaction: str | None = None
    deleted: bool = False

    @property
    def pings_everyone(self) -> bool:
        """Whether Discord would notify @everyone/@here for this content and ``allowed_mentions``."""
        parse = (self.allowed_mentions or {"parse": ["everyone"]}).get("parse", [])
        return "everyone" in parse and bool(re.search(r"@(everyone|here)", self.content))


class _Connection:
    """One gateway WebSocket, with its zlib-stream compressor when the client asked for one."""

    def __init__(self, ws: web.WebSocketResponse, compress: bool) -> None:
        self.ws = ws
        self.zlib = zlib.compressobj() if compress else None

    async def send(self, frame: dict[str, Any]) -> None:
        text = json.dumps(frame)
        if self.zlib is None:
            await self.ws.send_str(text)
        else:  # one frame = compressed bytes ending in a Z_SYNC_FLUSH marker (00 00 ff ff)
            await self.ws.send_bytes(self.zlib.compress(text.encode()) + self.zlib.flush(zlib.Z_SYNC_FLUSH))


class FakeDiscordServer:
    """Discord's REST API and gateway, faked on 127.0.0.1.

    Args:
        token: the bot token the fake accepts (REST ``Authorization: Bot ...`` and IDENTIFY).
        bot_user_id: the bot's user id, announced in READY and ``GET /users/@me``.
        hello: a HELLO frame to send instead of the default (for replaying captured frames).
        ready: a READY ``d`` object to send instead of the default one (its ``user`` becomes the bot).
        heartbeat_interval_ms: the interval announced in the default HELLO.

    Attributes:
        calls: every REST request, in order.
        messages: every message the bot created (in channels or as interaction responses), by id.
        commands: the global application commands last registered.
        callbacks: interaction id -> the callback body the bot answered with.
        received: every gateway payload the bot sent (heartbeats, IDENTIFY, RESUME...).
        identifies / resumes: the IDENTIFY and RESUME payloads' ``d``.
        connections: the query string of each gateway connection (``compress=zlib-stream`` and so on).
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token.abc.XYZ123",
        bot_user_id: str = "900000000000000001",
        hello: dict[str, Any] | None = None,
        ready: dict[str, Any] | None = None,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.token = token
        self.bot_user: dict[str, Any] = {
            "id": bot_user_id,
            "username": "botkit",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
        }
        if ready is not None:
            self.bot_user = dict(ready["user"])
        self.application_id = "900000000000000002"
        self.guild_id = "900000000000000010"
        self.channel_id = "900000000000000011"
        self.dm_channel_id = "900000000000000012"
        self.thread_id = "900000000000000013"  # a public thread under channel_id
        self.user_id = "900000000000000020"
        self._hello = hello or {"op": 10, "d": {"heartbeat_interval": heartbeat_interval_ms}}
        self._ready = ready
        self.calls: list[Call] = []
        self.messages: dict[str, SentMessage] = {}
        self.commands: list[dict[str, Any]] = []
        self.callbacks: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.connections: list[dict[str, str]] = []  # each gateway connection's query (v, encoding, compress)
        self.interactions: dict[str, dict[str, Any]] = {}  # token -> interaction object
        self._failures: list[tuple[str, re.Pattern[str], int, float, bool]] = []
        self._ids = itertools.count(1_300_000_000_000_000_000)
        self._session = "fake-session-0"
        self._sessions = itertools.count(1)
        self._seq = 0
        self._frames: list[dict[str, Any]] = []  # this session's dispatches, for RESUME
        self._conn: _Connection | None = None
        self._connected = asyncio.Event()
        self._sockets: set[web.WebSocketResponse] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- life cycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_get("/", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)  # bursts of new connections
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every socket and stop listening."""
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscordServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def api_base(self) -> str:
        """What to set as ``DiscordSettings.api_base``."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The gateway URL ``GET /gateway/bot`` returns."""
        return f"ws://127.0.0.1:{self.port}/"

    # -- test helpers -----------------------------------------------------------------------------
    def new_id(self) -> str:
        """A fresh snowflake-like id."""
        return str(next(self._ids))

    def fail_next(
        self,
        count: int = 1,
        *,
        method: str = "POST",
        path: str = r"/channels/\d+/messages",
        retry_after: float = 0.3,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``count`` calls matching ``method`` and the ``path`` regex with HTTP 429."""
        self._failures.append((method, re.compile(path), count, retry_after, is_global))

    async def wait_connected(self, within: float = 10.0) -> None:
        """Wait until a client has identified (or resumed) on the gateway."""
        await asyncio.wait_for(self._connected.wait(), within)

    async def wait_for(self, predicate: Callable[[], object], within: float = 10.0) -> None:
        """Poll ``predicate`` until it is truthy; raise ``TimeoutError`` after ``within`` seconds."""
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {within:.1f} s")
            await asyncio.sleep(0.01)

    def messages_in(self, channel_id: str) -> list[SentMessage]:
        """Messages the bot created (and did not delete) in ``channel_id``, oldest first."""
        return [m for m in self.messages.values() if m.channel_id == channel_id and not m.deleted]

    # -- gateway ----------------------------------------------------------------------------------
    async def dispatch(self, event: str, data: dict[str, Any]) -> int:
        """Send a DISPATCH (op 0) event; returns its sequence number. Buffered while no client is on."""
        self._seq += 1
        frame = {"op": 0, "t": event, "s": self._seq, "d": data}
        self._frames.append(frame)
        if event == "INTERACTION_CREATE":
            self.register_interaction(data)
        if self._conn is not None:
            await self._send(self._conn, frame)
        return self._seq

    async def _send(self, conn: _Connection, frame: dict[str, Any]) -> None:
        try:
            await conn.send(frame)
        except (ConnectionError, RuntimeError):  # the client is reconnecting: RESUME will replay it
            pass

    async def send_frame(self, frame: dict[str, Any]) -> int | None:
        """Replay a captured gateway frame; a dispatch is renumbered to this session's next ``s``."""
        if frame.get("op") == 0:
            return await self.dispatch(str(frame["t"]), frame["d"])
        if self._conn is not None:
            await self._send(self._conn, frame)
        return None

    async def send_message(
        self, content: str, *, dm: bool = False, mention: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """Dispatch a MESSAGE_CREATE from a user; returns the message object."""
        message = self.make_message(content, dm=dm, mention=mention, **extra)
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    def make_message(
        self, content: str, *, dm: bool = False, mention: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE ``d`` object from a user, in the guild channel or the DM channel."""
        author = {"id": self.user_id, "username": "alice", "discriminator": "0", "avatar": None}
        message: dict[str, Any] = {
            "id": self.new_id(),
            "type": 0,
            "channel_id": self.dm_channel_id if dm else self.channel_id,
            "author": author,
            "content": f"<@{self.bot_user['id']}> {content}" if mention else content,
            "timestamp": "2026-01-01T00:00:00.000000+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self.bot_user] if mention else [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "flags": 0,
        }
        if not dm:
            message["guild_id"] = self.guild_id
            message["member"] = {
                "roles": [],
                "joined_at": "2026-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
            }
        message.update(extra)
        return message

    def make_interaction(self, kind: int, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """An interaction object (2: slash command, 3: component, 5: modal) from the test user."""
        interaction: dict[str, Any] = {
            "id": self.new_id(),
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "member": {
                "user": {"id": self.user_id, "username": "alice", "discriminator": "0", "avatar": None},
                "roles": [],
                "permissions": "0",
                "joined_at": "2026-01-01T00:00:00+00:00",
            },
            "token": "interaction-token-" + self.new_id(),
            "version": 1,
        }
        interaction.update(extra)
        return interaction

    def register_interaction(
        self, interaction: dict[str, Any], *, acked_over_http: int | None = None
    ) -> None:
        """Make the REST side accept callbacks and webhooks for ``interaction`` (done by ``dispatch``).

        For an interaction POSTed to the bot's HTTP endpoint the acknowledgement is the HTTP answer, which
        this fake does not see: pass its type as ``acked_over_http`` so follow-ups are accepted at once.
        """
        if "token" not in interaction:
            return
        token = str(interaction["token"])
        self.interactions[token] = interaction
        if acked_over_http is not None:
            self._acknowledge(interaction, {"type": acked_over_http})

    def _acknowledge(self, interaction: dict[str, Any], body: dict[str, Any]) -> None:
        token = str(interaction["token"])
        self.callbacks[str(interaction["id"])] = {**body, "at": time.monotonic()}
        if body["type"] in (4, 5):  # the "original response": a message, or a "thinking..." one
            data = body.get("data") or {}
            self.messages[f"original:{token}"] = SentMessage(
                self.new_id(),
                str(interaction.get("channel_id", "")),
                data.get("content", ""),
                data.get("components") or [],
                data.get("allowed_mentions"),
                [],
                token,
            )

    def _ready_frame_data(self) -> dict[str, Any]:
        if self._ready is not None:
            return self._ready
        return {
            "v": 10,
            "user": self.bot_user,
            "session_id": self._session,
            "resume_gateway_url": self.gateway_url,
            "guilds": [{"id": self.guild_id, "unavailable": True}],
            "application": {"id": self.application_id, "flags": 0},
            "shard": [0, 1],
        }

    def _thread(self) -> dict[str, Any]:
        metadata = {"archived": False, "auto_archive_duration": 1440, "locked": False,
                    "archive_timestamp": "2026-01-01T00:00:00+00:00"}  # fmt: skip
        return {"id": self.thread_id, "type": 11, "name": "a thread", "guild_id": self.guild_id,
                "parent_id": self.channel_id, "owner_id": self.user_id, "thread_metadata": metadata,
                "message_count": 0, "member_count": 1, "rate_limit_per_user": 0, "flags": 0}  # fmt: skip

    def _guild(self) -> dict[str, Any]:
        channel = {
            "id": self.channel_id,
            "type": 0,
            "name": "general",
            "position": 0,
            "guild_id": self.guild_id,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }
        return {
            "id": self.guild_id,
            "name": "Fake guild",
            "unavailable": False,
            "owner_id": self.user_id,
            "channels": [channel],
            "threads": [self._thread()],
            "roles": [],
            "members": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": 2,
            "large": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "afk_timeout": 300,
            "system_channel_flags": 0,
            "voice_states": [],
            "presences": [],
            "icon": None,
            "joined_at": "2026-01-01T00:00:00+00:00",
        }

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.add(ws)
        conn = _Connection(ws, request.query.get("compress") == "zlib-stream")
        self.connections.append(dict(request.query))
        try:
            await conn.send(self._hello)
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                self.received.append(payload)
                await self._on_client_payload(conn, payload)
        finally:
            self._sockets.discard(ws)
            if self._conn is conn:
                self._conn = None
                self._connected.clear()
        return ws

    async def _on_client_payload(self, conn: _Connection, payload: dict[str, Any]) -> None:
        op, data = payload.get("op"), payload.get("d") or {}
        if op == 1:  # heartbeat
            await conn.send({"op": 11, "d": None})
        elif op == 2:  # IDENTIFY: a fresh session
            if data.get("token") != self.token:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            self.identifies.append(data)
            self._session, self._seq, self._frames = f"fake-session-{next(self._sessions)}", 0, []
            self._conn = conn
            if self._ready is not None:
                self._session = str(self._ready.get("session_id", self._session))
            await self.dispatch("READY", self._ready_frame_data())
            if self._ready is None:
                await self.dispatch("GUILD_CREATE", self._guild())
            self._connected.set()
        elif op == 6:  # RESUME: send what the client missed, then RESUMED
            if data.get("token") != self.token or data.get("session_id") != self._session:
                await conn.send({"op": 9, "d": False})
                return
            self.resumes.append(data)
            self._conn = conn
            for frame in self._frames:
                if frame["s"] > (data.get("seq") or 0):
                    await conn.send(frame)
            await self.dispatch("RESUMED", {})
            self._connected.set()

    # -- REST -------------------------------------------------------------------------------------
    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body = await request.json() if request.can_read_body else None
        status, payload, headers = self._route(request, path, body)
        self.calls.append(Call(request.method, path, body, status))
        if status == 204:
            return web.Response(status=204)
        # Discord answers "application/json" without a charset; discord.py compares the header exactly.
        return web.Response(
            body=json.dumps(payload).encode(), status=status, headers=headers, content_type="application/json"
        )

    def _route(self, request: web.Request, path: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        method = request.method
        for index, (f_method, pattern, count, retry_after, is_global) in enumerate(self._failures):
            if count > 0 and f_method == method and pattern.fullmatch(path):
                self._failures[index] = (f_method, pattern, count - 1, retry_after, is_global)
                return 429, _rate_limited(retry_after, is_global), _rate_limit_headers(retry_after, is_global)
        hook = re.fullmatch(
            r"/(?:interactions/(\d+)|webhooks/(\d+))/([^/]+)(/callback|/messages/[^/]+)?", path
        )
        if hook is not None:  # interaction tokens authorise these; no bot token needed
            return self._interaction_route(request, hook.group(3), hook.group(4) or "", body, hook.group(1))
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return 401, {"message": "401: Unauthorized", "code": 0}, {}
        if method == "GET" and path == "/users/@me":
            return 200, self.bot_user, {}
        if method == "GET" and path == "/oauth2/applications/@me":
            return 200, self._application(), {}
        if method == "GET" and path in ("/gateway/bot", "/gateway"):
            limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
            return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}, {}
        if method == "PUT" and path == f"/applications/{self.application_id}/commands":
            return self._put_commands(body)
        found = re.fullmatch(r"/channels/(\d+)/(typing|messages)(?:/(\d+))?", path)
        if found is None:
            return 404, {"message": "404: Not Found", "code": 0}, {}
        channel_id, what, message_id = found.groups()
        if what == "typing" and method == "POST":
            return 204, None, {}
        if method == "POST" and message_id is None:
            return self._create(channel_id, body, None)
        return self._change(method, channel_id, message_id, body)

    def _application(self) -> dict[str, Any]:
        return {
            "id": self.application_id,
            "name": "botkit",
            "description": "",
            "icon": None,
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.bot_user,
            "verify_key": "0" * 64,
            "flags": 0,
            "interactions_endpoint_url": None,
        }

    def _put_commands(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        errors = [c.get("name") for c in body or [] if not _valid_command(c)]
        if not isinstance(body, list) or errors or len(body) > 100:
            return 400, {"code": 50035, "message": "Invalid Form Body", "errors": {"bad": errors}}, {}
        self.commands = [{**c, "id": self.new_id(), "application_id": self.application_id} for c in body]
        return 200, self.commands, {}

    def _create(self, channel_id: str, body: Any, token: str | None) -> tuple[int, Any, dict[str, str]]:
        error = _invalid_body(body, edit=False)
        if error is not None:
            return 400, error, {}
        message = SentMessage(
            self.new_id(),
            channel_id,
            body.get("content") or "",
            body.get("components") or [],
            body.get("allowed_mentions"),
            [body.get("content") or ""],
            token,
        )
        self.messages[message.id] = message
        return 200, self._message_object(message), {}

    def _change(
        self, method: str, channel_id: str, message_id: str | None, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        message = self.messages.get(message_id or "")
        if (
            message is None
            or message.deleted
            or message.channel_id != channel_id
            or method not in ("PATCH", "DELETE")
        ):
            return 404, {"message": "Unknown Message", "code": 10008}, {}
        if method == "DELETE":
            message.deleted = True
            return 204, None, {}
        error = _invalid_body(body, edit=True)
        if error is not None:
            return 400, error, {}
        if "content" in body:
            message.content = body["content"] or ""
            message.history.append(message.content)
        if "components" in body:
            message.components = body["components"] or []
        if "allowed_mentions" in body:
            message.allowed_mentions = body["allowed_mentions"]
        return 200, self._message_object(message), {}

    def _interaction_route(
        self, request: web.Request, token: str, tail: str, body: Any, interaction_id: str | None
    ) -> tuple[int, Any, dict[str, str]]:
        interaction = self.interactions.get(token)
        unknown = {"message": "Unknown interaction", "code": 10062}
        if interaction is None or (
            interaction_id is not None and str(interaction.get("id")) != interaction_id
        ):
            return 404, unknown, {}
        iid = str(interaction["id"])
        if tail == "/callback":
            if iid in self.callbacks:
                return 400, {"message": "Interaction has already been acknowledged.", "code": 40060}, {}
            allowed = _CALLBACK_TYPES.get(int(interaction.get("type") or 0), set())
            if not isinstance(body, dict) or body.get("type") not in allowed:
                return 400, {"message": "Invalid interaction response type", "code": 50035}, {}
            self._acknowledge(interaction, body)
            if request.query.get("with_response") in ("1", "true"):
                return 200, {"interaction": {"id": iid, "type": interaction.get("type")}}, {}
            return 204, None, {}
        if iid not in self.callbacks:  # follow-ups need an acknowledged interaction
            return 404, {"message": "Unknown Webhook", "code": 10015}, {}
        if tail == "" and request.method == "POST":
            return self._create(str(interaction.get("channel_id", "")), body, token)
        message_ref = tail.removeprefix("/messages/")
        key = f"original:{token}" if message_ref == "@original" else message_ref
        message = self.messages.get(key)
        if message is None or message.interaction != token:
            return 404, {"message": "Unknown Message", "code": 10008}, {}
        return self._change(request.method, message.channel_id, key, body)

    def _message_object(self, message: SentMessage) -> dict[str, Any]:
        return {
            "id": message.id,
            "channel_id": message.channel_id,
            "type": 0,
            "content": message.content,
            "author": self.bot_user,
            "attachments": [],
            "embeds": [],
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "mention_everyone": False,
            "tts": False,
            "flags": 0,
            "timestamp": "2026-01-01T00:00:00.000000+00:00",
            "edited_timestamp": None,
            "components": message.components,
        }


def _rate_limited(retry_after: float, is_global: bool) -> dict[str, Any]:
    return {"message": "You are being rate limited.", "retry_after": retry_after, "global": is_global}


def _rate_limit_headers(retry_after: float, is_global: bool) -> dict[str, str]:
    # discord.py treats a 429 without ``Via`` as a Cloudflare ban, so the fake sends it like Discord does.
    return {
        "Retry-After": str(max(1, round(retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": str(retry_after),
        "X-RateLimit-Bucket": "fake-bucket",
        "X-RateLimit-Scope": "global" if is_global else "user",
        "Via": "1.1 google",
    }


# Interaction type -> the callback types Discord accepts for it.
_CALLBACK_TYPES: dict[int, set[int]] = {1: {1}, 2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 5: {4, 5, 6, 7}}
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


def _valid_command(command: dict[str, Any]) -> bool:
    name, description = command.get("name", ""), command.get("description", "")
    if not _COMMAND_NAME.match(name) or name != name.lower() or not 1 <= len(description) <= 100:
        return False
    options = command.get("options") or []
    return len(options) <= 25 and all(
        _COMMAND_NAME.match(o.get("name", "")) and 1 <= len(o.get("description", "")) <= 100 for o in options
    )


def _invalid_body(body: Any, *, edit: bool) -> dict[str, Any] | None:
    """Discord's error for a bad create/edit message body, or None when it is valid."""
    if not isinstance(body, dict):
        return {"code": 50109, "message": "The request body contains invalid JSON."}
    content = body.get("content")
    if content is not None and (not isinstance(content, str) or len(content) > 2000):
        detail = {
            "content": {
                "_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}]
            }
        }
        return {"code": 50035, "message": "Invalid Form Body", "errors": detail}
    rows = body.get("components") or []
    if not edit and not content and not rows and not body.get("embeds"):
        return {"code": 50006, "message": "Cannot send an empty message"}
    parse = (body.get("allowed_mentions") or {}).get("parse", [])
    if not set(parse) <= {"users", "roles", "everyone"}:
        return {"code": 50035, "message": "Invalid Form Body", "errors": {"allowed_mentions": parse}}
    ids: list[str] = []
    for row in rows:
        buttons = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(buttons) <= 5 or len(rows) > 5:
            return {"code": 50035, "message": "Invalid Form Body", "errors": {"components": "bad action row"}}
        for button in buttons:
            link = button.get("style") == 5
            custom_id = button.get("custom_id")
            if (
                len(button.get("label", "")) > 80
                or link != bool(button.get("url"))
                or link == bool(custom_id)
            ):
                return {"code": 50035, "message": "Invalid Form Body", "errors": {"components": "bad button"}}
            if custom_id is not None:
                if not 1 <= len(custom_id) <= 100 or custom_id in ids:
                    return {"code": 50035, "message": "Invalid Form Body", "errors": {"custom_id": custom_id}}
                ids.append(custom_id)
    return None
