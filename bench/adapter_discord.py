"""Messages per second through the Discord adapter, end to end against the fake Discord on 127.0.0.1.

Each message is a MESSAGE_CREATE dispatch on the fake gateway (zlib-stream frame, discord.py's parser,
de-duplication, the bot, a trivial plugin) and ends when its reply (``POST /channels/{id}/messages``
through discord.py's HTTP client) reaches the fake. The fake runs in the same process and event loop, so
the figure is a lower bound for the adapter alone.

    .venv/bin/python bench/adapter_discord.py [--messages 200]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time

from botkit.adapters.discord import DiscordAdapter
from botkit.adapters.discord.fake_server import FakeDiscordServer
from botkit.app import Bot
from botkit.config import DiscordSettings
from botkit.testing import EchoPlugin


async def run(messages: int) -> dict[str, object]:
    fake = FakeDiscordServer()
    await fake.start()
    settings = DiscordSettings.model_validate(
        {
            "token": fake.token,
            "api_base": fake.api_base,
            "guild_ready_timeout_s": 0.05,
            "register_commands": False,
        }
    )
    adapter = DiscordAdapter(settings)
    bot = Bot([EchoPlugin()])
    await adapter.start(bot)
    try:
        await fake.send_message("warm up", dm=True)
        await fake.wait_for(lambda: len(fake.messages) == 1)
        # Distinct DMs: the adapter serialises each conversation, not the whole bot.
        payloads = [
            fake.make_message(f"message {i}", dm=True, channel_id=str(10**17 + i)) for i in range(messages)
        ]
        started = time.perf_counter()
        for payload in payloads:
            await fake.dispatch("MESSAGE_CREATE", payload)
        await fake.wait_for(lambda: len(fake.messages) == messages + 1, within=25.0)
        elapsed = time.perf_counter() - started
    finally:
        await adapter.stop()
        await bot.stop()
        await fake.stop()
    return {
        "bench": "adapter_discord",
        "messages": messages,
        "seconds": round(elapsed, 3),
        "messages_per_s": round(messages / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(json.dumps(asyncio.run(run(args.messages))))


if __name__ == "__main__":
    main()
