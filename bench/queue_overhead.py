"""What the Celery + Redis path adds to a request, with no model in the way.

Starts a private redis-server and one ``botkit worker --echo`` (replies echo the message; the worker runs
the real task, scheduler, stream publisher and idempotency claims, only the batch runner is trivial),
then times the same requests through :class:`CeleryGenerator` and through the in-process
:class:`LocalGenerator` with the same echo runner. Prints one JSON line: messages/s with many requests
in flight, and p50/p99 latency one request at a time, for both paths and the difference.

    python bench/queue_overhead.py [--requests 400] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from botkit.config import load_settings
from botkit.model.local import LocalGenerator
from botkit.queue.client import CeleryGenerator
from botkit.queue.echo import echo_batch, echo_model
from botkit.types import Generation, SamplingParams

ROOT = Path(__file__).resolve().parents[1]
PARAMS = SamplingParams(max_new_tokens=64, temperature=0.0)
Ask = Callable[[int], Awaitable[Generation]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * q / 100))]


async def measure(ask: Ask, requests: int, concurrency: int) -> dict[str, float]:
    for i in range(20):  # warm connections, pools and code paths
        await ask(i)
    latencies = []
    for i in range(requests):
        started = time.perf_counter()
        await ask(i)
        latencies.append(time.perf_counter() - started)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await ask(i)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(requests)))
    wall = time.perf_counter() - started
    return {
        "messages_per_s": round(requests / wall, 1),
        "p50_ms": round(pct(latencies, 50) * 1000, 3),
        "p99_ms": round(pct(latencies, 99) * 1000, 3),
    }


async def run(args: argparse.Namespace, config: Path) -> dict[str, Any]:
    local = LocalGenerator(echo_model(), max_batch=args.concurrency, runner=echo_batch)
    queued = CeleryGenerator(load_settings(config), model_dir=None)

    def turns(i: int) -> list[Any]:
        return [{"role": "user", "content": f"message number {i}"}]

    try:
        in_process = await measure(
            lambda i: local.generate(turns(i), PARAMS), args.requests, args.concurrency
        )
        celery = await measure(lambda i: queued.generate(turns(i), PARAMS), args.requests, args.concurrency)
    finally:
        await local.close()
        await queued.close()
    return {
        "bench": "queue_overhead",
        "requests": args.requests,
        "concurrency": args.concurrency,
        "in_process": in_process,
        "celery_redis": celery,
        "added_p50_ms": round(celery["p50_ms"] - in_process["p50_ms"], 3),
        "added_p99_ms": round(celery["p99_ms"] - in_process["p99_ms"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--redis-server", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = Path(tmp) / "botkit.toml"
        queue = f'backend = "celery"\nredis_url = "redis://127.0.0.1:{port}/0"\nstream_interval_ms = 0\n'
        config.write_text(f"[queue]\n{queue}", encoding="utf-8")
        redis_args = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        redis_proc = subprocess.Popen(
            [args.redis_server, *redis_args, "--dir", tmp],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        log = Path(tmp) / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("botkit")),  # the installed `botkit worker`
                    "worker",
                    "--echo",
                    "--config",
                    str(config),
                    "--concurrency",
                    str(args.concurrency),
                    "--loglevel",
                    "INFO",
                ],
                cwd=ROOT,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
                stdout=out,
                stderr=out,
            )
        try:
            deadline = time.monotonic() + 60
            while " ready." not in log.read_text(errors="replace"):
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the echo worker did not start:\n{log.read_text(errors='replace')}")
                time.sleep(0.1)
            print(json.dumps(asyncio.run(run(args, config))))
        finally:
            for proc in (worker, redis_proc):
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()


if __name__ == "__main__":
    main()
