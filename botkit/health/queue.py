"""The checks of ``botkit health`` that ask Redis and Celery: Redis accepts botkit's credentials, an
inference worker is alive (for the bot), this host's worker is (for the worker itself).

Alive, for readiness, is first a fresh heartbeat: the key every inference worker's heartbeat thread keeps
setting with a short TTL once its model is loaded (:mod:`botkit.queue.heartbeat`), found with one ``SCAN``
in milliseconds. Without one, a Celery broadcast asks the workers themselves (which queues they consume,
or a ping to one node), which costs up to the check's timeout. Liveness always pings: a heartbeat thread
can beat on while the worker's Celery loop is stuck.

Celery and redis-py are imported inside the functions: a bot without the ``queue`` extra (the embedded
default) runs ``botkit health`` without them.
"""

from __future__ import annotations

import re
import socket
import time
from typing import TYPE_CHECKING, Any

from botkit.health.checks import TIMEOUT_S, Failed, one_line

if TYPE_CHECKING:
    from celery import Celery

    from botkit.config import Settings


def default_node() -> str:
    """The Celery node name ``botkit worker`` takes without ``--hostname``: ``botkit-worker@HOST``."""
    return f"botkit-worker@{socket.gethostname()}"


def check_redis(settings: Settings, timeout_s: float = TIMEOUT_S) -> str:
    """Redis at ``[queue] redis_url`` answers within ``timeout_s`` and accepts botkit's credentials.

    Raises:
        Failed: not reachable, or refusing the credentials (the password never shown).
    """
    import redis
    from redis.exceptions import RedisError

    from botkit.queue.connection import is_refusal, is_untrusted, redact, refusal
    from botkit.queue.protocol import redis_url

    url = redis_url(settings.queue)
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    try:
        client.ping()
    except RedisError as exc:
        if is_refusal(exc):
            raise Failed(refusal(url, exc)) from None
        if is_untrusted(exc):
            raise Failed(f"Redis at {redact(url)} presented a certificate that cannot be verified") from None
        raise Failed(f"Redis at {redact(url)} is not reachable ({one_line(exc)})") from None
    finally:
        client.close()
    return f"Redis at {redact(url)} accepts botkit's credentials"


def heartbeats(settings: Settings, host: str = "*", timeout_s: float = TIMEOUT_S, most: int = 8) -> list[str]:
    """The workers (``host:pid``) on ``host`` (``*``: any) whose heartbeat key is set, at most ``most``.

    Raises:
        Failed: Redis did not answer.
    """
    import redis
    from redis.exceptions import RedisError

    from botkit.queue.protocol import HEARTBEAT_PREFIX, HEARTBEAT_SUFFIX, redis_url

    escaped = host if host == "*" else re.sub(r"([*?\[\]\\])", r"\\\1", host)
    pattern = f"{HEARTBEAT_PREFIX}{escaped}:*{HEARTBEAT_SUFFIX}"
    client = redis.Redis.from_url(
        redis_url(settings.queue), socket_connect_timeout=timeout_s, socket_timeout=timeout_s
    )
    found: list[str] = []
    deadline = time.monotonic() + timeout_s  # a large keyspace takes many SCAN round trips
    cursor = 0
    try:
        while True:
            cursor, keys = client.scan(cursor, match=pattern, count=1000)
            names = [key.decode() if isinstance(key, bytes) else key for key in keys]
            found += [name[len(HEARTBEAT_PREFIX) : -len(HEARTBEAT_SUFFIX)] for name in names]
            if cursor == 0 or len(found) >= most or time.monotonic() > deadline:
                break
    except RedisError as exc:
        raise Failed(f"could not look for heartbeats: {one_line(exc)}") from None
    finally:
        client.close()
    return sorted(found)[:most]


def check_workers(settings: Settings, timeout_s: float = TIMEOUT_S) -> str:
    """At least one inference worker is alive: one has a fresh heartbeat, else one consuming ``[queue]
    inference_queue`` answers a broadcast within ``timeout_s`` (every worker, the jobs workers too, gets
    that long to say which queues it consumes, so the fallback always takes it).

    Raises:
        Failed: no heartbeat, and none answered.
    """
    alive = heartbeats(settings, "*", timeout_s)
    if alive:
        return (
            f"{len(alive)}{'+' if len(alive) >= 8 else ''} inference worker(s) with a fresh heartbeat: "
            + (", ".join(alive[:4]))
        )
    queue = settings.queue.inference_queue
    app = _celery(settings)
    try:
        inspect = app.control.inspect(timeout=timeout_s)
        replies: dict[str, list[Any]] = inspect.active_queues() or {}
    except Exception as exc:  # kombu's errors have no common base; any of them means "not reachable"
        raise Failed(f"could not ask the workers: {one_line(exc)}") from None
    finally:
        app.close()
    nodes = sorted(node for node, queues in replies.items() if any(q.get("name") == queue for q in queues))
    if not nodes:
        others = f" ({len(replies)} other worker(s) answered)" if replies else ""
        raise Failed(
            f"no inference worker has a heartbeat, and none consuming {queue!r} answered within "
            f"{timeout_s:g} s{others}; "
            "replies would wait: start one with botkit worker"
        )
    return f"{len(nodes)} inference worker(s) consuming {queue!r} answer: {', '.join(nodes[:4])}"


def check_worker(settings: Settings, node: str | None, timeout_s: float = TIMEOUT_S) -> str:
    """Readiness: this host's worker has a fresh heartbeat (the host: the part of ``node`` after ``@``), or
    else its Celery node ``node`` (default :func:`default_node`) answers a ping.

    Raises:
        Failed: neither within ``timeout_s`` (not started yet, loading its model, or stuck).
    """
    node = node or default_node()
    host = node.rpartition("@")[2]
    alive = heartbeats(settings, host, timeout_s)
    if alive:
        return f"worker {alive[0]} has a fresh heartbeat"
    try:
        return ping(settings, node, timeout_s)
    except Failed as exc:
        raise Failed(f"no worker on {host} has a fresh heartbeat, and {exc}") from None


def ping(settings: Settings, node: str, timeout_s: float = TIMEOUT_S) -> str:
    """The Celery node ``node`` answers a ping within ``timeout_s``.

    Raises:
        Failed: it did not.
    """
    app = _celery(settings)
    try:
        # With a destination Celery returns as soon as that node replied.
        replies = app.control.ping(destination=[node], timeout=timeout_s)
    except Exception as exc:  # kombu's errors have no common base
        raise Failed(f"could not ping {node}: {one_line(exc)}") from None
    finally:
        app.close()
    if not any(node in reply for reply in replies or []):
        raise Failed(
            f"worker {node} did not answer a ping within {timeout_s:g} s (starting, loading its model, "
            "stuck, or started with another --hostname)"
        )
    return f"worker {node} answers"


def check_worker_alive(settings: Settings, node: str | None, timeout_s: float = TIMEOUT_S) -> str:
    """Liveness: the worker's own loop answers a ping. Asking goes through Redis, so while Redis is
    down the worker cannot be asked and passes: restarting it would not bring Redis back.

    Raises:
        Failed: Redis answers but the worker does not.
    """
    try:
        check_redis(settings, timeout_s)
    except Failed as exc:
        return f"not asked: {exc} (readiness fails; a restart would not help)"
    return ping(settings, node or default_node(), timeout_s)


def _celery(settings: Settings) -> Celery:
    from botkit.queue.app import make_celery

    return make_celery(settings)
