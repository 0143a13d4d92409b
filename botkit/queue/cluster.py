"""What several ``botkit run`` replicas of one bot share through Redis (``queue.backend = "celery"``):
which platform updates were taken in, whose turn it is in each conversation, and each user's rate window.

Keys (all under ``botkit:``):

- ``intake:event:<platform id>``: the update's ticket (a number) while it is handled, ``done`` after;
  kept :data:`EVENT_TTL_S` so the platform's redeliveries are dropped on any replica;
- ``intake:seq``: the one counter tickets are drawn from (INCR), so tickets order arrivals on all replicas;
- ``lane:<conversation>``: a sorted set of the conversation's waiting tickets; the lowest one is served;
- ``lane:alive:<ticket>``: refreshed while the ticket's replica waits or works; when it expires (the
  replica died), the ticket is dropped from its lane and the next one goes on;
- ``rate:<platform>:<user>``: a sorted set of the user's message times (a sliding window).

Order: a ticket is drawn when a replica takes the update in, before its webhook answers, so the order
of tickets in a conversation is the order its updates reached any replica. A redelivered update whose
first replica finished (or is still alive) is dropped; one whose replica died before finishing is taken
in again under its *first* ticket, so it goes ahead of anything that arrived after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from botkit.middleware import RateVerdict
from botkit.queue.protocol import PREFIX, redis_url

if TYPE_CHECKING:
    from botkit.config import QueueSettings

log = logging.getLogger("botkit.queue")

EVENT_TTL_S = 24 * 3600  # platforms redeliver for hours at most (Telegram), Slack within minutes
ALIVE_TTL_S = 6  # a replica silent this long lost its place in the lanes (refreshed every 2 s)
POLL_S = 0.02  # how often a waiting ticket looks at its lane
OUTAGE_S = 5.0  # after Redis failed, lanes are kept in this process for this long before Redis is tried again
LOCAL = "local"  # the ticket of an update taken in while Redis was unreachable

# KEYS: event, lane, seq; ARGV: alive prefix, event ttl, alive ttl. Returns the ticket, or 0: a duplicate.
ADMIT_SCRIPT = """
local ticket = redis.call('GET', KEYS[1])
if ticket == 'done' then return 0 end
if ticket then
  if redis.call('EXISTS', ARGV[1] .. ticket) == 1 then return 0 end
else
  ticket = redis.call('INCR', KEYS[3])
  redis.call('SET', KEYS[1], ticket, 'EX', ARGV[2])
end
redis.call('SET', ARGV[1] .. ticket, '1', 'EX', ARGV[3])
redis.call('ZADD', KEYS[2], ticket, ticket)
redis.call('EXPIRE', KEYS[2], ARGV[2])
return tonumber(ticket)
"""

# KEYS: lane; ARGV: alive prefix, ticket. Drops dead tickets ahead; returns 1 when ``ticket`` is first.
TURN_SCRIPT = """
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #head == 0 or head[1] == ARGV[2] then return 1 end
  if redis.call('EXISTS', ARGV[1] .. head[1]) == 1 then return 0 end
  redis.call('ZREM', KEYS[1], head[1])
end
"""

# KEYS: lane, alive, event (or a placeholder); ARGV: ticket, done (1/0). Leaves the lane.
LEAVE_SCRIPT = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if ARGV[2] == '1' and redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('SET', KEYS[3], 'done', 'KEEPTTL')
end
return 1
"""

# KEYS: window, warned; ARGV: limit, window ms, unique member. Returns {allowed, retry ms, warn}.
RATE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2])
  local retry = math.max(oldest + window - now, 1)
  local warn = redis.call('SET', KEYS[2], '1', 'NX', 'PX', retry) and 1 or 0
  return {0, retry, warn}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return {1, 0, 0}
"""


class RedisIntakeState:
    """De-duplication and conversation lanes shared by every replica through Redis.

    Taking an update in (:meth:`admit`) is one blocking round trip on purpose: it has to happen before
    the webhook answers (see the module docstring). While Redis is unreachable, updates are taken in and
    ordered in this process only (nothing is lost; order across replicas is not kept then).

    Args:
        url: the Redis URL (credentials and TLS as :mod:`botkit.queue.connection` describes).
        timeout_s: how long one Redis call may take before it counts as an outage.
    """

    def __init__(self, url: str, *, timeout_s: float = 1.0) -> None:
        self._sync = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        self._async = aioredis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, decode_responses=True
        )
        self._admit = self._sync.register_script(ADMIT_SCRIPT)
        self._turn = self._async.register_script(TURN_SCRIPT)
        self._leave = self._async.register_script(LEAVE_SCRIPT)
        self._events: dict[str, str] = {}  # ticket -> its event key, to mark it done
        self._down_until = 0.0
        self._local: dict[str, asyncio.Lock] = {}

    @classmethod
    def from_settings(cls, queue: QueueSettings) -> RedisIntakeState:
        """The shared state on ``[queue] redis_url``."""
        return cls(redis_url(queue), timeout_s=queue.connect_timeout_s)

    def admit(self, event_id: str | None, key: str) -> str | None:
        """The update's ticket in conversation ``key``; None when a replica took it in before."""
        if time.monotonic() < self._down_until:
            return LOCAL
        event = (
            f"{PREFIX}:intake:event:{event_id}" if event_id else f"{PREFIX}:intake:once:{uuid.uuid4().hex}"
        )
        try:
            keys = [event, _lane(key), f"{PREFIX}:intake:seq"]
            ticket = int(self._admit(keys=keys, args=[_ALIVE, EVENT_TTL_S, ALIVE_TTL_S]))
        except RedisError as exc:
            self._outage(exc)
            return LOCAL
        if ticket == 0:
            return None
        self._events[str(ticket)] = event
        return str(ticket)

    @contextlib.asynccontextmanager
    async def lane(self, key: str, ticket: str) -> AsyncIterator[None]:
        """Wait until ``ticket`` is the lowest in conversation ``key``'s lane, then hold it."""
        event = self._events.pop(ticket, f"{PREFIX}:intake:none")
        if ticket == LOCAL:
            async with self._local_lock(key):
                yield
            return
        keeper = asyncio.get_running_loop().create_task(self._keep_alive(ticket))
        done = False
        try:
            if await self._wait_turn(key, ticket):
                yield
            else:  # Redis went away while waiting: this replica's lock keeps its own updates in order
                async with self._local_lock(key):
                    yield
            done = True
        finally:
            keeper.cancel()
            with contextlib.suppress(RedisError, asyncio.CancelledError):
                await self._leave(keys=[_lane(key), _ALIVE + ticket, event], args=[ticket, int(done)])

    async def drop(self, key: str, ticket: str) -> None:
        """Leave the lane without a turn (nothing to handle, or preparing it failed). The event is not
        marked done: a redelivery of it is taken in again, on any replica."""
        event = self._events.pop(ticket, f"{PREFIX}:intake:none")
        if ticket == LOCAL:
            return
        with contextlib.suppress(RedisError):
            await self._leave(keys=[_lane(key), _ALIVE + ticket, event], args=[ticket, 0])

    async def _wait_turn(self, key: str, ticket: str) -> bool:
        try:
            # Polled rather than notified: a replica that died while serving sends no notice either.
            while True:
                if await self._turn(keys=[_lane(key)], args=[_ALIVE, ticket]):
                    break
                await asyncio.sleep(POLL_S)
        except RedisError as exc:
            self._outage(exc)
            return False
        return True

    async def _keep_alive(self, ticket: str) -> None:
        while True:
            await asyncio.sleep(ALIVE_TTL_S / 3)
            with contextlib.suppress(RedisError):
                await self._async.set(_ALIVE + ticket, "1", ex=ALIVE_TTL_S)

    def _local_lock(self, key: str) -> asyncio.Lock:
        # Bounded by the conversations seen during outages; dropped when the state is closed.
        return self._local.setdefault(key, asyncio.Lock())

    def _outage(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + OUTAGE_S
        log.warning("Redis unreachable for the shared intake (%s); conversations ordered per replica", exc)

    async def close(self) -> None:
        """Close both connection pools."""
        self._sync.close()
        await self._async.aclose()


class RedisRateWindow:
    """The per-user sliding window of :class:`~botkit.middleware.RateLimitMiddleware`, shared through
    Redis (the server's clock, so replicas agree). When Redis fails, the message is let through."""

    def __init__(self, url: str, *, timeout_s: float = 1.0) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        self._script = self._redis.register_script(RATE_SCRIPT)

    @classmethod
    def from_settings(cls, queue: QueueSettings) -> RedisRateWindow:
        """The window on ``[queue] redis_url``."""
        return cls(redis_url(queue), timeout_s=queue.connect_timeout_s)

    async def hit(self, who: str, messages: int, per_seconds: float) -> RateVerdict:
        """Count one message of ``who``, unless ``messages`` were counted in the last ``per_seconds``."""
        keys = [f"{PREFIX}:rate:{who}", f"{PREFIX}:rate:{who}:warned"]
        try:
            allowed, retry_ms, warn = await self._script(
                keys=keys, args=[messages, int(per_seconds * 1000), uuid.uuid4().hex]
            )
        except RedisError as exc:
            log.warning("Redis unreachable for the rate limit (%s); message let through", exc)
            return RateVerdict(True, 0.0, False)
        return RateVerdict(bool(allowed), int(retry_ms) / 1000, bool(warn))

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


_ALIVE = f"{PREFIX}:lane:alive:"


def _lane(key: str) -> str:
    return f"{PREFIX}:lane:{key}"
