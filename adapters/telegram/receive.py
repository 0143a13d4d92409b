"""The two ways updates arrive: long polling (:class:`Poller`) and the webhook (:class:`WebhookServer`).

Both hand each update on as raw JSON (see ``parse`` for why). python-telegram-bot ships a
webhook server too, but it compares the secret token with ``!=``; this one compares in constant time
(``hmac.compare_digest``) so the secret cannot be guessed byte by byte from response timings, and it
answers before the update is handled so Telegram never times out and redelivers. Requests are refused
(bad secret, size, time, content type, not a JSON object) as :mod:`botkit.adapters.http_limits` describes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web
from telegram import Bot
from telegram.error import TelegramError

from botkit.adapters import http_limits
from botkit.adapters.http_limits import (
    HttpLimits,
    Refused,
    check_content_type,
    json_object,
    read_body,
    refusal,
)
from botkit.adapters.telegram.send import call_api

log = logging.getLogger("botkit.adapters.telegram")

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    """Receives updates on ``path``; only requests carrying the secret token are passed to ``on_update``.

    Args:
        listen: address to bind (a reverse proxy usually terminates TLS in front of it).
        port: port to bind; 0 picks a free one (see :attr:`port` after :meth:`start`).
        path: URL path Telegram posts to.
        secret: the ``secret_token`` given to ``setWebhook``.
        on_update: called with each accepted update (a dict); must not block.
        limits: body size and timeouts (default: :mod:`~botkit.adapters.http_limits`'s constants now).
    """

    def __init__(
        self,
        listen: str,
        port: int,
        path: str,
        secret: str,
        on_update: Callable[[dict[str, Any]], None],
        limits: HttpLimits | None = None,
    ) -> None:
        self._listen = listen
        self._port = port
        self._path = path if path.startswith("/") else f"/{path}"
        self._secret = secret.encode()
        self._on_update = on_update
        self._limits = limits or http_limits.current()
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        """Bind and serve; returns once listening."""
        app = web.Application()
        app.router.add_post(self._path, self._handle)
        self._runner = web.AppRunner(app, **self._limits.runner_options("telegram"))
        await self._runner.setup()
        # Bind the socket ourselves so that port 0 (tests) tells us which port it got.
        family = socket.AF_INET6 if ":" in self._listen else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._listen, self._port))
        except OSError:
            sock.close()
            await self.stop()
            raise
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        log.info("telegram webhook listening on %s:%d%s", self._listen, self.port, self._path)

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            update = await self._accepted(request)
        except Refused as refused:
            return refusal(log, "telegram", request, refused)
        self._on_update(update)
        return web.Response(status=200)

    async def _accepted(self, request: web.Request) -> dict[str, Any]:
        """The update in ``request``, checked in the order http_limits describes (the secret first).

        Raises:
            Refused: 401 no secret token, 403 a wrong one, 413, 408, 400 (not JSON, or not one object).
        """
        given = request.headers.get(SECRET_HEADER)
        if given is None:
            raise Refused(401, "missing secret token")
        try:
            # Header bytes that are not UTF-8 come decoded with surrogate escapes: compare the bytes sent.
            given_bytes = given.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            given_bytes = b""
        if not hmac.compare_digest(given_bytes, self._secret):
            raise Refused(403, "wrong secret token")
        check_content_type(request, "application/json")
        return json_object(await read_body(request, self._limits), "update")


class Poller:
    """Long-polls ``getUpdates`` and hands each raw update to ``on_update``.

    Args:
        bot: an initialised PTB bot.
        timeout: seconds each ``getUpdates`` call may wait for updates.
        allowed_updates: the update types to ask for.
        on_update: called with each update (any JSON value); must not block.
    """

    def __init__(
        self, bot: Bot, timeout: int, allowed_updates: list[str], on_update: Callable[[Any], None]
    ) -> None:
        self._bot = bot
        self._timeout = timeout
        self._allowed = allowed_updates
        self._on_update = on_update
        self._offset = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin polling in a background task."""
        self._task = asyncio.create_task(self._run(), name="telegram-poll")

    async def stop(self) -> None:
        """Stop polling and confirm the fetched updates, so a restart does not get them again."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._offset:
            try:
                await self._fetch({"offset": self._offset, "timeout": 0}, read_timeout=5)
            except TelegramError as exc:
                log.info("telegram: could not confirm the last updates: %s", exc)

    async def _fetch(self, params: dict[str, Any], read_timeout: float) -> Any:
        # Lower-case method name (Bot API methods are case-insensitive): PTB's typed get_updates parses
        # strictly and fails the whole batch on one odd update, and do_api_request warns for names that
        # have a typed method.
        return await self._bot.do_api_request("getupdates", api_kwargs=params, read_timeout=read_timeout)

    async def _poll_once(self) -> Any:
        params = {"offset": self._offset, "timeout": self._timeout, "allowed_updates": self._allowed}
        return await self._fetch(params, read_timeout=self._timeout + 10)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                updates = await call_api("getUpdates", self._poll_once)
                failures = 0
            except TelegramError as exc:
                failures += 1
                log.error("telegram: getUpdates failed (%s); retrying", exc)
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))
                continue
            for update in updates if isinstance(updates, list) else []:
                if isinstance(update, dict) and isinstance(update.get("update_id"), int):
                    self._offset = max(self._offset, update["update_id"] + 1)
                self._on_update(update)
