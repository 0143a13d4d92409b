"""The outbox against a real redis-server: each message reaches one replica, even when one dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from botkit.message import Button, Reply
from botkit.queue.jobs_outbox import GROUP, OUTBOX, OutboxReader, post
from tests.queue.servers import RedisServer


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    connection = aioredis.Redis.from_url(redis_server.url, decode_responses=True)
    await connection.delete(OUTBOX)  # a fresh stream and group for each test
    try:
        yield connection
    finally:
        await connection.aclose()


class Replica:
    """A bot replica's outbox reader with what it delivered; ``platforms`` are the adapters it has."""

    def __init__(self, url: str, name: str, platforms: set[str], claim_idle_ms: int = 10_000) -> None:
        self.platforms = platforms
        self.delivered: list[tuple[str, str, str | None]] = []
        self.reader = OutboxReader(url, self.deliver, name, claim_idle_ms=claim_idle_ms)
        self.task: asyncio.Task[None] | None = None

    async def deliver(self, key: str, reply: Reply, thread_id: str | None) -> None:
        if key.partition(":")[0] not in self.platforms:
            raise LookupError(f"no adapter for conversation {key!r}")
        self.delivered.append((key, reply.text, thread_id))

    async def __aenter__(self) -> Replica:
        self.task = asyncio.create_task(self.reader.run())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.task is not None
        await self.reader.stop()
        await asyncio.wait_for(self.task, timeout=5)  # stop() ends the run, however it was blocked


async def _until(check: object, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_two_replicas_deliver_each_message_once(
    redis_server: RedisServer, client: aioredis.Redis
) -> None:
    async with Replica(redis_server.url, "a", {"test"}) as a, Replica(redis_server.url, "b", {"test"}) as b:
        for n in range(40):
            await post(client, "test:room", Reply(f"m{n}", [[Button("Open", data="open")]]), "t1")
        await _until(lambda: len(a.delivered) + len(b.delivered) == 40)
        await post(client, "test:room", Reply("last"), None)  # bounds the wait for a stray duplicate
        await _until(lambda: ("test:room", "last", None) in a.delivered + b.delivered)
    texts = sorted(text for _, text, _ in a.delivered + b.delivered)
    assert texts == sorted([*(f"m{n}" for n in range(40)), "last"])


async def test_a_message_held_by_a_dead_replica_is_taken_over(
    redis_server: RedisServer, client: aioredis.Redis
) -> None:
    await client.xgroup_create(OUTBOX, GROUP, id="0", mkstream=True)
    await post(client, "test:room", Reply("held"), None)
    # A replica reads it and dies before delivering (it never acknowledges).
    await client.xreadgroup(GROUP, "dead", {OUTBOX: ">"}, count=1)
    async with Replica(redis_server.url, "alive", {"test"}, claim_idle_ms=200) as alive:
        await _until(lambda: alive.delivered == [("test:room", "held", None)])
    assert (await client.xpending(OUTBOX, GROUP))["pending"] == 0


async def test_a_message_waits_for_a_replica_with_its_platform(
    redis_server: RedisServer, client: aioredis.Redis
) -> None:
    """A replica without the platform's adapter (still starting, or serving others) leaves it pending."""
    await client.xgroup_create(OUTBOX, GROUP, id="0", mkstream=True)
    async with Replica(redis_server.url, "slack-only", {"slack"}, claim_idle_ms=200) as slack_only:
        await post(client, "telegram:42", Reply("for telegram"), None)
        deadline = time.monotonic() + 10
        while (await client.xpending(OUTBOX, GROUP))["pending"] != 1:  # read, refused, not acknowledged
            assert time.monotonic() < deadline, "the slack-only replica never read the message"
            await asyncio.sleep(0.02)
        async with Replica(redis_server.url, "telegram", {"telegram"}, claim_idle_ms=200) as telegram:
            await _until(lambda: telegram.delivered == [("telegram:42", "for telegram", None)])
    assert slack_only.delivered == []
