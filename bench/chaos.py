"""Faults, counted: N users write to a bot running as real processes while one part breaks mid-reply.

``.venv/bin/python bench/chaos.py [--fault NAME|all] [--conversations 32]`` starts two ``botkit run``
replicas on a Telegram webhook (the fake Telegram server in this process), a private redis-server and
PostgreSQL, and a slowed ``botkit worker`` on the shipped model (greedy, history off, so each message's
reply is known in advance), then for each fault prints one JSON line: replies lost, duplicated, garbled
and out of order, frozen partial replies, "busy" notices, the store's doubled and lost turns, the time to
recover and the longest wait. The faults (see tests/chaos/harness.py):

- ``worker_kill``: SIGKILL of the worker while every user's reply is being written; a fresh one starts;
- ``redis_restart``: Redis stopped and started again empty; ``redis_outage``: Redis frozen for 30 s;
- ``replica_kill``: SIGKILL of a replica; nothing is resent (its webhook had answered 200): the other
  replicas adopt its updates from the intake journal;
- ``postgres_restart``: the store's PostgreSQL restarted (every connection cut);
- ``platform_errors``: Telegram answers 429 (retry_after) and 5xx to everything for 20 s;
- ``none``: the control run.

The short form, asserting zeros, is tests/chaos/test_chaos.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the harness lives in tests/chaos

from tests.chaos.cluster import ChaosCluster, ChaosSettings
from tests.chaos.harness import Chaos, reference_replies

FAULTS = (
    "none",
    "worker_kill",
    "redis_restart",
    "redis_outage",
    "replica_kill",
    "postgres_restart",
    "platform_errors",
)


async def main(args: argparse.Namespace) -> None:
    settings = ChaosSettings(
        conversations=args.conversations,
        messages=args.messages,
        step_delay_ms=args.step_delay_ms,
        outage_s=args.outage_s,
        platform_outage_s=args.platform_outage_s,
    )
    faults = FAULTS if args.fault == "all" else (args.fault,)
    with tempfile.TemporaryDirectory(prefix="botkit-chaos-") as directory:
        async with ChaosCluster(Path(directory), settings) as cluster:
            chaos = Chaos(cluster, await reference_replies(cluster))
            for fault in faults:
                started, restarts = time.monotonic(), cluster.worker_restarts
                figures = await chaos.run(fault)
                figures["run_s"] = round(time.monotonic() - started, 1)
                figures["worker_restarts"] = cluster.worker_restarts - restarts
                print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", choices=[*FAULTS, "all"], default="all")
    parser.add_argument("--conversations", type=int, default=32)
    parser.add_argument("--messages", type=int, default=3, help="messages each user sends, one after another")
    parser.add_argument("--step-delay-ms", type=float, default=8.0, help="worker pause per piece")
    parser.add_argument("--outage-s", type=float, default=30.0, help="how long Redis is unreachable")
    parser.add_argument("--platform-outage-s", type=float, default=20.0, help="how long Telegram fails")
    asyncio.run(main(parser.parse_args()))
