"""``FakeDiscordServer``: the fake Discord's gateway and REST API on one aiohttp server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiohttp import web

from botkit.adapters.discord.fake_server.gateway import _GatewayMixin
from botkit.adapters.discord.fake_server.records import SentMessage
from botkit.adapters.discord.fake_server.rest import _RestMixin


class FakeDiscordServer(_GatewayMixin, _RestMixin):
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
        cdn / downloads: the files the CDN serves (``host_file``, and every upload), the paths fetched.
        refusals: channel id -> the Discord error code its calls answer (``refuse``).
    """

    # -- life cycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application()
        app.router.add_get("/", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        app.router.add_get("/attachments/{path:.*}", self._cdn)  # cdn.discordapp.com's paths
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

    # -- test helpers -----------------------------------------------------------------------------
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
