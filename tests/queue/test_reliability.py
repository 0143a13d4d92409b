"""Failures: a worker killed mid-reply, Redis going away and coming back."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from botkit.app import Bot
from botkit.config import load_settings
from botkit.errors import GenerationTimeout, ModelBusy
from botkit.plugins.chat import ChatPlugin
from botkit.queue.client import CeleryGenerator
from botkit.queue.protocol import RequestKeys, request_id
from botkit.testing import BotTester
from botkit.types import SamplingParams
from tests.queue.servers import RedisServer, WorkerProcess, write_config

HELLO = [{"role": "user", "content": "hello there"}]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, so stopping it or killing workers disturbs no other test."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Workers a test starts; all are stopped at the end, however the test ends."""
    started: list[WorkerProcess] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.stop()


async def test_a_reply_survives_its_worker_being_killed_and_arrives_once(
    tmp_path: Path, own_redis: RedisServer, model_dir: Path, workers: list[WorkerProcess]
) -> None:
    config = write_config(tmp_path / "botkit.toml", own_redis.url, model_dir)
    slow = ("--step-delay-ms", "60")  # ~40 tokens take ~2.5 s: time to kill the worker half-way
    workers.append(WorkerProcess(tmp_path, config, model_dir, *slow).wait_ready())
    generator = CeleryGenerator.from_settings(load_settings(config))
    key = "slack:C1:1700000000.0001"
    stream_key = RequestKeys(request_id(key)).stream
    params = SamplingParams(max_new_tokens=40, temperature=0.9, top_k=0)  # unseeded on purpose
    watcher = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        pieces: list[str] = []

        async def read() -> None:
            async for piece in generator.stream(HELLO, params, key=key):  # type: ignore[arg-type]
                pieces.append(piece)

        reading = asyncio.create_task(read())
        for _ in range(200):  # wait until the first worker has published part of the reply
            if sum(f.get("t") == "delta" for _i, f in watcher.xrange(stream_key)) >= 2:  # type: ignore[union-attr]
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the first worker published nothing")
        workers[0].kill9()
        workers.append(WorkerProcess(tmp_path, config, model_dir).wait_ready())
        await asyncio.wait_for(reading, 60)
        final = await generator.generate(HELLO, params, key=key)  # type: ignore[arg-type]  # duplicate: stored

        kinds = [(f["t"], f["a"]) for _i, f in watcher.xrange(stream_key)]  # type: ignore[index]
        assert kinds.count(("start", "1")) == 1
        assert kinds.count(("start", "2")) == 1
        assert sum(kind == "final" for kind, _a in kinds) == 1  # one reply
        assert final.extra["attempts"] == 2
        assert "".join(pieces) == final.text  # the retry's text was not shown twice
    finally:
        watcher.close()
        await generator.close()


async def test_redis_outage_means_busy_then_recovery(
    tmp_path: Path, own_redis: RedisServer, model_dir: Path, workers: list[WorkerProcess]
) -> None:
    """What a chat user sees: a reply, the busy message while Redis is down, then replies again."""
    config = write_config(tmp_path / "botkit.toml", own_redis.url, model_dir)
    workers.append(WorkerProcess(tmp_path, config, model_dir).wait_ready())
    settings = load_settings(config, model={"max_new_tokens": 6, "temperature": 1.0, "seed": 1})
    generator = CeleryGenerator.from_settings(settings)
    busy = str(ModelBusy())
    async with BotTester(Bot([ChatPlugin()], model=generator, settings=settings)) as bot:
        await bot.send("hello")
        assert bot.assert_reply().text != busy

        own_redis.stop()
        started = time.monotonic()
        await bot.send("are you there?")
        bot.assert_reply(busy)  # "I'm busy right now, please try again in a moment."
        assert time.monotonic() - started < 5, "the user must not wait for a dead broker"

        own_redis.start()  # same port: the bot and the worker reconnect by themselves
        deadline = time.monotonic() + 60
        while True:
            await bot.send("and now?")
            text = bot.assert_reply().text
            if text != busy:  # a pooled connection that died with the old server may fail once
                break
            assert time.monotonic() < deadline, "no recovery within 60 s"
            await asyncio.sleep(0.5)
        assert text.strip()
        assert workers[0].proc.poll() is None


async def test_a_task_redelivered_while_its_worker_still_runs_waits_instead_of_generating_again(
    tmp_path: Path, own_redis: RedisServer, model_dir: Path, workers: list[WorkerProcess]
) -> None:
    # A visibility timeout far below the reply's length: Redis hands the task out again mid-reply.
    config = write_config(tmp_path / "botkit.toml", own_redis.url, model_dir, visibility_timeout_s=1)
    workers.append(WorkerProcess(tmp_path, config, model_dir, "--step-delay-ms", "100").wait_ready())
    generator = CeleryGenerator.from_settings(load_settings(config))
    key = "discord:7:8"
    try:
        reply = await generator.generate(HELLO, SamplingParams(max_new_tokens=40, seed=3), key=key)  # type: ignore[arg-type]
    finally:
        await generator.close()
    watcher = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        kinds = [f["t"] for _i, f in watcher.xrange(RequestKeys(request_id(key)).stream)]  # type: ignore[index]
    finally:
        watcher.close()

    for _ in range(50):  # the copies poll the lock, so they end a moment after the reply
        if "'duplicate'" in workers[0].log:
            break
        await asyncio.sleep(0.1)
    assert "'duplicate'" in workers[0].log  # a copy ran, found the lock held, and waited
    assert kinds.count("start") == 1
    assert kinds.count("final") == 1
    assert reply.extra["attempts"] == 1


async def test_a_worker_whose_broker_vanishes_mid_reply_stays_up_and_serves_when_it_returns(
    tmp_path: Path, own_redis: RedisServer, model_dir: Path, workers: list[WorkerProcess]
) -> None:
    # A reply still being written when Redis goes: its acknowledgement fails, and kombu's restore of
    # unacknowledged messages then raised inside Celery, which gave up and ended the worker process.
    config = write_config(tmp_path / "botkit.toml", own_redis.url, model_dir)
    worker = WorkerProcess(tmp_path, config, model_dir, "--step-delay-ms", "30").wait_ready()
    workers.append(worker)
    generator = CeleryGenerator.from_settings(load_settings(config, model={"timeout_s": 3.0}))
    long_reply = SamplingParams(max_new_tokens=60, temperature=0.0, repetition_penalty=1.0)
    try:
        in_flight = asyncio.ensure_future(generator.generate(HELLO, long_reply))  # type: ignore[arg-type]
        await asyncio.sleep(0.8)  # the worker is half-way through the reply
        own_redis.stop()
        with pytest.raises((ModelBusy, GenerationTimeout)):  # what the waiting user is told
            await in_flight
        await asyncio.sleep(2)  # past Celery's reaction to the lost broker
        assert worker.proc.poll() is None, worker.log[-3000:]

        own_redis.start()
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = await generator.generate(HELLO, SamplingParams(max_new_tokens=4))  # type: ignore[arg-type]
                break
            except (ModelBusy, GenerationTimeout):
                assert time.monotonic() < deadline, "no reply within 60 s of Redis coming back"
    finally:
        await generator.close()

    assert reply.completion_tokens > 0
    assert worker.proc.poll() is None


def test_a_worker_whose_model_cannot_load_exits_with_status_1_instead_of_retrying(
    tmp_path: Path, own_redis: RedisServer, model_dir: Path
) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    config = write_config(tmp_path / "botkit.toml", own_redis.url, broken)
    worker = WorkerProcess(tmp_path, config, broken)
    try:
        code = worker.proc.wait(60)
    finally:
        worker.stop()

    assert code == 1
    assert "the worker cannot start" in worker.log
    assert "starting it again" not in worker.log
