"""The embedded job runner (``queue.backend = "local"``): an asyncio scheduler inside the bot process.

Started and stopped with the bot. Each ``@every``/``@at`` job has one loop that sleeps until its next tick
and then starts the run as its own task, so a slow job does not shift the schedule; a tick that comes
while the previous run still works is skipped with a warning rather than piling runs up. A job that
raises is logged with its name and its schedule goes on. Every task is tracked and cancelled on stop.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine, Sequence
from typing import Any

from botkit.jobs.clock import Clock, SystemClock
from botkit.jobs.context import (
    JobContext,
    JobFunction,
    JobHost,
    call_job,
    check_args,
    job_name,
    result_reply,
)
from botkit.jobs.schedule import ScheduledJob

log = logging.getLogger("botkit.jobs")

FAILED = "Sorry, the background job {name} failed (error {error_id})."


class LocalJobs:
    """Runs a bot's jobs in its own event loop.

    Args:
        host: the bot (its store, settings and ``send_to``).
        clock: the system clock by default; a :class:`~botkit.jobs.clock.ManualClock` in tests.
    """

    def __init__(self, host: JobHost, *, clock: Clock | None = None) -> None:
        self.host = host
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running: dict[str, asyncio.Task[Any]] = {}

    async def start(self, scheduled: Sequence[ScheduledJob]) -> None:
        """Start one loop per scheduled job."""
        for job in scheduled:
            self._spawn(self._loop(job), f"schedule {job.name}")

    async def stop(self) -> None:
        """Cancel every loop and every job still running, and wait until they have stopped."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._running.clear()

    async def idle(self) -> None:
        """Wait until no job runs (the schedule loops, which never end, are not waited for)."""
        while running := [t for t in self._running.values() if not t.done()]:
            await asyncio.gather(*running, return_exceptions=True)

    async def later(
        self, delay: float, fn: JobFunction, args: Sequence[Any], *, key: str, thread_id: str | None
    ) -> str:
        name, values, job_id = job_name(fn), check_args(job_name(fn), args), uuid.uuid4().hex[:12]
        job = JobContext(name, self.host, key=key, thread_id=thread_id, job_id=job_id)
        self._run(job_id, self._later(self.clock.now() + delay, fn, job, values))
        return job_id

    async def background(
        self, fn: JobFunction, args: Sequence[Any], *, key: str, thread_id: str | None
    ) -> str:
        name, values, job_id = job_name(fn), check_args(job_name(fn), args), uuid.uuid4().hex[:12]
        job = JobContext(name, self.host, key=key, thread_id=thread_id, job_id=job_id)
        self._run(job_id, deliver_background(fn, job, values))
        return job_id

    # -- internals ---------------------------------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _run(self, run_id: str, coro: Coroutine[Any, Any, Any]) -> None:
        task = self._spawn(coro, run_id)
        self._running[run_id] = task
        task.add_done_callback(lambda _: self._running.pop(run_id, None))

    async def _loop(self, job: ScheduledJob) -> None:
        tick = self.clock.now()
        while True:
            # From the later of the last tick and now: a loop that woke late (a suspended machine, a
            # blocked event loop) skips the ticks it missed instead of running them back to back.
            tick = job.spec.schedule.next_after(max(tick, self.clock.now()))
            await self.clock.sleep_until(tick)
            previous = self._running.get(job.name)
            if previous is not None and not previous.done():
                log.warning("job %s is still running; its tick at %.0f is skipped", job.name, tick)
                continue
            context = JobContext(job.name, self.host, scheduled_at=tick)
            self._run(job.name, run_scheduled(job, context))

    async def _later(self, when: float, fn: JobFunction, job: JobContext, args: list[Any]) -> None:
        await self.clock.sleep_until(when)
        try:
            await call_job(fn, job, args)
        except Exception as exc:
            log.error("job %s (%s) failed", job.name, job.job_id, exc_info=exc, extra={"job": job.name})


async def run_scheduled(job: ScheduledJob, context: JobContext) -> None:
    """Run one tick of ``job``; a failure is logged with the job's name (``record.job``), never raised."""
    try:
        await call_job(job.func, context, ())
    except Exception as exc:
        log.error(
            "job %s failed at its tick %.0f",
            job.name,
            context.scheduled_at or 0,
            exc_info=exc,
            extra={"job": job.name},
        )


async def deliver_background(fn: JobFunction, job: JobContext, args: Sequence[Any]) -> None:
    """Run a background job and deliver its result (or a clear failure message) to its conversation."""
    assert job.key is not None, "a background job always has a conversation"
    try:
        reply = result_reply(job.name, await call_job(fn, job, args))
    except Exception as exc:
        error_id = job.job_id or uuid.uuid4().hex[:12]
        log.error("background job %s (%s) failed", job.name, error_id, exc_info=exc, extra={"job": job.name})
        reply = None
        try:
            await job.reply(FAILED.format(name=job.name, error_id=error_id))
        except Exception:
            log.exception("could not tell %s that background job %s failed", job.key, job.name)
        return
    if reply is not None:
        try:
            await job.reply(reply)
        except Exception:
            log.exception("could not deliver the result of background job %s to %s", job.name, job.key)
