"""What the bot and the workers agree on: task names, Redis keys, and the records of a reply stream.

One request id names everything about one request. Its reply is a Redis stream (``XADD``) rather than a
pub/sub channel, so a subscriber that attaches late (a duplicate request, a reconnecting bot) still reads
every record from the start. Records are flat string maps:

- ``{"t": "start", "a": attempt, "w": worker}``: a worker began (``a`` grows when a task is redelivered);
- ``{"t": "delta", "a": attempt, "d": text}``: more text, coalesced;
- ``{"t": "final", "a": attempt, "text": ..., "finish_reason": ..., "prompt_tokens": ..., ...}``;
- ``{"t": "error", "a": attempt, "kind": "timeout" | "too_long" | "busy" | "failed", "message": ...}``
  (``busy``: Redis failed under the worker mid-reply, a queue fault the user hears as "busy").

Only the attempt holding the request's lock writes, and only into a stream that exists (a script checks both
on every write), so after Redis loses its data nobody writes a reply without its start record. A reader
trusts a record only after that attempt's ``start``; a new ``start`` means the text shown so far is
replaced by the new attempt's. A live worker keeps a heartbeat key; a waiting client whose request's lock
holder has no heartbeat any more re-queues the request at once (see :mod:`botkit.queue.heartbeat`).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botkit.config import QueueSettings

GENERATE_TASK = "botkit.generate"
PREFIX = "botkit"
MODEL_INFO_KEY = f"{PREFIX}:model:info"  # hash: context_window and the tokenizer files, set by workers
REDIS_URL_ALIAS = "BOTKIT_REDIS_URL"


def request_id(key: str | None) -> str:
    """A request id: derived from the idempotency ``key`` (same key, same id), else random."""
    if key is None:
        return uuid.uuid4().hex
    return "k" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:31]


def seed_for(rid: str) -> int:
    """The sampling seed of an unseeded request: fixed per request, so a redelivered task rewrites the
    same text and the client can drop the part it already showed."""
    return int(hashlib.sha256(rid.encode("ascii")).hexdigest()[:8], 16) & 0x7FFFFFFF


def redis_url(queue: QueueSettings) -> str:
    """``queue.redis_url``, unless only the short ``BOTKIT_REDIS_URL`` alias was set."""
    alias = os.environ.get(REDIS_URL_ALIAS)
    if alias and "redis_url" not in queue.model_fields_set:
        return alias
    return queue.redis_url


@dataclass(frozen=True)
class RequestKeys:
    """The Redis keys of one request."""

    rid: str

    @property
    def stream(self) -> str:
        """The reply stream (records described in the module docstring)."""
        return f"{PREFIX}:req:{self.rid}:stream"

    @property
    def claim(self) -> str:
        """SET NX by the first client to submit; a duplicate finds it taken and only reads the stream."""
        return f"{PREFIX}:req:{self.rid}:claim"

    @property
    def lock(self) -> str:
        """Held by the generating attempt ("worker|nonce") and refreshed while it runs; a worker writes to the
        stream only while it holds it, and one whose heartbeat is gone loses it to the next claim."""
        return f"{PREFIX}:req:{self.rid}:lock"

    @property
    def attempts(self) -> str:
        """INCR per generation attempt (a redelivery after a crash is attempt 2)."""
        return f"{PREFIX}:req:{self.rid}:attempts"

    @property
    def requeued(self) -> str:
        """The attempt whose dead worker's request a waiting client has re-queued already."""
        return f"{PREFIX}:req:{self.rid}:requeued"


# A worker's heartbeat key is HEARTBEAT_PREFIX + worker name + HEARTBEAT_SUFFIX (set with a short TTL by a
# thread of that worker); a lock's value is "worker|nonce", so scripts can find the holder's heartbeat.
HEARTBEAT_PREFIX = f"{PREFIX}:worker:"
HEARTBEAT_SUFFIX = ":alive"
WORKERS_ALIVE_KEY = f"{PREFIX}:workers:alive"  # set by every worker's heartbeat: some worker is alive

# A Lua helper: the value of field ``name`` in a stream entry's flat field list (nil when absent).
_FIELD = """
local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end
"""

# Whether the stream's last record ends the reply: "stored" when it is that attempt's final or error record
# *and* the attempt's start record is in the stream, "orphan" when it ends a stream that lacks the start (a
# worker wrote after Redis lost the stream: never a reply), "" otherwise.
_STORED = """
local function stored(stream)
  local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)
  if #last == 0 then return '' end
  local kind = field(last[1][2], 't')
  if kind ~= 'final' and kind ~= 'error' then return '' end
  local attempt = field(last[1][2], 'a')
  for _, entry in ipairs(redis.call('XRANGE', stream, '-', '+')) do
    if field(entry[2], 't') == 'start' and field(entry[2], 'a') == attempt then return 'stored' end
  end
  return 'orphan'
end

local function alive(holder, prefix, suffix)
  local owner = string.match(holder, '^(.*)|')
  return owner ~= nil and redis.call('EXISTS', prefix .. owner .. suffix) == 1
end
"""

# Claim a request for one generation attempt, in one round trip (KEYS: stream, lock, attempts; ARGV: lock
# value "worker|nonce", lock ttl, result ttl, heartbeat prefix, heartbeat suffix). Returns 0 when the reply is
# already stored, -1 when a live worker holds the lock, else the new attempt number (after writing that
# attempt's "start" record). A lock whose holder's heartbeat is gone is taken over at once, without waiting
# for the lock to expire; a stream that ends without its start record is dropped first.
CLAIM_SCRIPT = (
    _FIELD
    + _STORED
    + """
local state = stored(KEYS[1])
if state == 'stored' then return 0 end
if state == 'orphan' then redis.call('DEL', KEYS[1]) end
local holder = redis.call('GET', KEYS[2])
if holder and alive(holder, ARGV[4], ARGV[5]) then return -1 end
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
local attempt = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
local worker = string.match(ARGV[1], '^(.*)|') or ARGV[1]
redis.call('XADD', KEYS[1], '*', 't', 'start', 'w', worker, 'a', attempt)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return attempt
"""
)

# Append one record for the attempt holding the lock (KEYS: stream, lock; ARGV: lock value, stream ttl,
# then field, value, ...). Returns 0 and writes nothing when the lock is no longer this attempt's or the
# stream is gone (Redis lost its data, or another worker took over): the worker then stops writing.
WRITE_SCRIPT = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

# Refresh the lock only if this attempt still holds it (KEYS: lock; ARGV: lock value, ttl); 0 when lost.
# (``SET XX`` would silently re-take a lock that expired or was wiped, and hide that it was lost.)
REFRESH_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# Release the lock only if this attempt still holds it (KEYS: lock; ARGV: lock value).
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# What a waiting client learns about its request in one round trip (KEYS: claim, stream, lock, attempts,
# requeued, WORKERS_ALIVE_KEY; ARGV: heartbeat prefix, heartbeat suffix, result ttl):
# "gone" (the claim vanished: Redis lost its data), "done" (the reply is stored), "queued" (not started),
# "running" (a live worker generates it), "requeued" (its worker died and it was re-queued already), or
# "requeue" (its worker died just now: the caller re-queues it; only one caller gets this per attempt).
# The last three end in " nobody" while no worker at all has a heartbeat.
WATCH_SCRIPT = (
    _FIELD
    + _STORED
    + """
local function state()
  if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
  if stored(KEYS[2]) == 'stored' then return 'done' end
  local holder = redis.call('GET', KEYS[3])
  if holder then
    if alive(holder, ARGV[1], ARGV[2]) then return 'running' end
  elseif redis.call('EXISTS', KEYS[2]) == 0 then
    return 'queued'
  end
  local attempt = redis.call('GET', KEYS[4]) or '0'
  if redis.call('GET', KEYS[5]) == attempt then return 'requeued' end
  redis.call('SET', KEYS[5], attempt, 'EX', ARGV[3])
  return 'requeue'
end
local found = state()
if found ~= 'gone' and found ~= 'done' and found ~= 'running' and redis.call('EXISTS', KEYS[6]) == 0 then
  return found .. ' nobody'
end
return found
"""
)


def heartbeat_key(worker: str) -> str:
    """The key a live worker keeps setting with a short TTL (see :mod:`botkit.queue.heartbeat`)."""
    return f"{HEARTBEAT_PREFIX}{worker}{HEARTBEAT_SUFFIX}"
