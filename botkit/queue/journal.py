"""The intake journal: an update a replica acknowledged and then died on is handled by another replica.

The webhook answers the platform as soon as an update is taken in, so the platform never sends it again.
To outlive its replica, :meth:`~botkit.queue.cluster.RedisIntakeState.admit` writes the update's raw
payload beside its ticket, in the same script (keys under ``botkit:intake:pending``):

- ``intake:pending``: a sorted set of journalled tickets, scored by their replica's last sign of life
  (Redis time in ms, refreshed with the ticket's ``lane:alive`` key);
- ``intake:pending:<ticket>``: a hash: ``adapter`` (its name), ``raw`` (the payload, JSON), ``lane`` and
  ``event`` (the ticket's keys), kept :data:`~botkit.queue.cluster.EVENT_TTL_S`.

The entry goes when the ticket leaves its lane (done or dropped). Every replica runs an :class:`Adopter`:
a ticket whose alive key is gone and whose last sign of life is older than the alive TTL is *claimed*
(its alive key set again, with ``SET NX``: one adopter wins) and its payload handed to this replica's
adapter of that name, under the same ticket, so it keeps its place in the conversation. Its platform id
and the queue's request id are the first attempt's: a reply already generated is read, not made again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from botkit.queue.protocol import PREFIX

log = logging.getLogger("botkit.queue")

PENDING = f"{PREFIX}:intake:pending"
ADOPT_EVERY_S = 1.0  # how often a replica looks for dead replicas' tickets
ADOPT_AFTER_S = 4.0  # seen dead this long (two refresh periods of its owner) before it is claimed
RETRY_S = 0.5  # a failed refresh is tried again this soon: after an outage, owners speak up before adopters
ADOPT_WAIT_S = 30.0  # a lane waits this long past the alive TTL for a dead head ticket to be adopted
SCAN_LIMIT = 100  # candidates looked at per round

#: Called with an adopted entry's payload and ticket; False when the adapter has nothing to handle in it.
Readmit = Callable[[Any, str], bool]

# KEYS: pending, alive; ARGV: owner, alive ttl, ticket. Refreshes a ticket this replica holds; 0 when
# another replica claimed it meanwhile (this one was taken for dead).
ALIVE_SCRIPT = """
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[3])
return 1
"""

# KEYS: pending; ARGV: stale ms, limit. Journalled tickets without a sign of life for ``stale`` ms.
STALE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]), 'LIMIT', 0, ARGV[2])
"""

# KEYS: pending; ARGV: alive prefix, ticket, owner, alive ttl, adapter names... Returns {1, adapter, raw,
# lane, event} when claimed; {0} alive or claimed by another, {-1} expired (dropped), {-2} not one of
# our adapters, {-3} gone (it left its lane meanwhile).
CLAIM_SCRIPT = """
local ticket = ARGV[2]
if not redis.call('ZSCORE', KEYS[1], ticket) then return {-3} end
local entry = KEYS[1] .. ':' .. ticket
if redis.call('EXISTS', entry) == 0 then
  redis.call('ZREM', KEYS[1], ticket)
  return {-1}
end
local f = redis.call('HMGET', entry, 'adapter', 'raw', 'lane', 'event')
local ours = false
for i = 5, #ARGV do if ARGV[i] == f[1] then ours = true end end
if not ours then return {-2} end
if not redis.call('SET', ARGV[1] .. ticket, ARGV[3], 'NX', 'EX', ARGV[4]) then return {0} end
local t = redis.call('TIME')
redis.call('ZADD', KEYS[1], 'XX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ticket)
redis.call('ZADD', f[3], ticket, ticket)
return {1, f[1], f[2], f[3], f[4]}
"""


class Adopter:
    """One replica's side of the journal: keeps its own tickets alive and adopts dead replicas' ones.

    Args:
        client: the replica's Redis connection (``decode_responses=True``).
        owner: this replica's id, the value of the alive keys it holds.
        alive_prefix: the alive keys' prefix (``botkit:lane:alive:``).
        alive_ttl_s: how long an alive key lives unrefreshed.
        held: ticket -> lane key of every ticket this replica holds (kept by the intake state).
        taken: called with (ticket, lane key, event key) when a ticket is adopted, before its readmit.
        release: called with (ticket, lane key) to give up an adopted ticket nobody could handle.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        owner: str,
        alive_prefix: str,
        alive_ttl_s: float,
        held: dict[str, str],
        taken: Callable[[str, str, str], None],
        release: Callable[[str, str], Awaitable[None]],
    ) -> None:
        self._redis = client
        self._owner = owner
        self._alive = alive_prefix
        self._ttl = alive_ttl_s
        self._held = held
        self._taken = taken
        self._release = release
        self._alive_script = client.register_script(ALIVE_SCRIPT)
        self._stale = client.register_script(STALE_SCRIPT)
        self._claim = client.register_script(CLAIM_SCRIPT)
        self.readmit: dict[str, Readmit] = {}  # adapter name -> its hook
        self._suspects: dict[str, float] = {}  # ticket -> when it was first seen dead (monotonic)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the two loops (once; needs a running event loop)."""
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._keep_alive()), loop.create_task(self._adopt_forever())]

    async def close(self) -> None:
        """Stop both loops."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _keep_alive(self) -> None:
        pause = self._ttl / 3
        while True:
            await asyncio.sleep(pause)
            try:
                await self.refresh()
                pause = self._ttl / 3
            except RedisError:
                pause = RETRY_S

    async def refresh(self) -> None:
        """Refresh the alive key (and journal score) of every ticket this replica holds."""
        tickets = list(self._held)
        if not tickets:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for ticket in tickets:
                await self._alive_script(
                    keys=[PENDING, self._alive + ticket],
                    args=[self._owner, int(self._ttl), ticket],
                    client=pipe,
                )
            kept = await pipe.execute()
        for ticket, ok in zip(tickets, kept, strict=True):
            if not ok and self._held.pop(ticket, None) is not None:
                log.warning("ticket %s was taken for dead and adopted by another replica", ticket)

    async def _adopt_forever(self) -> None:
        while True:
            await asyncio.sleep(ADOPT_EVERY_S)
            try:
                await self.adopt()
            except RedisError as exc:
                # After an outage every ticket looks dead (nobody could refresh it): watch afresh, so
                # that the living owners refresh theirs before anything is claimed.
                self._suspects.clear()
                log.debug("adopting dead replicas' updates skipped: %s", exc)
            except Exception:  # the loop must outlive one bad entry
                log.exception("adopting dead replicas' updates failed")

    async def adopt(self, *, after_s: float = ADOPT_AFTER_S) -> list[str]:
        """One round: claim the tickets seen dead for ``after_s`` and readmit them; returns those adopted."""
        if not self.readmit:
            return []
        stale = await self._stale(keys=[PENDING], args=[int(self._ttl * 1000), SCAN_LIMIT])
        now, adopted = time.monotonic(), []
        self._suspects = {t: self._suspects.get(t, now) for t in stale if t not in self._held}
        for ticket, since in list(self._suspects.items()):
            if now - since < after_s:
                continue
            del self._suspects[ticket]
            args: list[str | int] = [self._alive, ticket, self._owner, int(self._ttl), *self.readmit]
            answer = await self._claim(keys=[PENDING], args=args)
            if answer[0] == -1:
                log.warning("intake journal: ticket %s expired before any replica could handle it", ticket)
            if answer[0] == 1 and await self._readmit(ticket, *answer[1:]):
                adopted.append(ticket)
        return adopted

    async def _readmit(self, ticket: str, adapter: str, raw: str, lane: str, event: str) -> bool:
        self._held[ticket] = lane
        self._taken(ticket, lane, event)
        log.warning("ticket %s: its replica died before answering; %s update taken over", ticket, adapter)
        try:
            if self.readmit[adapter](json.loads(raw), ticket):
                return True
        except Exception:
            log.exception("ticket %s: the %s adapter could not take its update in again", ticket, adapter)
        await self._release(ticket, lane)
        return False
