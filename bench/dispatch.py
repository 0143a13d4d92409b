"""Messages per second through the dispatcher with a trivial plugin (no model, no platform).

Prints one JSON line. Two configurations side by side in the same run, so the ratio is meaningful on a
noisy machine: the bare dispatcher, and the default middleware stack (logging, input limits, rate limit,
admin check) with the in-memory store.

    .venv/bin/python bench/dispatch.py [--messages 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import platform
import time

from botkit import Bot, Context, Plugin, on_command, on_message
from botkit.config import Settings
from botkit.middleware import default_middleware
from botkit.testing import FakeAdapter
from botkit.testing.tester import BotTester


class Trivial(Plugin):
    @on_command("ping")
    async def ping(self, ctx: Context) -> None:
        await ctx.reply("pong")

    @on_message()
    async def echo(self, ctx: Context) -> None:
        await ctx.reply(ctx.text)


async def measure(bot: Bot, messages: int) -> float:
    tester = BotTester(bot)
    async with tester:
        adapter: FakeAdapter = tester.adapter
        start = time.perf_counter()
        for i in range(messages):
            # One user sends everything; main() raises the rate limit above the message count, so the
            # limiter does its per-user bookkeeping on every message without refusing any.
            await tester.send("/ping" if i % 2 else f"hello {i}")
        elapsed = time.perf_counter() - start
        assert len(adapter.sent) == messages
    return messages / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # measure dispatch, not log formatting
    settings = Settings(rate_limit={"messages": args.messages * 2})  # type: ignore[arg-type]
    bare = await measure(Bot([Trivial()]), args.messages)
    stacked = await measure(Bot([Trivial()], middleware=default_middleware(settings)), args.messages)
    print(
        json.dumps(
            {
                "bench": "dispatch",
                "messages": args.messages,
                "bare_msgs_per_s": round(bare),
                "middleware_msgs_per_s": round(stacked),
                "middleware_cost_ratio": round(bare / stacked, 2),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
