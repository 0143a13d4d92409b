"""``botkit jobs``: the Celery worker that runs plugins' jobs, on ``queue.jobs_queue`` only.

It loads the bot's plugins from the same configuration as the bot (and runs their ``setup``, so a job
finds what its plugin opened) and finds each job by name. Jobs run on one asyncio loop in a thread of
their own; Celery's task threads hand them over and wait. What a job writes to a conversation goes to
the outbox (:mod:`botkit.queue.jobs_outbox`), which a bot replica delivers. No model is loaded here.

A one-off job (``ctx.later``) waits in the worker until its time; Redis may hand it to a second worker
after ``queue.visibility_timeout_s``, so each run first claims its id (``SET NX``) and a copy finding
the claim taken does nothing: one-off and background jobs run at most once.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import threading
from collections.abc import Coroutine, Sequence
from typing import Any

import redis
import redis.asyncio as aioredis

from botkit.app import Bot
from botkit.config import Settings
from botkit.db import database_url, open_engine
from botkit.discovery import load_plugins
from botkit.jobs.context import JobContext, JobFunction, call_job
from botkit.jobs.local import deliver_background, run_scheduled
from botkit.message import Reply, StreamingReply
from botkit.queue.app import make_celery
from botkit.queue.connection import QueueRefused, check_queue
from botkit.queue.jobs_client import BACKGROUND_TASK, LATER_TASK, SCHEDULED_TASK, CeleryJobs
from botkit.queue.jobs_outbox import post
from botkit.queue.protocol import PREFIX, redis_url
from botkit.stores import MemoryStore, SqlStore
from botkit.types import Store

log = logging.getLogger("botkit.jobs")

CLAIM_TTL_S = 7 * 86400


class JobsHost:
    """What a job sees on the worker in place of the bot: the store, the settings, and the outbox."""

    def __init__(self, bot: Bot, client: aioredis.Redis) -> None:
        self.bot = bot
        self.client = client

    @property
    def store(self) -> Store:
        return self.bot.store

    @property
    def settings(self) -> Settings | None:
        return self.bot.settings

    async def send_to(self, key: str, reply: Reply | StreamingReply, *, thread_id: str | None = None) -> None:
        if isinstance(reply, StreamingReply):
            reply = Reply("".join([delta async for delta in reply.deltas]), reply.buttons)
        await post(self.client, key, reply, thread_id)


class JobsRuntime:
    """The worker's bot and the event loop its jobs run on."""

    def __init__(self, settings: Settings) -> None:
        report = load_plugins(
            settings.plugins,
            discover=settings.discover_plugins,
            disabled=settings.disabled_plugins,
            search_path=settings.plugin_search_path(),
        )
        for source, reason in report.errors.items():
            log.error("plugin %s was not loaded: %s", source, reason)
        # The store the runtime would build (botkit.runtime.build_store lies a layer above the queue).
        store: Store = (
            MemoryStore() if settings.store == "memory" else SqlStore(open_engine(database_url(settings)))
        )
        self.bot = Bot(report.plugins, store=store, settings=settings)
        self.bot.jobs = CeleryJobs(self.bot, settings, deliver=False)  # beat schedules; bots deliver
        self.url = redis_url(settings.queue)
        self.claims = redis.Redis.from_url(self.url)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="botkit jobs loop", daemon=True)
        self.thread.start()
        self.host = JobsHost(self.bot, self.run(self._client()))
        self.run(self.bot.start())

    async def _client(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.url, decode_responses=True)

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run ``coro`` on the jobs loop and wait for its result (called from Celery's task threads)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        self.run(self.bot.stop())
        self.run(self.host.client.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.claims.close()

    def claim(self, job_id: str) -> bool:
        """True for the first run of ``job_id``; a redelivered copy gets False."""
        return bool(self.claims.set(f"{PREFIX}:jobs:claim:{job_id}", 1, nx=True, ex=CLAIM_TTL_S))

    def function(self, name: str) -> JobFunction:
        """The job function called ``name``: ``"plugin.method"`` of a loaded plugin or ``"module:function"``.

        Raises:
            LookupError: no loaded plugin or importable module has it.
        """
        if ":" in name:
            import importlib

            module, _, function = name.partition(":")
            found: JobFunction = getattr(importlib.import_module(module), function)
            return found
        plugin_name, _, method = name.partition(".")
        for plugin in self.bot.plugins:
            if plugin.name == plugin_name and callable(getattr(plugin, method, None)):
                bound: JobFunction = getattr(plugin, method)
                return bound
        raise LookupError(f"job {name}: no loaded plugin {plugin_name!r} with a method {method!r}")

    async def scheduled(self, name: str, tick: float) -> None:
        """Run the tick ``tick`` of the scheduled job ``name``; a failure is logged with its name."""
        job = next((j for p in self.bot.plugins for j in p.jobs() if j.name == name), None)
        if job is None:
            log.error("job %s: no loaded plugin schedules it (is the worker's config the bot's?)", name)
            return
        await run_scheduled(job, JobContext(name, self.host, scheduled_at=tick))

    async def one_off(
        self, name: str, args: Sequence[Any], key: str, thread: str | None, job_id: str
    ) -> None:
        """Run a ``ctx.later`` job; a failure is logged with its name."""
        job = JobContext(name, self.host, key=key, thread_id=thread, job_id=job_id)
        try:
            await call_job(self.function(name), job, args)
        except Exception as exc:
            log.error("job %s (%s) failed", name, job_id, exc_info=exc, extra={"job": name})

    async def background(
        self, name: str, args: Sequence[Any], key: str, thread: str | None, job_id: str
    ) -> None:
        """Run a ``ctx.background`` job and deliver its result, or a failure message, to ``key``."""
        job = JobContext(name, self.host, key=key, thread_id=thread, job_id=job_id)
        try:
            fn = self.function(name)
        except LookupError as exc:
            fn = _raiser(exc)
        await deliver_background(fn, job, args)


def _raiser(exc: Exception) -> JobFunction:
    async def fail(job: JobContext, *args: Any) -> None:
        raise exc

    return fail


def run(args: argparse.Namespace) -> int:
    """``botkit jobs``: serve the jobs queue until stopped; returns the exit status."""
    from botkit.config import ConfigError, load_settings

    try:
        settings = load_settings(args.config)
        check_queue(settings.queue)
    except (ConfigError, QueueRefused) as exc:
        print(f"botkit jobs: {exc}", file=sys.stderr)
        return 2
    app = make_celery(settings, role="worker")
    runtime = JobsRuntime(settings)

    @app.task(name=SCHEDULED_TASK, ignore_result=True)
    def scheduled(name: str, scheduled: float) -> None:
        runtime.run(runtime.scheduled(name, scheduled))

    @app.task(name=LATER_TASK, ignore_result=True)
    def later(name: str, args: list[Any], key: str, thread: str | None, job_id: str) -> None:
        if runtime.claim(job_id):
            runtime.run(runtime.one_off(name, args, key, thread, job_id))

    @app.task(name=BACKGROUND_TASK, ignore_result=True)
    def background(name: str, args: list[Any], key: str, thread: str | None, job_id: str) -> None:
        if runtime.claim(job_id):
            runtime.run(runtime.background(name, args, key, thread, job_id))

    argv = [
        "worker",
        "--pool=threads",
        f"--concurrency={args.concurrency}",
        f"--queues={settings.queue.jobs_queue}",  # only the jobs queue: never an inference request
        f"--loglevel={args.loglevel}",
        f"--hostname={args.hostname or 'botkit-jobs@' + socket.gethostname()}",
        "--without-mingle",
        "--without-gossip",
    ]
    try:
        app.worker_main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    finally:
        runtime.close()
    return 0
