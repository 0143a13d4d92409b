"""Faults at the project's default queue settings: a worker killed mid-reply, Redis losing its data.

Every test here runs with the ``[queue]`` defaults (visibility timeout, lock TTL, heartbeat), so what the
README promises holds as shipped; only the model is slowed so that the fault lands mid-reply.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from botkit.config import load_settings
from botkit.errors import BUSY, ModelBusy
from botkit.message import Rewrite, StreamingReply
from botkit.queue.client import CeleryGenerator, _Reply
from botkit.queue.protocol import (
    CLAIM_SCRIPT,
    HEARTBEAT_PREFIX,
    HEARTBEAT_SUFFIX,
    MODEL_INFO_KEY,
    REFRESH_SCRIPT,
    WRITE_SCRIPT,
    RequestKeys,
    heartbeat_key,
    request_id,
)
from botkit.queue.tokens import TokenCounter
from botkit.types import Generation, SamplingParams
from tests.queue.servers import RedisServer, WorkerProcess

# Each fault has a deadline in seconds. Under `make unit` (two xdist workers on two cores) the "faults"
# group runs these modules, tests/chaos and tests/bench/test_soak.py on one worker, one test at a time, so
# no two of these process-heavy tests (workers, Redis servers, replicas each) share the CPUs at once.
pytestmark = pytest.mark.xdist_group("faults")

HELLO = [{"role": "user", "content": "hello there"}]


def kinds(watcher: redis.Redis, key: str) -> list[tuple[str, str]]:
    """(kind, attempt) of each record in ``key``'s reply stream."""
    return [(f["t"], f.get("a", "")) for _i, f in watcher.xrange(RequestKeys(request_id(key)).stream)]  # type: ignore[union-attr]


def wait_half_way(watcher: redis.Redis, keys: list[str], timeout_s: float = 60) -> None:
    """Block until every request was taken by the worker, one reply has two delta records (the others
    wait for the next batch) and none has ended."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen = [kinds(watcher, key) for key in keys]
        assert not any(("final", "1") in k for k in seen), f"a reply ended before the fault: {seen}"
        started = all(("start", "1") in k for k in seen)
        if started and any(sum(kind == "delta" for kind, _a in k) >= 2 for k in seen):
            return
        time.sleep(0.02)
    pytest.fail(f"the replies did not get half-way within {timeout_s} s")


async def settle(readers: list[asyncio.Task[str]]) -> None:
    """Cancel the readers a failed test left behind (their connections close with the generator)."""
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)


def model_info_back_s(watcher: redis.Redis, timeout_s: float = 15) -> float:
    """Seconds until the workers' model info is back in a Redis that just lost it."""
    wiped = time.monotonic()
    while not watcher.exists(MODEL_INFO_KEY):
        assert time.monotonic() - wiped < timeout_s, "the workers did not publish the model info again"
        time.sleep(0.05)
    return time.monotonic() - wiped


async def shown(generator: CeleryGenerator, key: str, params: SamplingParams) -> str:
    """What a chat user ends up reading: the streamed reply as adapters render it (rewrites included)."""
    reply = StreamingReply(generator.stream(HELLO, params, key=key))  # type: ignore[arg-type]
    async for _text in reply:
        pass
    return reply.text


async def test_a_killed_workers_replies_complete_once_within_seconds_not_the_visibility_timeout(
    tmp_path: Path,
    own_redis: RedisServer,
    model_dir: Path,
    workers: list[WorkerProcess],
    default_config: Callable[..., Path],
) -> None:
    config = default_config(own_redis.url, model_dir)
    workers.append(WorkerProcess(tmp_path, config, model_dir, step_delay_ms=60).wait_ready())
    generator = CeleryGenerator.from_settings(load_settings(config))
    keys = [f"telegram:{n}:kill" for n in range(3)]
    params = SamplingParams(max_new_tokens=40, temperature=0.9, top_k=0)  # unseeded: the per-request seed
    watcher = redis.Redis.from_url(own_redis.url, decode_responses=True)
    readers: list[asyncio.Task[str]] = []
    try:
        readers += [asyncio.create_task(shown(generator, key, params)) for key in keys]
        await asyncio.to_thread(wait_half_way, watcher, keys)
        workers[0].kill9()
        killed = time.monotonic()
        workers.append(WorkerProcess(tmp_path, config, model_dir))  # as systemd would restart it
        texts = await asyncio.wait_for(asyncio.gather(*readers), 90)
        recovered_s = time.monotonic() - killed
        stored = [await generator.generate(HELLO, params, key=key) for key in keys]  # type: ignore[arg-type]
        records = [kinds(watcher, key) for key in keys]
    finally:
        await settle(readers)
        watcher.close()
        await generator.close()

    # The heartbeat (3 s) and the restarted worker bring the replies back, not the 180 s visibility timeout
    # (at the old 60 s default this took ~65 s); generous for a loaded 2-core CI.
    assert recovered_s < 30, f"the replies came back {recovered_s:.1f} s after the kill"
    for text, reply, seen in zip(texts, stored, records, strict=True):
        assert text == reply.text  # what the user reads is the stored reply, not a join of two attempts
        assert reply.extra["attempts"] == 2
        assert seen.count(("start", "1")) == 1
        assert seen.count(("start", "2")) == 1
        assert sum(kind == "final" for kind, _a in seen) == 1  # one reply each


async def test_redis_losing_its_data_mid_reply_gives_busy_or_the_whole_reply_and_a_retry_is_clean(
    tmp_path: Path,
    own_redis: RedisServer,
    model_dir: Path,
    workers: list[WorkerProcess],
    default_config: Callable[..., Path],
) -> None:
    config = default_config(own_redis.url, model_dir)
    workers.append(WorkerProcess(tmp_path, config, model_dir, step_delay_ms=60).wait_ready())
    generator = CeleryGenerator.from_settings(load_settings(config))
    keys = [f"slack:C{n}:wipe" for n in range(3)]
    params = SamplingParams(max_new_tokens=40, temperature=0.9, top_k=0)
    watcher = redis.Redis.from_url(own_redis.url, decode_responses=True)
    assert watcher.exists(MODEL_INFO_KEY)
    readers: list[asyncio.Task[str]] = []
    try:
        clean = [
            r.text for r in await asyncio.gather(*(generator.generate(HELLO, params, key=k) for k in keys))
        ]  # type: ignore[arg-type]
        watcher.flushall()  # forget them: the same messages again, this time with a wipe half-way
        info_back_s = await asyncio.to_thread(model_info_back_s, watcher)

        readers += [asyncio.create_task(shown(generator, key, params)) for key in keys]
        await asyncio.to_thread(wait_half_way, watcher, keys)
        watcher.flushall()  # Redis lost everything (as a restart without persistence does)
        wiped = time.monotonic()
        outcomes = await asyncio.gather(*readers, return_exceptions=True)
        told_s = time.monotonic() - wiped
        await asyncio.sleep(1.5)  # time for a worker that went on writing to show itself
        after_wipe = [kinds(watcher, key) for key in keys]

        # The platform retries the same messages (another replica, a redelivered update).
        retried = list(await asyncio.gather(*(shown(generator, key, params) for key in keys)))
    finally:
        await settle(readers)
        watcher.close()
        await generator.close()

    for outcome, text in zip(outcomes, clean, strict=True):
        if isinstance(outcome, BaseException):
            assert isinstance(outcome, ModelBusy), repr(outcome)  # "busy", told at once
        else:
            assert outcome == text
    assert told_s < 10, f"the users waited {told_s:.1f} s after the wipe"
    assert after_wipe == [[], [], []]  # the worker stopped writing into the fresh Redis
    assert retried == clean  # exactly the reply a clean run gives, not a tail joined to a whole
    # The workers published the model info again: a bot without the model directory (as
    # deploy/k8s/bot.yaml runs it) can count tokens again within seconds, not after 40 s.
    assert info_back_s < 5, f"the model info came back {info_back_s:.1f} s after the wipe"
    assert TokenCounter(own_redis.url, None).count(HELLO) > 0  # type: ignore[arg-type]


def ends(watcher: redis.Redis, keys: list[str], timeout_s: float = 60) -> list[dict[str, str]]:
    """The last record of each reply once every stream has ended (a final or an error record)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        last = [
            [f for _i, f in watcher.xrange(RequestKeys(request_id(k)).stream)][-1:]  # type: ignore[union-attr]
            for k in keys
        ]
        if all(tail and tail[0]["t"] in ("final", "error") for tail in last):
            return [tail[0] for tail in last]
        time.sleep(0.1)
    pytest.fail(f"the replies did not end within {timeout_s} s after the freeze")


async def test_redis_frozen_under_the_worker_mid_reply_ends_in_busy_not_a_model_failure(
    tmp_path: Path,
    own_redis: RedisServer,
    model_dir: Path,
    workers: list[WorkerProcess],
    default_config: Callable[..., Path],
) -> None:
    """Redis unreachable (SIGSTOP, its data kept) longer than the worker's 5 s socket timeout while it
    writes replies: its writes time out. That is a queue fault, and the worker says "busy" in the stream,
    as the bot does when Redis fails under it; it said "The model failed on this message (TimeoutError)",
    which the chaos test counted as a garbled, unanswered message."""
    config = default_config(own_redis.url, model_dir)
    workers.append(WorkerProcess(tmp_path, config, model_dir, step_delay_ms=60).wait_ready())
    generator = CeleryGenerator.from_settings(load_settings(config))
    keys = [f"telegram:{n}:freeze" for n in range(3)]
    params = SamplingParams(max_new_tokens=40, temperature=0.9, top_k=0)
    watcher = redis.Redis.from_url(own_redis.url, decode_responses=True)  # no socket timeout: it waits
    assert own_redis.proc is not None
    readers: list[asyncio.Task[str]] = []
    try:
        readers += [asyncio.create_task(shown(generator, key, params)) for key in keys]
        await asyncio.to_thread(wait_half_way, watcher, keys)
        os.kill(own_redis.proc.pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(7)
        finally:
            os.kill(own_redis.proc.pid, signal.SIGCONT)
        outcomes = await asyncio.gather(*readers, return_exceptions=True)
        last = await asyncio.to_thread(ends, watcher, keys)
    finally:
        await settle(readers)
        watcher.close()
        await generator.close()

    errors = [r for r in last if r["t"] == "error"]
    assert errors, f"no reply was cut by the freeze (the test did not strike mid-write): {last}"
    assert all(r["kind"] == "busy" and r["message"] == BUSY for r in errors), last
    for outcome in outcomes:  # what the users were told: the reply, or busy
        assert isinstance(outcome, str) or isinstance(outcome, ModelBusy), repr(outcome)


async def test_with_no_worker_alive_the_user_hears_busy_after_the_grace_not_the_whole_time_limit(
    own_redis: RedisServer, model_dir: Path, default_config: Callable[..., Path]
) -> None:
    # queue_grace_s shortened on purpose (default 30 s); model.timeout_s stays 30 s in this config.
    settings = load_settings(default_config(own_redis.url, model_dir, queue_grace_s=2))
    generator = CeleryGenerator.from_settings(settings)
    started = time.monotonic()
    try:
        with pytest.raises(ModelBusy):
            await generator.generate(HELLO, SamplingParams(max_new_tokens=4), key="telegram:1:nobody")  # type: ignore[arg-type]
    finally:
        await generator.close()
    assert time.monotonic() - started < 10  # not model.timeout_s + queue_grace_s (32 s)


def test_a_retry_that_differs_from_the_shown_text_replaces_it() -> None:
    reply = _Reply()
    pieces = [
        reply.feed({"t": "start", "a": "1"}),
        reply.feed({"t": "delta", "a": "1", "d": "Hello wor"}),
        reply.feed({"t": "start", "a": "2"}),  # the worker died; on another GPU batch the text differs
        reply.feed({"t": "delta", "a": "2", "d": "Hello"}),  # still what is shown: nothing new
        reply.feed({"t": "delta", "a": "2", "d": " there"}),
        reply.feed({"t": "final", "a": "2", "text": "Hello there!", "finish_reason": "stop"}),
    ]
    assert pieces[:4] == ["", "Hello wor", "", ""]
    assert isinstance(pieces[4], Rewrite)
    assert pieces[4] == "Hello there"
    assert pieces[5] == "!"
    assert isinstance(reply.result, Generation)
    assert reply.result.text == "Hello there!"


def test_records_without_their_start_are_no_reply() -> None:
    reply = _Reply()
    # A worker that wrote after Redis lost the stream: a tail and a final, but no start record.
    assert reply.feed({"t": "delta", "a": "1", "d": " the tail"}) == ""
    assert reply.feed({"t": "final", "a": "1", "text": "the whole", "finish_reason": "stop"}) == ""
    assert reply.result is None
    reply.feed({"t": "start", "a": "1"})
    assert reply.feed({"t": "final", "a": "1", "text": "the whole", "finish_reason": "stop"}) == "the whole"


def _scripts(client: redis.Redis) -> tuple[Any, Any, Any]:
    return (
        client.register_script(CLAIM_SCRIPT),
        client.register_script(WRITE_SCRIPT),
        client.register_script(REFRESH_SCRIPT),
    )


def test_a_claim_drops_a_stream_without_its_start_and_takes_over_a_dead_holders_lock(
    redis_client: redis.Redis,
) -> None:
    claim, _write, _refresh = _scripts(redis_client)
    keys = RequestKeys(request_id(f"test:claim:{time.monotonic_ns()}"))
    args = [HEARTBEAT_PREFIX, HEARTBEAT_SUFFIX]
    # What the old worker left after a wipe: a tail and a final, no start. It is no stored reply.
    redis_client.xadd(keys.stream, {"t": "delta", "a": "1", "d": " the tail"})
    redis_client.xadd(keys.stream, {"t": "final", "a": "1", "text": "the whole"})
    redis_client.set(keys.lock, "gone-worker|n1")  # its holder has no heartbeat: dead
    assert claim(keys=[keys.stream, keys.lock, keys.attempts], args=["w1|n2", 10, 60, *args]) == 1
    records = [f for _i, f in redis_client.xrange(keys.stream)]  # type: ignore[union-attr]
    assert records == [{"t": "start", "w": "w1", "a": "1"}]
    assert redis_client.get(keys.lock) == "w1|n2"

    redis_client.set(heartbeat_key("w1"), "1", px=3000)  # w1 is alive: a copy waits on its lock
    assert claim(keys=[keys.stream, keys.lock, keys.attempts], args=["w2|n3", 10, 60, *args]) == -1


def test_an_attempt_that_lost_its_lock_neither_writes_nor_retakes_it(redis_client: redis.Redis) -> None:
    _claim, write, refresh = _scripts(redis_client)
    keys = RequestKeys(request_id(f"test:lost:{time.monotonic_ns()}"))
    redis_client.xadd(keys.stream, {"t": "start", "a": "1"})
    redis_client.set(keys.lock, "w1|n1")
    assert write(keys=[keys.stream, keys.lock], args=["w1|n1", 60, "t", "delta", "d", "hi", "a", "1"]) == 1
    assert refresh(keys=[keys.lock], args=["w1|n1", 10]) == 1

    redis_client.set(keys.lock, "w2|n2")  # another worker took the request over
    assert write(keys=[keys.stream, keys.lock], args=["w1|n1", 60, "t", "delta", "d", "xx", "a", "1"]) == 0
    assert refresh(keys=[keys.lock], args=["w1|n1", 10]) == 0
    redis_client.delete(keys.lock, keys.stream)  # Redis lost both (SET XX would quietly fail to re-take)
    assert refresh(keys=[keys.lock], args=["w1|n1", 10]) == 0
    assert write(keys=[keys.stream, keys.lock], args=["w1|n1", 60, "t", "final", "text", "x", "a", "1"]) == 0
    assert not redis_client.exists(keys.stream, keys.lock)
