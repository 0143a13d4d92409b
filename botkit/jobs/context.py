"""What a job sees (:class:`JobContext`), what runs jobs (:class:`JobRunner`), and how a job is named.

A job is an async plugin method ``async def remind(self, job: JobContext, *args)`` or a module-level
function with the same parameters (a plain ``def`` runs in a thread). Jobs are named, not pickled: a Celery
jobs worker loads the same plugins from the same configuration and finds the function by its name, so the
arguments must be JSON values and the function must be reachable by name (no lambda, no closure).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botkit.message import Reply, StreamingReply
from botkit.types import Store

if TYPE_CHECKING:
    from botkit.config import Settings
    from botkit.jobs.schedule import ScheduledJob

JobFunction = Callable[..., Any]
"""``(job, *args)``, async or plain; a background job returns a ``str`` or ``Reply`` to deliver, or None."""


class JobHost(Protocol):
    """Where a job runs: the bot itself (embedded) or a Celery jobs worker's stand-in for it."""

    @property
    def store(self) -> Store:
        """The conversation store."""

    @property
    def settings(self) -> Settings | None:
        """The loaded configuration."""

    async def send_to(
        self, key: str, reply: Reply | StreamingReply, *, thread_id: str | None = None
    ) -> str | None:
        """Write to the conversation with store key ``key``; the platform's message id, where it tells."""


@dataclass
class JobContext:
    """The one argument every job gets before its own.

    Attributes:
        name: the job's name, ``"plugin.method"`` (or ``"module:function"``).
        host: the bot, or the jobs worker's stand-in that forwards messages to a bot replica.
        key: the conversation that started the job (``ctx.later``, ``ctx.background``); None when scheduled.
        thread_id: that conversation's thread, if any.
        scheduled_at: the tick a scheduled job runs for (Unix time), else None.
        job_id: this run's id (background and one-off jobs).
    """

    name: str
    host: JobHost
    key: str | None = None
    thread_id: str | None = None
    scheduled_at: float | None = None
    job_id: str | None = None

    @property
    def store(self) -> Store:
        """The conversation store."""
        return self.host.store

    @property
    def settings(self) -> Settings | None:
        """The loaded configuration."""
        return self.host.settings

    async def send_to(self, key: str, reply: Reply | str, *, thread_id: str | None = None) -> None:
        """Write to any conversation by its store key (see ``Bot.send_to`` for the errors)."""
        await self.host.send_to(key, Reply(reply) if isinstance(reply, str) else reply, thread_id=thread_id)

    async def reply(self, reply: Reply | str) -> None:
        """Write to the conversation that started this job.

        Raises:
            LookupError: a scheduled job has no conversation of its own; use :meth:`send_to`.
        """
        if self.key is None:
            raise LookupError(
                f"job {self.name} was not started from a conversation; use job.send_to(key, ...)"
            )
        await self.send_to(self.key, reply, thread_id=self.thread_id)


class JobRunner(Protocol):
    """Runs a bot's jobs: in-process (:class:`botkit.jobs.local.LocalJobs`) or on Celery."""

    async def start(self, scheduled: Sequence[ScheduledJob]) -> None:
        """Begin running ``scheduled`` (the plugins' ``@every``/``@at`` methods)."""

    async def stop(self) -> None:
        """Stop the schedule and cancel what still runs in this process."""

    async def later(
        self, delay: float, fn: JobFunction, args: Sequence[Any], *, key: str, thread_id: str | None
    ) -> str:
        """Run ``fn(job, *args)`` once after ``delay`` seconds; returns the job's id."""

    async def background(
        self, fn: JobFunction, args: Sequence[Any], *, key: str, thread_id: str | None
    ) -> str:
        """Run ``fn(job, *args)`` now, off the chat path, and deliver its result to ``key``."""


def job_name(fn: JobFunction) -> str:
    """The name a jobs worker finds ``fn`` by: ``"plugin.method"`` or ``"module:function"``.

    Raises:
        TypeError: ``fn`` is a lambda, a closure or another callable that has no such name.
    """
    owner = getattr(fn, "__self__", None)
    if owner is not None and isinstance(getattr(type(owner), "name", None), str):
        method = getattr(fn, "__name__", "")
        if getattr(owner, method, None) == fn:
            return f"{type(owner).name}.{method}"
    qualname = getattr(fn, "__qualname__", "")
    module = getattr(fn, "__module__", None)
    if inspect.isfunction(fn) and module and "<" not in qualname and "." not in qualname:
        return f"{module}:{qualname}"
    raise TypeError(
        "a job must be a plugin method or a module-level function (a jobs worker finds it by name), "
        f"not {fn!r}"
    )


def check_args(name: str, args: Sequence[Any]) -> list[Any]:
    """``args`` as a JSON-ready list: they travel to a jobs worker as JSON.

    Raises:
        TypeError: an argument is not a JSON value (str, number, bool, None, list, dict).
    """
    try:
        return list(json.loads(json.dumps(list(args))))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the arguments of job {name} must be JSON values: {exc}") from None


async def call_job(fn: JobFunction, job: JobContext, args: Sequence[Any]) -> Any:
    """Call ``fn(job, *args)``: awaited when async, in a thread when plain (so the chat is not blocked)."""
    if inspect.iscoroutinefunction(fn):
        return await fn(job, *args)
    import asyncio

    result = await asyncio.to_thread(fn, job, *args)
    if isinstance(result, Awaitable):
        return await result
    return result


def result_reply(name: str, result: object) -> Reply | None:
    """What a background job's return value delivers: a ``Reply``, text, or nothing for None.

    Raises:
        TypeError: the job returned something else.
    """
    if result is None or isinstance(result, Reply):
        return result
    if isinstance(result, str):
        return Reply(result)
    raise TypeError(f"background job {name} returned {type(result).__name__}; return a str, a Reply or None")
