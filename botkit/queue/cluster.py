"""What several ``botkit run`` replicas of one bot share through Redis (``queue.backend = "celery"``):
which platform updates were taken in, whose turn it is in each conversation, and each user's rate window.

Keys (all under ``botkit:``):

- ``intake:event:<platform id>``: the update's ticket (a number) while it is handled, ``done`` after;
  kept :data:`EVENT_TTL_S` so the platform's redeliveries are dropped on any replica;
- ``intake:seq``: the one counter tickets are drawn from (INCR), so tickets order arrivals on all replicas;
  it starts at the server's time in microseconds, so a wiped Redis never hands out a ticket still held;
- ``lane:<conversation>``: a sorted set of the conversation's waiting tickets; the lowest one is served;
- ``lane:alive:<ticket>``: the id of the replica holding the ticket, refreshed from the moment it was
  taken in until it leaves its lane; when it expires (the replica died), the ticket's journalled update
  is adopted by another replica (:mod:`botkit.queue.journal`), or, with nothing journalled, the ticket
  is dropped from its lane and the next one goes on;
- ``intake:pending`` and ``intake:pending:<ticket>``: the journal (:mod:`botkit.queue.journal`);
- ``rate:<platform>:<user>``: a sorted set of the user's message times (a sliding window).

Order: a ticket is drawn when a replica takes the update in, before its webhook answers, so the order
of tickets in a conversation is the order its updates reached any replica. A redelivered update whose
first replica finished (or is still alive) is dropped; one whose replica died before finishing is taken
in again under its *first* ticket, so it goes ahead of anything that arrived after it. The platform does
not redeliver what was acknowledged, though: the journal's adopter takes it in again the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from botkit.middleware import RateVerdict
from botkit.queue.journal import ADOPT_WAIT_S, PENDING, RETRY_S, Adopter, Readmit
from botkit.queue.protocol import PREFIX, redis_url

if TYPE_CHECKING:
    from botkit.config import QueueSettings

log = logging.getLogger("botkit.queue")

EVENT_TTL_S = 24 * 3600  # platforms redeliver for hours at most (Telegram), Slack within minutes
ALIVE_TTL_S = 6  # a replica silent this long is taken for dead (its tickets are refreshed every 2 s)
POLL_S = 0.02  # how often a waiting ticket looks at its lane
OUTAGE_S = 5.0  # after Redis failed, lanes are kept in this process for this long before Redis is tried again
LOCAL = "local"  # the ticket of an update taken in while Redis was unreachable

# KEYS: event, lane, seq, pending; ARGV: alive prefix, event ttl, alive ttl, owner, adapter, raw payload
# (JSON, or "" for none). Returns the ticket, or 0: a duplicate. A payload is journalled with the ticket.
ADMIT_SCRIPT = """
local ticket = redis.call('GET', KEYS[1])
if ticket == 'done' then return 0 end
if ticket then
  if redis.call('EXISTS', ARGV[1] .. ticket) == 1 then return 0 end
else
  if redis.call('EXISTS', KEYS[3]) == 0 then  -- a new or wiped Redis: never reuse a ticket still held
    local t = redis.call('TIME')
    redis.call('SET', KEYS[3], t[1] .. string.sub('00000' .. t[2], -6))  -- microseconds, as text
  end
  ticket = string.format('%d', redis.call('INCR', KEYS[3]))  -- as text: Lua would print 1.7e+15
  redis.call('SET', KEYS[1], ticket, 'EX', ARGV[2])
end
redis.call('SET', ARGV[1] .. ticket, ARGV[4], 'EX', ARGV[3])
redis.call('ZADD', KEYS[2], ticket, ticket)
redis.call('EXPIRE', KEYS[2], ARGV[2])
if ARGV[6] ~= '' then
  local entry = KEYS[4] .. ':' .. ticket
  redis.call('HSET', entry, 'adapter', ARGV[5], 'raw', ARGV[6], 'lane', KEYS[2], 'event', KEYS[1])
  redis.call('EXPIRE', entry, ARGV[2])
  local t = redis.call('TIME')
  redis.call('ZADD', KEYS[4], tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ticket)
end
return tonumber(ticket)
"""

# KEYS: lane, pending; ARGV: alive prefix, ticket, wait ms, owner. Drops dead tickets ahead, except one
# whose update is journalled and may still be adopted (for ``wait`` ms past its last sign of life: it
# keeps its place); returns 1 when ``ticket`` is first, -1 when another replica adopted it meanwhile.
TURN_SCRIPT = """
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #head == 0 then return 1 end
  if head[1] == ARGV[2] then
    local owner = redis.call('GET', ARGV[1] .. ARGV[2])
    if owner and owner ~= ARGV[4] then return -1 end
    return 1
  end
  if redis.call('EXISTS', ARGV[1] .. head[1]) == 1 then return 0 end
  local seen = redis.call('ZSCORE', KEYS[2], head[1])
  if seen and redis.call('EXISTS', KEYS[2] .. ':' .. head[1]) == 1 then
    local t = redis.call('TIME')
    if tonumber(t[1]) * 1000 - tonumber(seen) < tonumber(ARGV[3]) then return 0 end
  end
  redis.call('ZREM', KEYS[1], head[1])
end
"""

# KEYS: lane, alive, event (or a placeholder), pending; ARGV: ticket, done (1/0). Leaves the lane; the
# ticket's journal entry goes with it.
LEAVE_SCRIPT = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if ARGV[2] == '1' and redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('SET', KEYS[3], 'done', 'KEEPTTL')
end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[4] .. ':' .. ARGV[1])
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


class TicketTaken(RuntimeError):
    """This replica was silent so long that another one adopted its ticket: that one answers it."""


class RedisIntakeState:
    """De-duplication, conversation lanes and the intake journal, shared by every replica through Redis.

    Taking an update in (:meth:`admit`) is one blocking round trip on purpose: it has to happen before
    the webhook answers (see the module docstring). While Redis is unreachable, updates are taken in and
    ordered in this process only (nothing is lost; order across replicas is not kept then, and nothing
    is journalled).

    Args:
        url: the Redis URL (credentials and TLS as :mod:`botkit.queue.connection` describes).
        timeout_s: how long one Redis call may take before it counts as an outage.
    """

    def __init__(self, url: str, *, timeout_s: float = 1.0) -> None:
        self._sync = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        # Every waiting ticket polls its lane: at a burst, more calls than the pool's 100 connections are
        # in flight at once. They wait for a free connection (up to the timeout) instead of failing
        # with "Too many connections", which would count as an outage and give up the shared order.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            decode_responses=True,
            timeout=timeout_s,
        )
        self._async = aioredis.Redis.from_pool(pool)
        self._admit = self._sync.register_script(ADMIT_SCRIPT)
        self._turn = self._async.register_script(TURN_SCRIPT)
        self._leave = self._async.register_script(LEAVE_SCRIPT)
        self._events: dict[str, str] = {}  # ticket -> its event key, to mark it done
        self._held: dict[str, str] = {}  # ticket -> its lane key: tickets this replica keeps alive
        self._retries: set[asyncio.Task[None]] = set()  # leaves Redis did not take, tried again
        self.owner = uuid.uuid4().hex  # this replica, as its alive keys name it
        self.adopter = Adopter(
            self._async, self.owner, _ALIVE, ALIVE_TTL_S, self._held, self._taken, self._release
        )
        self._down_until = 0.0
        self._local: dict[str, asyncio.Lock] = {}

    @classmethod
    def from_settings(cls, queue: QueueSettings) -> RedisIntakeState:
        """The shared state on ``[queue] redis_url``."""
        return cls(redis_url(queue), timeout_s=queue.connect_timeout_s)

    def journal(self, adapter: str, readmit: Readmit) -> None:
        """Let this replica adopt ``adapter``'s journalled updates whose replica died (needs a running
        loop: the adapter's ``start`` calls this through :meth:`Intake.bind`)."""
        self.adopter.readmit[adapter] = readmit
        self.adopter.start()

    def admit(self, event_id: str | None, key: str, *, adapter: str = "", raw: object = None) -> str | None:
        """The update's ticket in conversation ``key``; None when a replica took it in before. ``raw``
        (the platform's payload, as JSON) is journalled for ``adapter`` until the ticket leaves its lane."""
        if time.monotonic() < self._down_until:
            return LOCAL
        event = (
            f"{PREFIX}:intake:event:{event_id}" if event_id else f"{PREFIX}:intake:once:{uuid.uuid4().hex}"
        )
        payload = "" if raw is None else json.dumps(raw, separators=(",", ":"))
        try:
            keys = [event, _lane(key), f"{PREFIX}:intake:seq", PENDING]
            args: list[str | int] = [_ALIVE, EVENT_TTL_S, ALIVE_TTL_S, self.owner, adapter, payload]
            ticket = int(self._admit(keys=keys, args=args))
        except RedisError as exc:
            self._outage(exc)
            return LOCAL
        if ticket == 0:
            return None
        self._events[str(ticket)] = event
        self._held[str(ticket)] = _lane(key)  # kept alive from now on, not only once it waits in the lane
        with contextlib.suppress(RuntimeError):  # no loop: a synchronous caller (a test); lane() starts it
            self.adopter.start()
        return str(ticket)

    @contextlib.asynccontextmanager
    async def lane(self, key: str, ticket: str) -> AsyncIterator[None]:
        """Wait until ``ticket`` is the lowest in conversation ``key``'s lane, then hold it."""
        event = self._events.pop(ticket, f"{PREFIX}:intake:none")
        if ticket == LOCAL:
            async with self._local_lock(key):
                yield
            return
        self._held[ticket] = _lane(key)
        self.adopter.start()
        done, taken = False, False
        try:
            try:
                turn = await self._wait_turn(key, ticket)
            except TicketTaken:
                taken = True  # the ticket, its lane place and its journal entry are the adopter's now
                raise
            if turn:
                yield
            else:  # Redis went away while waiting: this replica's lock keeps its own updates in order
                async with self._local_lock(key):
                    yield
            done = True
        finally:
            if taken:
                self._held.pop(ticket, None)
            else:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._give_back(ticket, _lane(key), event, done)

    async def drop(self, key: str, ticket: str) -> None:
        """Leave the lane without a turn (nothing to handle, or preparing it failed). The event is not
        marked done: a redelivery of it is taken in again, on any replica."""
        event = self._events.pop(ticket, f"{PREFIX}:intake:none")
        if ticket == LOCAL:
            return
        await self._give_back(ticket, _lane(key), event, False)

    async def _give_back(self, ticket: str, lane: str, event: str, done: bool) -> None:
        # A leave Redis did not take would leave the journal entry behind, and a replica would adopt
        # and answer the update again once its alive key lapsed: it stays held (alive) and is retried.
        self._held.pop(ticket, None)
        try:
            await self._leave(keys=[lane, _ALIVE + ticket, event, PENDING], args=[ticket, int(done)])
        except RedisError:
            self._held[ticket] = lane
            task = asyncio.get_running_loop().create_task(self._leave_later(ticket, lane, event, done))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def _leave_later(self, ticket: str, lane: str, event: str, done: bool) -> None:
        for _ in range(int(EVENT_TTL_S / RETRY_S)):
            await asyncio.sleep(RETRY_S)
            with contextlib.suppress(RedisError):
                await self._leave(keys=[lane, _ALIVE + ticket, event, PENDING], args=[ticket, int(done)])
                self._held.pop(ticket, None)
                return

    def _taken(self, ticket: str, lane: str, event: str) -> None:
        self._events[ticket] = event

    async def _release(self, ticket: str, lane: str) -> None:
        self._events.pop(ticket, None)
        await self._give_back(ticket, lane, f"{PREFIX}:intake:none", False)

    async def _wait_turn(self, key: str, ticket: str) -> bool:
        wait_ms = int((ALIVE_TTL_S + ADOPT_WAIT_S) * 1000)
        try:
            # Polled rather than notified: a replica that died while serving sends no notice either.
            while True:
                turn = await self._turn(
                    keys=[_lane(key), PENDING], args=[_ALIVE, ticket, wait_ms, self.owner]
                )
                if turn == -1:
                    raise TicketTaken(f"ticket {ticket} was taken for dead and adopted by another replica")
                if turn:
                    break
                await asyncio.sleep(POLL_S)
        except RedisError as exc:
            self._outage(exc)
            return False
        return True

    def _local_lock(self, key: str) -> asyncio.Lock:
        # Bounded by the conversations seen during outages; dropped when the state is closed.
        return self._local.setdefault(key, asyncio.Lock())

    def _outage(self, exc: Exception) -> None:
        self._down_until = time.monotonic() + OUTAGE_S
        log.warning("Redis unreachable for the shared intake (%s); conversations ordered per replica", exc)

    async def close(self) -> None:
        """Stop adopting and keeping tickets alive; close both connection pools."""
        await self.adopter.close()
        for task in list(self._retries):
            task.cancel()
        await asyncio.gather(*self._retries, return_exceptions=True)
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
