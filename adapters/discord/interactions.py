"""Discord's HTTP interactions endpoint: Ed25519-verified POSTs instead of gateway INTERACTION_CREATEs.

Discord signs every request with the application's key: ``X-Signature-Ed25519`` is the signature of
``X-Signature-Timestamp`` followed by the raw body, checked against the public key from the developer
portal. A request that fails the check gets 401 and is never parsed further; Discord itself sends such
requests when the endpoint URL is saved, and refuses endpoints that accept them. Size, time, content type
and shape are refused as :mod:`botkit.adapters.http_limits` describes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from aiohttp import web
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from botkit.adapters import http_limits
from botkit.adapters.http_limits import (
    HttpLimits,
    Refused,
    check_content_type,
    json_object,
    read_body,
    refusal,
)

log = logging.getLogger("botkit.adapters.discord")

PING = 1


class InteractionSink(Protocol):
    """What the endpoint hands verified interactions to (the ``DiscordAdapter``)."""

    def acknowledge(self, interaction: Mapping[str, Any]) -> dict[str, Any] | None:
        """The immediate response body (sent as the HTTP answer); None for an interaction it refuses."""

    def process(self, interaction: Mapping[str, Any]) -> None:
        """Work on an acknowledged interaction in the background (follow-ups go through the REST API)."""


class DiscordInteractionsEndpoint:
    """An aiohttp endpoint for Discord's HTTP interactions.

    Args:
        public_key: the application's public key, hex (developer portal, "General Information").
        sink: receives verified interactions; PING is answered here with PONG.
        path: the URL path Discord POSTs to.
        max_age_s: reject timestamps further than this from now (replayed requests).
        limits: body size and timeouts (default: :mod:`~botkit.adapters.http_limits`'s constants now).
    """

    def __init__(
        self,
        public_key: str,
        sink: InteractionSink,
        *,
        path: str = "/interactions",
        max_age_s: float = 300.0,
        limits: HttpLimits | None = None,
    ) -> None:
        self._key = VerifyKey(bytes.fromhex(public_key))
        self._sink = sink
        self.path = path
        self.max_age_s = max_age_s
        self._limits = limits or http_limits.current()
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _verified(self, request: web.Request) -> dict[str, Any]:
        """The interaction in ``request``, checked in the order http_limits describes (size and time, then
        the signature, before anything parses the body).

        Raises:
            Refused: 413, 408, 401 (missing, invalid or stale signature), 400 (not JSON, or not one object).
        """
        body = await read_body(request, self._limits)
        headers = request.headers
        if not self.verify(headers.get("X-Signature-Ed25519"), headers.get("X-Signature-Timestamp"), body):
            raise Refused(401, "invalid request signature")
        check_content_type(request, "application/json")
        return json_object(body, "interaction")

    def verify(self, signature: str | None, timestamp: str | None, body: bytes) -> bool:
        """Whether ``signature`` signs ``timestamp + body`` and the timestamp is fresh."""
        if not signature or not timestamp:
            return False
        try:
            if abs(time.time() - int(timestamp)) > self.max_age_s:
                return False
            self._key.verify(timestamp.encode() + body, bytes.fromhex(signature))
        except (BadSignatureError, ValueError):
            return False
        return True

    def application(self) -> web.Application:
        """An aiohttp application serving the endpoint (to mount in an existing server if wanted)."""
        app = web.Application()
        app.router.add_post(self.path, self._handle)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0: a free port, see :attr:`url`)."""
        self._runner = web.AppRunner(self.application(), **self._limits.runner_options("discord"))
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """Where the endpoint listens (after :meth:`start`)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        try:
            interaction = await self._verified(request)
        except Refused as refused:
            return refusal(log, "discord", request, refused, as_json=True)
        if interaction.get("type") == PING:
            return web.json_response({"type": 1})
        answer = self._sink.acknowledge(interaction)
        if answer is None:
            return web.json_response({"message": "unsupported interaction"}, status=400)
        # Send the acknowledgement before any work starts, so follow-ups never overtake it.
        response = web.json_response(answer)
        await response.prepare(request)
        await response.write_eof()
        self._sink.process(interaction)
        return response
