"""What the bot and the workers agree on: task names, Redis keys, and the records of a reply stream.

One request id names everything about one request. Its reply is a Redis stream (``XADD``) rather than a
pub/sub channel, so a subscriber that attaches late (a duplicate request, a reconnecting bot) still reads
every record from the start. Records are flat string maps:

- ``{"t": "start", "a": attempt, "w": worker}``: a worker began (``a`` grows when a task is redelivered);
- ``{"t": "delta", "a": attempt, "d": text}``: more text, coalesced;
- ``{"t": "final", "a": attempt, "text": ..., "finish_reason": ..., "prompt_tokens": ..., ...}``;
- ``{"t": "error", "a": attempt, "kind": "timeout" | "too_long" | "failed", "message": ...}``.
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
        """SET NX by the generating worker and refreshed while it runs; expires if the worker dies."""
        return f"{PREFIX}:req:{self.rid}:lock"

    @property
    def attempts(self) -> str:
        """INCR per generation attempt (a redelivery after a crash is attempt 2)."""
        return f"{PREFIX}:req:{self.rid}:attempts"


# Claim a request for one generation attempt, in one round trip (KEYS: stream, lock, attempts; ARGV:
# worker, lock ttl, result ttl). Returns 0 when the reply is already stored, -1 when a live worker holds
# the lock, else the new attempt number (after writing that attempt's "start" record).
CLAIM_SCRIPT = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #last > 0 then
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 't' and (fields[i + 1] == 'final' or fields[i + 1] == 'error') then return 0 end
  end
end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2]) then return -1 end
local attempt = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('XADD', KEYS[1], '*', 't', 'start', 'w', ARGV[1], 'a', attempt)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return attempt
"""

# Release the lock only if this worker still holds it (KEYS: lock; ARGV: worker).
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
