"""Messages per second the Telegram adapter handles end to end against the fake Bot API.

Each message goes the whole way: ``getUpdates`` long poll -> parse -> ``Bot.handle`` -> a trivial plugin
-> ``sendMessage``, over loopback HTTP with the real python-telegram-bot client. Prints one JSON line::

    .venv/bin/python bench/adapter_telegram.py [--messages 200] [--chats 20]

``messages_per_s`` is the adapter's own capacity (``flood_limits`` off); ``flood_limited_messages_per_s``
is the same run with the production default, which keeps under Telegram's 30 messages/s on purpose.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time

from pydantic import SecretStr

from botkit.adapters.telegram import TelegramAdapter
from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.app import Bot
from botkit.config import TelegramSettings
from botkit.testing import EchoPlugin


async def run(messages: int, chats: int, flood_limits: bool) -> float:
    """Seconds to handle ``messages`` messages spread over ``chats`` chats."""
    async with FakeTelegramServer() as tg:
        settings = TelegramSettings(
            token=SecretStr(tg.token), base_url=tg.base_url, poll_timeout_s=5, flood_limits=flood_limits
        )
        adapter = TelegramAdapter(settings)
        await adapter.start(Bot([EchoPlugin()]))
        try:
            started = time.perf_counter()
            for i in range(messages):
                tg.message_update(f"message {i}", chat_id=10_000 + i % chats)
            await tg.wait_for("sendMessage", messages, within=60)
            elapsed = time.perf_counter() - started
        finally:
            await adapter.stop()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--chats", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    raw = asyncio.run(run(args.messages, args.chats, flood_limits=False))
    limited = asyncio.run(run(args.messages, args.chats, flood_limits=True))
    result = {
        "bench": "adapter_telegram",
        "messages": args.messages,
        "chats": args.chats,
        "seconds": round(raw, 3),
        "messages_per_s": round(args.messages / raw, 1),
        "flood_limited_messages_per_s": round(args.messages / limited, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
