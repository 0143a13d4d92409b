"""The bot replica's side of Celery jobs (``queue.backend = "celery"``).

:class:`CeleryJobs` takes the place of the in-process runner: ``ctx.later`` and ``ctx.background`` become
tasks on ``queue.jobs_queue`` (never the inference queue), the ``@every``/``@at`` methods are left to the
one ``botkit beat`` process, and the replica reads the outbox so that what jobs write reaches the chat.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from botkit.jobs.context import JobFunction, check_args, job_name
from botkit.jobs.schedule import ScheduledJob
from botkit.message import Reply, StreamingReply
from botkit.queue.app import make_celery
from botkit.queue.jobs_outbox import OutboxReader
from botkit.queue.protocol import redis_url

if TYPE_CHECKING:
    from celery import Celery

    from botkit.config import Settings
    from botkit.plugin import BotView

log = logging.getLogger("botkit.jobs")

BACKGROUND_TASK = "botkit.jobs.background"
LATER_TASK = "botkit.jobs.later"
SCHEDULED_TASK = "botkit.jobs.scheduled"


class CeleryJobs:
    """Sends a bot's one-off and background jobs to the jobs queue and delivers what jobs write.

    Args:
        bot: the bot whose adapters deliver outbox messages.
        settings: where Redis and the jobs queue are.
        deliver: read the outbox (a bot replica); False on a jobs worker, which has no adapters.
    """

    def __init__(self, bot: BotView, settings: Settings, *, deliver: bool = True) -> None:
        self.bot = bot
        self.settings = settings
        self.deliver = deliver
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._celery: Celery | None = None
        self._outbox: OutboxReader | None = None
        self._reader: asyncio.Task[None] | None = None

    async def start(self, scheduled: Sequence[ScheduledJob]) -> None:
        """Start reading the outbox; ``scheduled`` is beat's to run, not this replica's."""
        if self.deliver and self._reader is None:
            self._outbox = OutboxReader(redis_url(self.settings.queue), self._send, self.consumer)
            self._reader = asyncio.create_task(self._outbox.run(), name="botkit outbox")

    async def stop(self) -> None:
        """Stop reading the outbox (a message being delivered is finished first)."""
        if self._reader is not None and self._outbox is not None:
            await self._outbox.stop()
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), timeout=5.0)
            except TimeoutError:
                self._reader.cancel()
                log.warning("outbox reader did not stop within 5 s; cancelled")
            except Exception:
                log.exception("outbox reader failed")
            self._reader = self._outbox = None

    async def later(
        self, delay: float, fn: JobFunction, args: Sequence[Any], *, key: str, thread_id: str | None
    ) -> str:
        return await self._send_task(LATER_TASK, fn, args, key, thread_id, countdown=delay)

    async def background(
        self, fn: JobFunction, args: Sequence[Any], *, key: str, thread_id: str | None
    ) -> str:
        return await self._send_task(BACKGROUND_TASK, fn, args, key, thread_id)

    async def _send_task(
        self,
        task: str,
        fn: JobFunction,
        args: Sequence[Any],
        key: str,
        thread_id: str | None,
        countdown: float | None = None,
    ) -> str:
        name = job_name(fn)
        values = check_args(name, args)
        job_id = uuid.uuid4().hex[:12]
        if self._celery is None:
            self._celery = make_celery(self.settings, role="client")
        celery = self._celery
        await asyncio.to_thread(  # publishing blocks on the broker: keep it off the event loop
            celery.send_task,
            task,
            args=[name, values, key, thread_id, job_id],
            queue=self.settings.queue.jobs_queue,
            countdown=countdown,
        )
        return job_id

    async def _send(self, key: str, reply: Reply | StreamingReply, thread_id: str | None) -> None:
        await self.bot.send_to(key, reply, thread_id=thread_id)
