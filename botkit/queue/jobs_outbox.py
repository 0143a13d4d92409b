"""The outbox: how a Celery jobs worker, which has no platform connection, writes to a conversation.

A job's messages are appended to one Redis stream; every bot replica reads it through one consumer group,
so exactly one replica delivers each message with its own adapters (``Bot.send_to``). A replica that dies
after reading a message but before delivering it leaves it pending; another replica claims it once it has
been idle for ``CLAIM_IDLE_MS``. A message for a platform this replica has no adapter for (yet: it is
still starting, or it serves other platforms) is left pending the same way, for up to
``MAX_DELIVERIES`` tries. Any other failure (the chat blocked the bot) is logged and acknowledged: a
message is never delivered twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from botkit.message import Button, Reply
from botkit.queue.protocol import PREFIX

log = logging.getLogger("botkit.jobs")

OUTBOX = f"{PREFIX}:jobs:outbox"
GROUP = "bots"
CLAIM_IDLE_MS = 10_000
MAX_DELIVERIES = 20  # with CLAIM_IDLE_MS: about three minutes
MAX_LEN = 10_000  # delivered messages are trimmed beyond this many

Deliver = Callable[[str, Reply, str | None], Awaitable[None]]


def encode(key: str, reply: Reply, thread_id: str | None) -> dict[str, str]:
    """One outbox record for ``reply`` to the conversation ``key``.

    Raises:
        TypeError: the reply carries files, which a jobs worker cannot hand over (send them from a bot).
    """
    if reply.files:
        raise TypeError("a job on a Celery jobs worker can send text and buttons, not files")
    buttons = [[[b.label, b.data, b.url] for b in row] for row in reply.buttons]
    return {"key": key, "thread": thread_id or "", "text": reply.text, "buttons": json.dumps(buttons)}


def decode(fields: dict[str, str]) -> tuple[str, Reply, str | None]:
    """The conversation key, the reply and the thread of an outbox record."""
    rows = json.loads(fields.get("buttons") or "[]")
    buttons = [[Button(label, data, url) for label, data, url in row] for row in rows]
    return fields["key"], Reply(fields["text"], buttons), fields.get("thread") or None


async def post(client: aioredis.Redis, key: str, reply: Reply, thread_id: str | None) -> None:
    """Append a message for a bot replica to deliver."""
    await client.xadd(OUTBOX, encode(key, reply, thread_id), maxlen=MAX_LEN, approximate=True)  # type: ignore[arg-type]


class OutboxReader:
    """Reads the outbox as one consumer of the bots' group and delivers each message once.

    Args:
        url: the Redis URL.
        deliver: ``Bot.send_to`` in effect: ``(key, reply, thread_id)``.
        consumer: this replica's name in the group (unique per process).
        claim_idle_ms: take over a message another consumer has held unacknowledged this long.
    """

    def __init__(
        self, url: str, deliver: Deliver, consumer: str, *, claim_idle_ms: int = CLAIM_IDLE_MS
    ) -> None:
        self.url = url
        self.deliver = deliver
        self.consumer = consumer
        self.claim_idle_ms = claim_idle_ms
        self._client: aioredis.Redis | None = None
        self._stopping = False

    async def run(self) -> None:
        """Deliver messages until :meth:`stop`; a lost Redis connection is retried every second."""
        self._client = client = aioredis.Redis.from_url(self.url, decode_responses=True)
        try:
            while not self._stopping:
                try:
                    await self._ensure_group(client)
                    while not self._stopping:
                        await self._read_once(client)
                except (RedisError, OSError) as exc:
                    if self._stopping:
                        break
                    log.warning("outbox: Redis unavailable (%s); retrying in 1 s", exc)
                    await asyncio.sleep(1.0)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        """Make :meth:`run` return: its connections are closed under it.

        Closing, not cancelling: a task cancelled inside redis-py's blocking ``XREADGROUP`` does not
        always stop (seen with redis-py 8.1), and Redis may keep a blocked read waiting past its timeout
        while other consumers are served.
        """
        self._stopping = True
        if self._client is not None:
            await self._client.connection_pool.disconnect()

    async def _ensure_group(self, client: aioredis.Redis) -> None:
        try:
            # From the stream's start: messages posted before the first replica came up are delivered too.
            await client.xgroup_create(OUTBOX, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_once(self, client: aioredis.Redis) -> None:
        # A replica that read messages and died never acknowledged them: take them over first.
        claimed: Any = await client.xautoclaim(OUTBOX, GROUP, self.consumer, self.claim_idle_ms, count=10)
        for message_id, fields in claimed[1]:
            await self._handle(client, message_id, fields)
        batches: Any = await client.xreadgroup(GROUP, self.consumer, {OUTBOX: ">"}, count=10, block=1000)
        for _stream, entries in batches or []:
            for message_id, fields in entries:
                await self._handle(client, message_id, fields)

    async def _handle(self, client: aioredis.Redis, message_id: str, fields: dict[str, str]) -> None:
        try:
            key, reply, thread_id = decode(fields)
            await self.deliver(key, reply, thread_id)
        except LookupError as exc:
            pending: Any = await client.xpending_range(OUTBOX, GROUP, message_id, message_id, 1)
            tries = int(pending[0]["times_delivered"]) if pending else MAX_DELIVERIES
            if tries < MAX_DELIVERIES:
                log.info("outbox: message %s left for a replica that can deliver it (%s)", message_id, exc)
                return
            log.error("outbox: no replica delivered message %s after %d tries: %s", message_id, tries, exc)
        except Exception:
            log.exception("outbox: could not deliver message %s to %s", message_id, fields.get("key"))
        await client.xack(OUTBOX, GROUP, message_id)
