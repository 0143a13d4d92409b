"""The fake Discord's state, shared by its gateway, REST and payload parts (see ``server``)."""

from __future__ import annotations

import asyncio
import itertools
import re
from typing import Any

from aiohttp import web

from botkit.adapters.discord.fake_server.connection import _Connection
from botkit.adapters.discord.fake_server.records import Call, SentMessage

# The CDN's files: path -> (bytes, content type, served without a Content-Length).
CdnFiles = dict[str, tuple[bytes, str, bool]]


class _ServerState:
    """The attributes of ``FakeDiscordServer`` (documented there), its ids and its URLs."""

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
        self.cdn: CdnFiles = {}
        self.downloads: list[str] = []  # the CDN paths fetched, in order
        self.refusals: dict[str, int] = {}  # channel id -> the JSON error code its REST calls answer
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

    @property
    def api_base(self) -> str:
        """What to set as ``DiscordSettings.api_base``."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """The gateway URL ``GET /gateway/bot`` returns."""
        return f"ws://127.0.0.1:{self.port}/"

    # -- ids ----------------------------------------------------------------------------------------
    def new_id(self) -> str:
        """A fresh snowflake-like id."""
        return str(next(self._ids))
