"""Soak: steady webhook traffic through real processes for a long time; memory, errors and latency over time.

The processes are the ones the project's own tests start (imported from tests/queue/, not copied): a private
redis-server, a ``botkit worker`` with a tiny random model on the Celery queue, and one ``botkit run`` (the
installed executable) serving the Telegram webhook and Slack Events against the fake platform servers, which
run in this process. Messages alternate between the two platforms at ``--rate`` a second, spread over
``--users`` conversations on each. Every ``--sample-s`` seconds the resident memory (RSS) of every process
is read. At the end each message's reply is found (exactly one per message is the target) and its latency
is the time from the webhook POST until the reply's final text was written. Prints one JSON line; writes
the samples as CSV and a plot of RSS per process and p50/p99 latency per minute::

    .venv/bin/python bench/soak.py [--minutes 30] [--rate 2] [--warmup-minutes 5] [--sample-s 10]

Targets (issue 16): RSS growth under 10% after the warm-up, 0 errors, a flat p99.
"""

# ruff: noqa: E402 (the repository root goes on sys.path first, so that tests/ imports when run as a script)
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: tests/ and bench/ import from the repository root

from tqdm import tqdm  # type: ignore[import-untyped]

from bench.soak_report import MemorySampler, growth, per_minute, percentile, plot, write_csv
from bench.soak_traffic import Traffic
from botkit.adapters.slack.fake_server import FakeSlackServer
from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.testing import make_tiny_model
from tests.queue.servers import RedisServer, WorkerProcess, free_port, write_config
from tests.queue.test_replicas_processes import SECRET, SLACK, TELEGRAM, start_replica, wait_listening

LOG_ERROR = re.compile(r"\b(ERROR|CRITICAL)\b|Traceback \(most recent call last\)")


def soak_config(path: Path, redis_url: str, model: Path, telegram: str, slack: str) -> Path:
    """The tests' config (:func:`write_config`) with both webhook adapters. The queue's timings are put back
    to the defaults' scale (the tests shorten them to see faults recover in seconds; a soak has no faults),
    the redelivery sized to the tests' model timeout; the rest at defaults: conversations in SQLite under
    the bot's working directory, Telegram's flood limits on."""
    timings = {"restore_interval_s": 10, "lock_ttl_s": 10, "stream_interval_ms": 50}
    write_config(path, redis_url, model, visibility_timeout_s=70, **timings)
    top = 'adapters = ["telegram", "slack"]\n'  # top-level keys go before the first [table]
    adapters = (
        f'[telegram]\nmode = "webhook"\nwebhook_url = "https://bot.example.test{TELEGRAM}"\n'
        f'webhook_path = "{TELEGRAM}"\nbase_url = "{telegram}"\n'
        f'[slack]\napi_base = "{slack}"\npath = "{SLACK}"\n'
    )
    path.write_text(top + path.read_text(encoding="utf-8") + adapters, encoding="utf-8")
    return path


def log_errors(*logs: Path) -> list[str]:
    """ERROR/CRITICAL lines and tracebacks in the processes' logs."""
    found: list[str] = []
    for log in logs:
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        found += [f"{log.name}: {line.strip()[:300]}" for line in lines if LOG_ERROR.search(line)]
    return found


def end(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as a deployment stops a bot; SIGKILL if it has not exited after 20 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def drive(
    args: argparse.Namespace, traffic: Traffic, procs: dict[str, subprocess.Popen[bytes]]
) -> tuple[MemorySampler, float, set[str]]:
    """Send for ``--minutes`` while sampling memory and wait for the last replies; returns the samples,
    the traffic's start (``time.monotonic()``) and the processes that exited meanwhile."""
    sampler = MemorySampler({name: proc.pid for name, proc in procs.items()})
    seconds = args.minutes * 60
    exited: set[str] = set()
    bar = tqdm(total=round(seconds), unit="s", desc="soak", file=sys.stderr, mininterval=1.0)
    t0 = time.monotonic()
    sending = asyncio.create_task(traffic.run(args.rate, seconds, t0, lambda: None))
    next_sample = t0
    while True:
        now = time.monotonic()
        if now >= next_sample or sending.done():
            sampler.sample(now - t0)
            next_sample += args.sample_s
        exited |= {name for name, proc in procs.items() if proc.poll() is not None}
        bar.update(min(round(now - t0), bar.total) - bar.n)
        rss = {name.split()[-1]: f"{mib:.0f}M" for name, mib in sampler.latest().items()}
        bar.set_postfix(sent=len(traffic.sent), answered=traffic.answered(), **rss, refresh=False)
        if sending.done():
            break
        await asyncio.wait({sending}, timeout=min(1.0, max(0.0, next_sample - time.monotonic())))
    bar.close()
    await sending
    await drain(traffic, within=60)
    return sampler, t0, exited


async def drain(traffic: Traffic, within: float) -> None:
    """Wait until every message has a reply and the fakes saw no call for 2 s (the last edits landed)."""
    deadline = time.monotonic() + within
    calls, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_calls = len(traffic.telegram.calls) + len(traffic.slack.calls)
        if now_calls != calls:
            calls, quiet_since = now_calls, time.monotonic()
        elif traffic.answered() >= len(traffic.sent) and time.monotonic() - quiet_since >= 2.0:
            return
        await asyncio.sleep(0.2)


def figures(
    args: argparse.Namespace,
    traffic: Traffic,
    run: tuple[MemorySampler, float, set[str]],
    errors_logged: list[str],
) -> dict[str, Any]:
    """The JSON line's fields; writes the CSV and the plot."""
    sampler, t0, exited = run
    outcome = traffic.outcome(t0)
    warmup_s = args.warmup_minutes * 60
    minutes = per_minute(outcome.latencies)
    settled = [m for m in minutes if m["minute"] * 60 >= warmup_s] or minutes
    latencies = [seconds * 1000 for _, seconds in outcome.latencies] or [0.0]
    kinds = {
        "http": outcome.http_errors,
        "lost": outcome.lost,
        "duplicated": outcome.duplicated,
        "notices": outcome.notices,
        "log_errors": len(errors_logged),
        "exited": len(exited),
    }
    write_csv(sampler.samples, args.csv)
    plot(sampler.samples, minutes, warmup_s, args.plot)
    return {
        "bench": "soak",
        "minutes": args.minutes,
        "rate_per_s": args.rate,
        "warmup_minutes": args.warmup_minutes,
        "users_per_platform": args.users,
        "messages": len(traffic.sent),
        "answered_once": len(outcome.latencies) - outcome.notices,
        "errors": sum(kinds.values()),
        "error_kinds": kinds,
        "processes": growth(sampler.samples, warmup_s),
        "latency_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p99": round(percentile(latencies, 99), 1),
        },
        "p99_ms_after_warmup": {
            "first": settled[0]["p99_ms"] if settled else None,
            "last": settled[-1]["p99_ms"] if settled else None,
            "max": max((m["p99_ms"] for m in settled), default=None),
        },
        "per_minute": minutes,
        "load_avg_1m": round(sum(s.load1 for s in sampler.samples) / max(1, len(sampler.samples)), 2),
        "cpus": os.cpu_count(),
        "csv": str(args.csv),
        "plot": str(args.plot),
        "log_error_lines": errors_logged[:5],
    }


async def soak(args: argparse.Namespace, directory: Path) -> dict[str, Any]:
    model = args.model or make_tiny_model(directory / "model")
    (directory / "redis").mkdir()
    redis = RedisServer(directory / "redis")
    redis.start()
    try:
        async with FakeTelegramServer() as telegram, FakeSlackServer() as slack:
            config = soak_config(
                directory / "botkit.toml", redis.url, model, telegram.base_url, slack.api_base
            )
            worker = WorkerProcess(directory, config, model)
            ports = (free_port(), free_port())
            bot = start_replica(directory, config, ports, telegram, slack)
            bot_log = directory / f"replica-{ports[0]}.log"
            assert redis.proc is not None
            procs = {"redis-server": redis.proc, "botkit worker": worker.proc, "botkit run": bot}
            try:
                await asyncio.to_thread(worker.wait_ready)  # the fakes keep answering the bot meanwhile
                for port in ports:
                    await wait_listening(port, bot, bot_log)
                base = "http://127.0.0.1:{}{}"
                hooks = base.format(ports[0], TELEGRAM), base.format(ports[1], SLACK)
                traffic = Traffic(telegram, slack, *hooks, SECRET, args.users)
                run = await drive(args, traffic, procs)
            finally:
                end(bot)
                worker.stop()
            return figures(args, traffic, run, log_errors(worker.log_path, bot_log))
    finally:
        redis.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to send (default 30)")
    parser.add_argument("--rate", type=float, default=2.0, help="messages per second, both platforms")
    parser.add_argument("--warmup-minutes", type=float, default=5.0, help="left out of the memory growth")
    parser.add_argument("--sample-s", type=float, default=10.0, help="seconds between memory samples")
    parser.add_argument("--users", type=int, default=20, help="conversations on each platform")
    parser.add_argument("--plot", type=Path, default=ROOT / "bench" / "soak.png")
    parser.add_argument("--csv", type=Path, default=ROOT / "bench" / "soak.csv")
    parser.add_argument("--model", type=Path, help="a model folder (default: a fresh tiny random model)")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (logs, config, model)")
    args = parser.parse_args()
    per_user_minute = args.rate * 60 / (2 * args.users)
    if per_user_minute > 15:  # the default rate limit is 20 a minute; the soak measures answers, not refusals
        parser.error(f"{per_user_minute:.0f} messages a minute per user: raise --users")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        result = asyncio.run(soak(args, args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="botkit-soak-") as folder:
            result = asyncio.run(soak(args, Path(folder)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
