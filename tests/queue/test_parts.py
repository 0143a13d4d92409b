"""The queue's pieces on their own: configuration, request ids, coalescing, reply assembly, the CLI."""

from __future__ import annotations

import argparse
import sys
import time

import pytest
import redis

from botkit.config import QueueSettings, Settings
from botkit.errors import GenerationFailed, GenerationTimeout
from botkit.queue.app import celery_config
from botkit.queue.client import _Reply
from botkit.queue.protocol import GENERATE_TASK, redis_url, request_id, seed_for
from botkit.queue.publisher import StreamPublisher


def test_inference_and_jobs_go_to_separate_queues_with_late_acks() -> None:
    conf = celery_config(Settings(queue=QueueSettings(visibility_timeout_s=300)), role="worker")

    assert conf["task_routes"][GENERATE_TASK] == {"queue": "botkit.inference"}
    assert conf["task_default_queue"] == "botkit.jobs"
    assert conf["task_acks_late"]
    assert conf["task_reject_on_worker_lost"]
    assert conf["worker_prefetch_multiplier"] == 1
    assert conf["broker_transport_options"]["visibility_timeout"] == 300
    assert "max_retries" not in conf["broker_transport_options"]  # a worker reconnects for ever


def test_the_client_gives_up_on_a_missing_broker_quickly() -> None:
    conf = celery_config(Settings(), role="client")

    assert conf["broker_transport_options"]["max_retries"] == 1
    assert conf["task_publish_retry"] is False


def test_redis_url_honours_the_short_alias_unless_the_long_name_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOTKIT_REDIS_URL", "redis://alias:1/0")

    assert redis_url(QueueSettings()) == "redis://alias:1/0"
    assert redis_url(QueueSettings(redis_url="redis://long:2/0")) == "redis://long:2/0"


def test_request_ids_follow_the_idempotency_key() -> None:
    assert request_id("telegram:1:2") == request_id("telegram:1:2")
    assert request_id("telegram:1:2") != request_id("telegram:1:3")
    assert request_id(None) != request_id(None)
    assert seed_for(request_id("a")) == seed_for(request_id("a"))


def test_publisher_coalesces_many_small_pieces(redis_client: redis.Redis) -> None:
    stream, lock = f"test:coalesce:{time.monotonic_ns()}", f"test:lock:{time.monotonic_ns()}"
    redis_client.set(lock, "w|1")  # what the claim leaves: this attempt's lock and its start record
    redis_client.xadd(stream, {"t": "start", "a": "1"})
    publisher = StreamPublisher(
        redis_client, stream, lock, "w|1", 1, ttl_s=60, interval_s=10.0, max_chars=1000
    )
    for piece in "one token at a time":
        publisher.add(piece)

    assert publisher.wait(0.01) is False  # under max_chars and the interval: nothing to send yet
    publisher.flush()

    records = [fields for _id, fields in redis_client.xrange(stream)]  # type: ignore[union-attr]
    assert records[1:] == [{"t": "delta", "d": "one token at a time", "a": "1"}]


def test_publisher_wakes_early_when_enough_text_waits(redis_client: redis.Redis) -> None:
    publisher = StreamPublisher(
        redis_client, "unused", "unused", "w|1", 1, ttl_s=60, interval_s=10.0, max_chars=4
    )
    publisher.add("abcd")
    started = time.monotonic()

    publisher.wait(5.0)

    assert time.monotonic() - started < 1.0


def test_reply_drops_the_part_a_retry_rewrites() -> None:
    reply = _Reply()
    shown = [
        reply.feed({"t": "start", "a": "1"}),
        reply.feed({"t": "delta", "a": "1", "d": "Hel"}),
        reply.feed({"t": "start", "a": "2"}),  # the first worker died; the retry starts over
        reply.feed({"t": "delta", "a": "2", "d": "He"}),
        reply.feed({"t": "delta", "a": "1", "d": "xx"}),  # a straggler of the dead attempt
        reply.feed({"t": "delta", "a": "2", "d": "llo"}),
        reply.feed({"t": "final", "a": "2", "text": "Hello!", "finish_reason": "stop"}),
    ]

    assert "".join(shown) == "Hello!"
    assert reply.result is not None
    assert reply.result.extra["attempts"] == 2


def test_reply_error_records_become_user_facing_errors() -> None:
    reply = _Reply()
    reply.feed({"t": "start", "a": "1"})
    with pytest.raises(GenerationTimeout):
        reply.feed({"t": "error", "a": "1", "kind": "timeout", "message": "x"})
    with pytest.raises(GenerationFailed, match="too long"):
        reply.feed({"t": "error", "a": "1", "kind": "too_long", "message": "the conversation is too long"})


def test_cli_registers_the_worker_subcommand() -> None:
    from botkit.queue.cli import register, run_worker

    parser = argparse.ArgumentParser(prog="botkit")
    register(parser.add_subparsers(dest="command"))

    args = parser.parse_args(
        ["worker", "--model", "m", "--device", "cuda", "--max-batch", "16", "--queue", "q"]
    )

    assert (args.model, args.device, args.max_batch, args.queue, args.pool) == (
        "m",
        "cuda",
        16,
        "q",
        "threads",
    )
    assert args.handler is run_worker


def test_worker_refuses_a_missing_model_dir_with_exit_code_2() -> None:
    from botkit.queue.cli import register

    parser = argparse.ArgumentParser(prog="botkit")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["worker", "--model", "/nonexistent/model"])

    assert args.handler(args) == 2


def test_a_worker_without_the_model_extra_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from botkit.queue.cli import register

    parser = argparse.ArgumentParser(prog="botkit")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["worker", "--echo"])
    monkeypatch.setitem(sys.modules, "torch", None)  # what an install without botkit[model] looks like

    assert args.handler(args) == 2
    assert capsys.readouterr().err == (
        "botkit worker: an inference worker needs the model extra: pip install 'botkit[model]'\n"
    )


def test_the_worker_has_no_hidden_test_switches() -> None:
    from botkit.queue.cli import register

    parser = argparse.ArgumentParser(prog="botkit")
    register(parser.add_subparsers(dest="command"))

    with pytest.raises(SystemExit):  # slowing replies down is a test's runner, passed in (tests/queue)
        parser.parse_args(["worker", "--step-delay-ms", "30"])


def test_the_long_env_name_wins_over_the_alias(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTKIT_REDIS_URL", "redis://alias:1/0")
    monkeypatch.setenv("BOTKIT_QUEUE__REDIS_URL", "redis://long:2/0")

    assert redis_url(Settings().queue) == "redis://long:2/0"


async def test_celery_generator_is_a_generator_and_connects_lazily() -> None:
    from botkit.queue.client import CeleryGenerator
    from botkit.runtime import build_generator
    from botkit.types import Generator

    settings = Settings(queue=QueueSettings(backend="celery", redis_url="redis://127.0.0.1:1/0"))
    generator = build_generator(settings)  # nothing listens on port 1: building must not connect
    try:
        assert isinstance(generator, CeleryGenerator)
        assert isinstance(generator, Generator)
    finally:
        await generator.close()
