"""Messages per second through the Slack adapter, end to end against the fake Slack on 127.0.0.1.

Each message is a signed Events API POST to the adapter's HTTP endpoint (signature check, bolt dispatch,
de-duplication, the bot, a trivial plugin) and ends when its reply (``chat.postMessage``) reaches the fake.
The fake runs in the same process and event loop, so the figure is a lower bound for the adapter alone.

    .venv/bin/python bench/adapter_slack.py [--messages 200] [--concurrency 10]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time

from botkit.adapters.slack import SlackAdapter
from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.app import Bot
from botkit.config import SlackSettings
from botkit.testing import EchoPlugin


async def run(messages: int, concurrency: int) -> dict[str, object]:
    fake = FakeSlackServer()
    await fake.start()
    settings = SlackSettings.model_validate(
        {
            "bot_token": fake.bot_token,
            "signing_secret": fake.signing_secret,
            "api_base": fake.api_base,
            "port": 0,
        }
    )
    adapter = SlackAdapter(settings)
    await adapter.start(Bot([EchoPlugin()]))
    try:
        await fake.send_event(adapter.url, fake.message_event("warm up", user="U0"))
        await fake.wait_for(lambda: len(fake.messages) == 1)
        # Distinct users in distinct DMs: the adapter serialises each conversation, not the whole bot.
        payloads = [
            fake.message_event(f"message {i}", channel=f"D{i:05d}", user=f"U{i}") for i in range(messages)
        ]
        gate = asyncio.Semaphore(concurrency)

        async def deliver(payload: dict[str, object]) -> int:
            async with gate:
                status, _ = await fake.send_event(adapter.url, payload)
                return status

        started = time.perf_counter()
        statuses = await asyncio.gather(*(deliver(p) for p in payloads))
        await fake.wait_for(lambda: len(fake.messages) == messages + 1, timeout=60)
        elapsed = time.perf_counter() - started
    finally:
        await adapter.stop()
        await fake.stop()
    return {
        "bench": "adapter_slack",
        "messages": messages,
        "concurrency": concurrency,
        "acked_200": sum(1 for s in statuses if s == 200),
        "seconds": round(elapsed, 3),
        "messages_per_s": round(messages / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(run(args.messages, args.concurrency))))


if __name__ == "__main__":
    main()
