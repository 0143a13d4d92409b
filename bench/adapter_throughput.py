"""Messages per second each adapter handles end to end against its fake server, in one run.

Runs the three per-platform benchmarks (``bench/adapter_telegram.py``, ``adapter_discord.py``,
``adapter_slack.py``) one after another with a trivial echo plugin and prints one JSON line with all
three figures, so they are compared under the same machine load. The fakes share the process and event
loop with the adapter, so each figure is a lower bound for the adapter alone.

    .venv/bin/python bench/adapter_throughput.py [--messages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import sys
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    telegram_s = asyncio.run(_load("adapter_telegram").run(args.messages, 20, flood_limits=False))
    discord = asyncio.run(_load("adapter_discord").run(args.messages))
    slack = asyncio.run(_load("adapter_slack").run(args.messages, 10))
    print(
        json.dumps(
            {
                "bench": "adapter_throughput",
                "messages": args.messages,
                "telegram_msgs_per_s": round(args.messages / telegram_s, 1),
                "discord_msgs_per_s": discord["messages_per_s"],
                "slack_msgs_per_s": slack["messages_per_s"],
            }
        )
    )


if __name__ == "__main__":
    main()
