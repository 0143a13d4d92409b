"""Failures: Redis going away and coming back, copies of a running task, a model that does not load.

These run at the project's default queue settings, except the test that shortens the visibility timeout on
purpose; a worker killed mid-reply and Redis losing its data are in ``test_fault_recovery.py``.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
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
from tests.queue.servers import RedisServer, WorkerProcess

# Each fault has a deadline in seconds. Under `make unit` (two xdist workers on two cores) the "faults"
# group runs these modules, tests/chaos and tests/bench/test_soak.py on one worker, one test at a time, so
# no two of these process-heavy tests (workers, Redis servers, replicas each) share the CPUs at once.
pytestmark = pytest.mark.xdist_group("faults")

HELLO = [{"role": "user", "content": "hello there"}]


def wait_for_deltas(watcher: redis.Redis, stream_key: str, count: int, timeout_s: float = 30) -> None:
    """Block until the reply stream holds ``count`` delta records and no final one (a reply half-way)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        kinds = [fields.get("t") for _id, fields in watcher.xrange(stream_key)]  # type: ignore[union-attr]
        assert "final" not in kinds, f"the reply ended before the test could act: {kinds}"
        if kinds.count("delta") >= count:
            return
        time.sleep(0.02)
    pytest.fail(f"no {count} pieces of the reply within {timeout_s} s")


async def test_redis_outage_means_busy_then_recovery(
    tmp_path: Path,
    own_redis: RedisServer,
    model_dir: Path,
    workers: list[WorkerProcess],
    default_config: Callable[..., Path],
) -> None:
    """What a chat user sees: a reply, the busy message while Redis is down, then replies again."""
    config = default_config(own_redis.url, model_dir)
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
            if workers[-1].proc.poll() is not None:
                # Celery sometimes gives up on a broker that vanished (kombu fails restoring unacked tasks
                # on close); the worker then exits 1 and its service manager starts it again, as the
                # README says. Do what systemd would; the bot must still recover within the deadline.
                assert workers[-1].proc.returncode == 1, workers[-1].log[-3000:]
                workers.append(WorkerProcess(tmp_path, config, model_dir))
            await bot.send("and now?")
            text = bot.assert_reply().text
            if text != busy:  # a pooled connection that died with the old server may fail once
                break
            assert time.monotonic() < deadline, "no recovery within 60 s"
            await asyncio.sleep(0.5)
        assert text.strip()
        # The worker that answered is still up (workers[0] itself may have been the one Celery gave up on).
        assert workers[-1].proc.poll() is None, workers[-1].log[-3000:]


async def test_a_task_redelivered_while_its_worker_still_runs_waits_instead_of_generating_again(
    tmp_path: Path,
    own_redis: RedisServer,
    model_dir: Path,
    workers: list[WorkerProcess],
    default_config: Callable[..., Path],
) -> None:
    # A visibility timeout far below the reply's length: Redis hands the task out again mid-reply.
    config = default_config(own_redis.url, model_dir, visibility_timeout_s=1, restore_interval_s=1)
    workers.append(WorkerProcess(tmp_path, config, model_dir, step_delay_ms=100).wait_ready())
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


async def test_a_worker_whose_broker_vanishes_mid_reply_exits_non_zero_and_a_restarted_one_serves(
    tmp_path: Path,
    own_redis: RedisServer,
    model_dir: Path,
    workers: list[WorkerProcess],
    default_config: Callable[..., Path],
) -> None:
    # A reply still being written when Redis goes: its acknowledgement fails, and kombu's restore of
    # unacknowledged messages then raises inside Celery, which gives up. The worker does not restart
    # itself: it exits non-zero with a message, and the service manager (here, this test) starts another.
    config = default_config(own_redis.url, model_dir)
    worker = WorkerProcess(tmp_path, config, model_dir, step_delay_ms=30).wait_ready()
    workers.append(worker)
    generator = CeleryGenerator.from_settings(load_settings(config, model={"timeout_s": 3.0}))
    long_reply = SamplingParams(max_new_tokens=60, temperature=0.9, top_k=0, seed=5)
    key = "telegram:42:outage"
    watcher = redis.Redis.from_url(own_redis.url, decode_responses=True)
    try:
        in_flight = asyncio.ensure_future(generator.generate(HELLO, long_reply, key=key))  # type: ignore[arg-type]
        await asyncio.to_thread(wait_for_deltas, watcher, RequestKeys(request_id(key)).stream, 2)
        own_redis.stop()
        with pytest.raises((ModelBusy, GenerationTimeout)):  # what the waiting user is told
            await in_flight
        code = await asyncio.to_thread(worker.proc.wait, 60)
        assert code != 0, worker.log[-3000:]
        assert "botkit worker: Celery stopped consuming by itself" in worker.log
        assert "Unrecoverable error" in worker.log  # Celery gave up; the worker said so and left

        own_redis.start()
        workers.append(WorkerProcess(tmp_path, config, model_dir).wait_ready())  # as systemd would
        deadline = time.monotonic() + 60
        while True:
            try:
                reply = await generator.generate(HELLO, SamplingParams(max_new_tokens=4))  # type: ignore[arg-type]
                break
            except (ModelBusy, GenerationTimeout):  # a pooled connection that died with the old server
                assert time.monotonic() < deadline, "no reply within 60 s of the restarted worker"
    finally:
        watcher.close()
        await generator.close()

    assert reply.completion_tokens > 0
    restarted = workers[1]
    restarted.stop()  # SIGTERM, as systemd stops it: a requested stop is a success, not restarted
    assert restarted.proc.returncode == 0, restarted.log[-3000:]


def test_a_worker_whose_model_cannot_load_exits_with_status_1_instead_of_retrying(
    tmp_path: Path, own_redis: RedisServer, model_dir: Path, default_config: Callable[..., Path]
) -> None:
    broken = tmp_path / "broken-model"
    shutil.copytree(model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    config = default_config(own_redis.url, broken)
    worker = WorkerProcess(tmp_path, config, broken)
    try:
        code = worker.proc.wait(60)
    finally:
        worker.stop()

    assert code == 1
    assert "the worker cannot start" in worker.log
    assert "Celery stopped consuming by itself" not in worker.log  # the model's error is the one reported
