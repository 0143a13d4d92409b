"""Requests through Celery and Redis to a real worker with a tiny real model."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis

from botkit.config import ModelSettings, QueueSettings, Settings, load_settings
from botkit.errors import GenerationFailed, GenerationTimeout
from botkit.queue.client import CeleryGenerator
from botkit.queue.protocol import RequestKeys, request_id
from botkit.types import SamplingParams
from tests.queue.servers import RedisServer, WorkerProcess, write_config

HELLO = [{"role": "user", "content": "hello there"}]


async def test_round_trip_returns_a_reply(generator: CeleryGenerator) -> None:
    reply = await generator.generate(HELLO, SamplingParams(max_new_tokens=12, seed=1))  # type: ignore[arg-type]

    assert reply.finish_reason in ("stop", "length")
    assert 0 < reply.completion_tokens <= 12
    assert reply.prompt_tokens == generator.count_tokens(HELLO)  # type: ignore[arg-type]
    assert generator.context_window == 256


async def test_stream_delivers_partial_updates_then_the_whole_text(generator: CeleryGenerator) -> None:
    params = SamplingParams(max_new_tokens=40, temperature=0.0, repetition_penalty=1.0)
    key = "test:stream:1"
    pieces = [piece async for piece in generator.stream(HELLO, params, key=key)]  # type: ignore[arg-type]
    final = await generator.generate(HELLO, params, key=key)  # type: ignore[arg-type]  # the stored reply

    assert len(pieces) >= 2, pieces
    assert "".join(pieces) == final.text


async def test_each_request_keeps_its_own_stop_and_max_tokens_inside_one_batch(
    generator: CeleryGenerator, worker: WorkerProcess
) -> None:
    greedy = SamplingParams(max_new_tokens=30, temperature=0.0, repetition_penalty=1.0)
    reference = await generator.generate(HELLO, greedy)  # type: ignore[arg-type]
    assert len(reference.text) > 6, "the tiny model should say something to cut"
    stop = reference.text[3:5]  # a stop sequence known to occur in the greedy reply
    variants = [
        greedy,
        SamplingParams(max_new_tokens=3, temperature=0.0, repetition_penalty=1.0),
        SamplingParams(max_new_tokens=30, temperature=0.0, repetition_penalty=1.0, stop=(stop,)),
        SamplingParams(max_new_tokens=7, temperature=0.9, seed=5),
    ] * 2

    replies = await asyncio.gather(*(generator.generate(HELLO, p) for p in variants))  # type: ignore[arg-type]

    assert max(r.extra["batch"] for r in replies) > 1, "concurrent requests should share a batch"
    for params, reply in zip(variants, replies, strict=True):
        assert reply.completion_tokens <= params.max_new_tokens
        if params.stop:
            assert reply.text == reference.text[: reference.text.find(stop)]
            assert reply.finish_reason == "stop"
        elif params.max_new_tokens == 3:
            assert reply.finish_reason == "length"
            assert reply.completion_tokens == 3
            assert reference.text.startswith(reply.text)
        elif params.temperature == 0.0:
            assert reply.text == reference.text
    seeded = [r.text for p, r in zip(variants, replies, strict=True) if p.seed == 5]
    assert seeded[0] == seeded[1]


async def test_same_key_twice_gives_one_generation_and_one_reply(
    generator: CeleryGenerator, redis_client: redis.Redis
) -> None:
    key = "telegram:42:1001"
    params = SamplingParams(max_new_tokens=20, temperature=0.9)

    first, second = await asyncio.gather(
        generator.generate(HELLO, params, key=key),  # type: ignore[arg-type]
        generator.generate(HELLO, params, key=key),  # type: ignore[arg-type]
    )
    again = await generator.generate(HELLO, params, key=key)  # type: ignore[arg-type]  # after it finished

    assert first == second == again
    records = redis_client.xrange(RequestKeys(request_id(key)).stream)
    kinds = [fields["t"] for _id, fields in records]  # type: ignore[union-attr]
    assert kinds.count("start") == 1
    assert kinds.count("final") == 1


async def test_a_prompt_longer_than_the_context_is_refused_and_the_worker_lives_on(
    generator: CeleryGenerator, worker: WorkerProcess
) -> None:
    huge = [{"role": "user", "content": "the quick brown fox " * 200}]
    assert generator.count_tokens(huge) > generator.context_window  # type: ignore[arg-type]

    try:
        await generator.generate(huge, SamplingParams(max_new_tokens=8))  # type: ignore[arg-type]
    except GenerationFailed as exc:
        message = str(exc)
    else:
        raise AssertionError("a prompt longer than the context must be refused")

    assert "too long" in message
    assert "/reset" in message
    assert worker.proc.poll() is None
    after = await generator.generate(HELLO, SamplingParams(max_new_tokens=4))  # type: ignore[arg-type]
    assert after.completion_tokens > 0


async def test_no_reply_in_time_raises_generation_timeout(redis_server: RedisServer) -> None:
    settings = Settings(
        queue=QueueSettings(redis_url=redis_server.url, inference_queue="nobody.listens", queue_grace_s=0),
        model=ModelSettings(timeout_s=1.0),
    )
    generator = CeleryGenerator(settings, model_dir=None)
    started = time.monotonic()
    try:
        with pytest.raises(GenerationTimeout):
            await generator.generate(HELLO, SamplingParams(max_new_tokens=4))  # type: ignore[arg-type]
    finally:
        await generator.close()

    assert time.monotonic() - started < 5


async def test_a_reply_over_the_time_limit_is_cut_off_and_says_so(
    config_file: Path, worker: WorkerProcess
) -> None:
    settings = load_settings(config_file, model={"timeout_s": 0.02})  # far less than 200 tokens take
    generator = CeleryGenerator(settings, model_dir=None)
    params = SamplingParams(max_new_tokens=200, temperature=0.0, repetition_penalty=1.0)
    try:
        reply = await generator.generate(HELLO, params)  # type: ignore[arg-type]
    finally:
        await generator.close()

    assert reply.finish_reason == "timeout"  # as LocalGenerator reports it; the plugin adds the notice
    assert 0 < reply.completion_tokens < 200


async def test_the_worker_exports_prometheus_counters(
    generator: CeleryGenerator, worker: WorkerProcess
) -> None:
    await generator.generate(HELLO, SamplingParams(max_new_tokens=3))  # type: ignore[arg-type]

    text = await asyncio.to_thread(scrape, f"http://127.0.0.1:{worker.metrics_port}/metrics")

    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("botkit_")
    }
    assert sum(v for k, v in values.items() if k.startswith("botkit_requests_total{")) >= 1
    assert values["botkit_generated_tokens_total"] >= 1
    assert values["botkit_batch_rows_count"] >= 1


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


async def test_a_streamed_reply_over_the_time_limit_ends_with_generation_timeout(
    config_file: Path, worker: WorkerProcess
) -> None:
    settings = load_settings(config_file, model={"timeout_s": 0.02})
    generator = CeleryGenerator(settings, model_dir=None)
    params = SamplingParams(max_new_tokens=200, temperature=0.0, repetition_penalty=1.0)
    pieces: list[str] = []
    try:
        with pytest.raises(GenerationTimeout):
            await _collect(generator.stream(HELLO, params), pieces)  # type: ignore[arg-type]
    finally:
        await generator.close()
    assert len("".join(pieces)) > 0  # the partial text arrived before the error said why it stopped


async def _collect(stream: AsyncIterator[str], into: list[str]) -> None:
    async for piece in stream:
        into.append(piece)


async def test_a_worker_on_the_transformers_engine_batches_streams_and_keeps_stop_rules(
    tmp_path: Path, redis_server: RedisServer, model_dir: Path, config_file: Path, worker: WorkerProcess
) -> None:
    config = write_config(
        tmp_path / "botkit.toml", redis_server.url, model_dir, inference_queue="cb.inference"
    )
    cb_worker = WorkerProcess(tmp_path, config, model_dir, "--engine", "transformers").wait_ready()
    reference_gen = CeleryGenerator(load_settings(config_file), model_dir=None)
    generator = CeleryGenerator(load_settings(config), model_dir=None)
    greedy = SamplingParams(max_new_tokens=30, temperature=0.0, repetition_penalty=1.0)
    try:
        expected = await reference_gen.generate(HELLO, greedy)  # type: ignore[arg-type]  # the botkit engine
        stop = expected.text[3:5]
        cut = SamplingParams(max_new_tokens=30, temperature=0.0, repetition_penalty=1.0, stop=(stop,))
        pieces = [p async for p in generator.stream(HELLO, greedy, key="cb:stream")]  # type: ignore[arg-type]
        replies = await asyncio.gather(
            *(generator.generate(HELLO, p) for p in (greedy, cut, greedy, cut))  # type: ignore[arg-type]
        )
    finally:
        await generator.close()
        await reference_gen.close()
        cb_worker.stop()

    assert "".join(pieces) == expected.text
    assert len(pieces) >= 2
    assert [r.text for r in replies] == [expected.text, expected.text[: expected.text.find(stop)]] * 2
    assert max(r.extra["batch"] for r in replies) > 1
    assert "engine transformers" in cb_worker.log
    assert "engine botkit" in worker.log
