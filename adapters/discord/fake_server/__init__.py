"""A fake Discord (REST API + gateway) on 127.0.0.1, for testing adapters built on discord.py.

It speaks the documented protocol closely enough for the real library: ``GET /gateway/bot`` hands out
``ws://127.0.0.1:PORT/``; the gateway sends HELLO, answers heartbeats, takes IDENTIFY and RESUME, sends
READY and GUILD_CREATE, and compresses frames as a ``zlib-stream`` when asked to. The REST side
validates message bodies as Discord does (2000 characters, non-empty, component limits), checks interaction
callbacks (unknown interaction, already acknowledged, callback type allowed for the interaction type) and
can be told to answer the next calls with 429. It takes file uploads (Discord's multipart form, recording
the bytes), serves attachments from a CDN (``host_file``) and can refuse a channel as Discord does when
the bot was removed or blocked (``refuse``). Not faked: embeds' limits, rate-limit headers on successful
answers, and every route a botkit adapter does not call (they answer 404)::

    fake = FakeDiscordServer()
    await fake.start()
    settings = DiscordSettings(token=fake.token, api_base=fake.api_base)
    # start your DiscordAdapter with these settings, then:
    await fake.send_message("hello", dm=True)
    await fake.wait_for(lambda: fake.messages_in(fake.dm_channel_id))

The package's modules, by concern: ``records`` (what the fake saw: ``Call``, ``SentMessage``,
``SentFile``), ``state`` (the server's attributes), ``payloads`` (the objects it hands out: messages,
interactions, READY, the guild), ``gateway`` (the WebSocket: zlib-stream, heartbeats, IDENTIFY, RESUME and
replay), ``rest`` (the REST routes, body validation and 429 injection), ``files`` (the CDN, uploads and
refusals) and ``server`` (``FakeDiscordServer``, tying them together).
"""

from __future__ import annotations

from botkit.adapters.discord.fake_server.records import Call, SentFile, SentMessage
from botkit.adapters.discord.fake_server.server import FakeDiscordServer

__all__ = ["Call", "FakeDiscordServer", "SentFile", "SentMessage"]
