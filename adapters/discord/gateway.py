"""The gateway side of the Discord adapter: a discord.py client that hands botkit the raw payloads.

discord.py keeps the session (heartbeats, RESUME, reconnects, zlib-stream); this module builds a client
with the intents botkit needs, taps the raw MESSAGE_CREATE, MESSAGE_UPDATE and INTERACTION_CREATE payloads
(the library offers no public hook for them) and connects, returning once READY.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import yarl

from botkit.platform_settings import DiscordSettings

with warnings.catch_warnings():
    # discord.py imports the stdlib ``audioop`` for voice (unused here), deprecated since Python 3.11;
    # botkit's tests turn warnings into errors (``format`` silences it the same way).
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

log = logging.getLogger("botkit.adapters.discord")

Parser = Callable[[Any], None]
OnMessage = Callable[[Mapping[str, Any], bool], None]  # (payload, edited)


def new_client(settings: DiscordSettings) -> discord.Client:
    """A client with the intents botkit reads (servers, messages and their content, DMs) and no cache."""
    if settings.api_base:
        Route.BASE = settings.api_base.rstrip("/")  # discord.py reads the base from this class
    intents = discord.Intents.none()
    intents.guilds = intents.guild_messages = intents.dm_messages = intents.message_content = True
    options: dict[str, Any] = {}
    if settings.application_id:  # otherwise discord.py reads it from the application info
        options["application_id"] = int(settings.application_id)
    return discord.Client(
        intents=intents,
        guild_ready_timeout=settings.guild_ready_timeout_s,
        max_messages=None,  # botkit keeps no message cache; edits are read from the payload
        **options,
    )


def tap(client: discord.Client, on_message: OnMessage, on_interaction: Parser, *, edits: bool) -> None:
    """Wrap discord.py's gateway event parsers so botkit sees messages, edits and interactions.

    Every parser is guarded: in discord.py a parser's exception ends ``Client.connect``, so one
    malformed event would take the bot offline; here it is logged and dropped. Edits reach
    ``on_message`` only when ``edits`` is true.
    """
    parsers: dict[str, Parser] = client._connection.parsers
    for event, parse in list(parsers.items()):
        parsers[event] = _guarded(event, parse)
    create, update = parsers["MESSAGE_CREATE"], parsers["MESSAGE_UPDATE"]

    def on_create(data: Any) -> None:
        create(data)
        on_message(data, False)

    def on_update(data: Any) -> None:
        if "author" not in data or "content" not in data:  # an embed unfurl, not an edit by a user
            log.debug("ignored partial MESSAGE_UPDATE for message %s", data.get("id"))
            return
        update(data)
        if edits:
            on_message(data, True)

    parsers["MESSAGE_CREATE"] = _guarded("MESSAGE_CREATE", on_create)
    parsers["MESSAGE_UPDATE"] = _guarded("MESSAGE_UPDATE", on_update)
    # Interactions are answered by botkit, not by discord.py's command tree or views.
    parsers["INTERACTION_CREATE"] = _guarded("INTERACTION_CREATE", on_interaction)


async def connect(client: discord.Client, token: str, ready_timeout_s: float) -> asyncio.Task[None]:
    """Log in and open the gateway; returns the task that keeps the session, once READY.

    Raises:
        discord.LoginFailure: Discord refused the token.
        RuntimeError: the gateway did not become ready within ``ready_timeout_s``.
    """
    await client.login(token)
    # A plain Client connects to its built-in gateway URL; ask the API, as Discord asks bots to.
    _shards, url, _limits = await client.http.get_bot_gateway()
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    runner = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
    runner.add_done_callback(_gateway_ended)
    ready = asyncio.create_task(client.wait_until_ready())
    done, _ = await asyncio.wait(
        {ready, runner}, timeout=ready_timeout_s, return_when=asyncio.FIRST_COMPLETED
    )
    if ready not in done:
        ready.cancel()
        failure = runner.exception() if runner in done and not runner.cancelled() else None
        raise RuntimeError(f"Discord gateway did not become ready: {failure!r}")
    return runner


def _gateway_ended(runner: asyncio.Task[None]) -> None:
    # discord.py reconnects by itself; it gives up only on fatal close codes (bad token, bad intents).
    if not runner.cancelled() and runner.exception() is not None:
        log.error("the Discord gateway connection ended for good: %r", runner.exception())


def _guarded(event: str, parse: Parser) -> Parser:
    def run(data: Any) -> None:
        try:
            parse(data)
        except Exception as exc:
            log.warning("ignored a malformed %s gateway event (%s: %s)", event, type(exc).__name__, exc)

    return run
