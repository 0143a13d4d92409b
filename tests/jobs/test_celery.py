"""Celery jobs against a real redis-server, a real ``botkit beat`` and a real ``botkit jobs`` worker.

Two bot replicas (two bots built from the same config, each reading the outbox with its own adapter)
stand for a scaled-out deployment: each tick of a 1-second schedule must run once and reach the room
once, and a background job's result must reach its conversation once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from botkit import Bot
from botkit.config import load_settings
from botkit.queue.jobs_client import CeleryJobs
from botkit.runtime import build_bot
from botkit.testing import BotTester, FakeAdapter
from tests.queue.servers import BOTKIT_BIN, ROOT, RedisServer, _end

pytestmark = pytest.mark.slow

PLUGIN = """
from botkit import Context, Plugin, on_command
from botkit.jobs import JobContext, every


class Ticker(Plugin):
    @every("1s")
    async def tick(self, job: JobContext) -> None:
        await job.send_to("test:room", f"tick {job.scheduled_at:.0f}")

    @on_command("report")
    async def report(self, ctx: Context, month: str) -> None:
        await ctx.background(self.build, month)
        await ctx.reply("Working on it.")

    async def build(self, job: JobContext, month: str) -> str:
        return f"Report for {month}: done."

    @every("1s")
    async def flaky(self, job: JobContext) -> None:
        raise RuntimeError("the ticket system is down")

    @on_command("remind")
    async def remind(self, ctx: Context, seconds: int) -> None:
        await ctx.later(seconds, self.ping, "stand-up")

    async def ping(self, job: JobContext, what: str) -> None:
        await job.reply(f"Reminder: {what}")
"""


class Process:
    """A ``botkit`` sub-command in a subprocess, logging to a file."""

    def __init__(self, directory: Path, *args: str) -> None:
        self.log_path = directory / f"{args[0]}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("BOTKIT_REDIS_URL", None)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([str(BOTKIT_BIN), *args], cwd=ROOT, env=env, stdout=log, stderr=log)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.log:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.log_path.name} did not say {text!r}:\n{self.log[-3000:]}")
            time.sleep(0.1)


@dataclass
class Deployment:
    config: Path
    redis: RedisServer
    worker: Process


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Redis, one jobs worker and one beat, all from one config that loads the ticking plugin."""
    where = tmp_path_factory.mktemp("celery-jobs")
    server = RedisServer(where)
    server.start()
    (where / "tickplugin.py").write_text(PLUGIN, encoding="utf-8")
    config = where / "botkit.toml"
    config.write_text(
        f'plugins = ["tickplugin"]\ndiscover_plugins = false\nstore = "memory"\n'
        f'[queue]\nbackend = "celery"\nredis_url = "{server.url}"\n',
        encoding="utf-8",
    )
    worker = Process(where, "jobs", "--config", str(config), "--concurrency", "2")
    beat = Process(where, "beat", "--config", str(config))
    try:
        worker.wait_for(" ready.")
        beat.wait_for("beat: Starting...")
        yield Deployment(config, server, worker)
    finally:
        _end(beat.proc)
        _end(worker.proc)
        server.stop()


@pytest.fixture
async def replicas(deployment: Deployment) -> AsyncIterator[list[tuple[Bot, FakeAdapter]]]:
    settings = load_settings(deployment.config)
    pairs = []
    for _ in range(2):
        bot, adapter = build_bot(settings), FakeAdapter()
        assert isinstance(bot.jobs, CeleryJobs)
        bot.attach(adapter)
        await bot.start()
        pairs.append((bot, adapter))
    try:
        yield pairs
    finally:
        for bot, _ in pairs:
            await bot.stop()


async def _until(check: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_each_tick_runs_once_with_two_replicas(
    replicas: list[tuple[Bot, FakeAdapter]], deployment: Deployment
) -> None:
    def ticks() -> list[int]:
        texts = [text for _, adapter in replicas for (room, _, text) in adapter.pushed if room == "room"]
        return [int(text.split()[1]) for text in texts]

    first = time.time()
    await _until(lambda: len([t for t in ticks() if t > first]) >= 5, timeout_s=20)
    seen = ticks()
    assert len(seen) == len(set(seen)), f"a tick ran twice: {sorted(seen)}"
    ordered = sorted(seen)
    assert ordered == list(range(ordered[0], ordered[-1] + 1)), f"a tick was missed: {ordered}"
    # Nothing of it went near an inference worker's queue.
    client = redis.Redis.from_url(deployment.redis.url)
    assert client.llen("botkit.inference") == 0
    client.close()
    # The job that raises on every tick is logged by name each time, and the other job never missed a tick.
    assert deployment.worker.log.count("job ticker.flaky failed at its tick") >= 4
    assert "the ticket system is down" in deployment.worker.log


async def test_background_result_reaches_the_conversation_once(
    replicas: list[tuple[Bot, FakeAdapter]],
) -> None:
    bot, _ = replicas[0]
    tester = BotTester(bot)
    await tester.adapter.start(bot)
    await tester.send("/report march")
    tester.assert_reply("Working on it.")

    def results() -> list[str]:
        adapters = [adapter for _, adapter in replicas]
        return [text for adapter in adapters for (room, _, text) in adapter.pushed if room == "c1"]

    await _until(lambda: results() == ["Report for march: done."], timeout_s=15)
    # Bounded by a later event: two more ticks reach the room, and still no second copy has come.
    pushed = sum(len(adapter.pushed) for _, adapter in replicas)
    await _until(lambda: sum(len(adapter.pushed) for _, adapter in replicas) >= pushed + 2, timeout_s=10)
    assert results() == ["Report for march: done."]


async def test_later_runs_on_the_jobs_worker_after_its_delay(replicas: list[tuple[Bot, FakeAdapter]]) -> None:
    bot, _ = replicas[1]
    tester = BotTester(bot)
    await tester.adapter.start(bot)
    asked = time.monotonic()
    await tester.send("/remind 2")

    def reminders() -> list[str]:
        return [
            text for _, adapter in replicas for (room, _, text) in adapter.pushed if text.startswith("Remi")
        ]

    await _until(lambda: reminders() == ["Reminder: stand-up"], timeout_s=15)
    assert time.monotonic() - asked >= 2.0
