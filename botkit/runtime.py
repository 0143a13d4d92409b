"""Assembling a bot from the configuration (store, plugins, and the generator its backend names), and
running adapters until they stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

from botkit.app import Bot
from botkit.config import Settings
from botkit.context import Context
from botkit.db import database_url, open_engine
from botkit.discovery import load_plugins
from botkit.middleware import default_middleware
from botkit.stores import MemoryStore, SqlStore
from botkit.types import Adapter, Generator, Middleware, Store

log = logging.getLogger("botkit")


def build_store(settings: Settings) -> Store:
    """The configured store: the database (``database_url``, else SQLite under ``data_dir``) or memory.

    Raises:
        DatabaseUnavailable: the database cannot be opened (one line: the URL and why).
    """
    if settings.store == "memory":
        return MemoryStore()
    return SqlStore(open_engine(database_url(settings)))


def build_generator(settings: Settings) -> Generator:
    """The generator for ``settings.queue.backend``; choosing it is wiring, so neither side knows the other.

    ``local`` loads the model into this process (``model`` extra); ``celery`` only connects to the queue:
    the model lives in the workers started with ``botkit worker``, and this process imports no torch.

    Raises:
        ModelLoadError: one line: no model directory, an unusable one, or ``local`` without the model extra.
    """
    if settings.queue.backend == "celery":
        from botkit.queue.client import CeleryGenerator

        return CeleryGenerator.from_settings(settings)
    from botkit.model.loader import require_model_stack, resolve_model_dir

    require_model_stack()  # first: without the extra, which model directory is moot
    path = resolve_model_dir(settings.model.path)
    from botkit.model.local import LocalGenerator  # imports torch

    return LocalGenerator.from_path(
        path,
        device=settings.model.device,
        dtype=settings.model.dtype,
        max_batch=settings.model.max_batch,
        timeout_s=settings.model.timeout_s,
        engine=settings.model.engine,
        sampling=settings.model.sampling_params(),
    )


def _middleware(settings: Settings) -> list[Middleware[Context]]:
    """The default stack, then the preset's safety rules where ``[safety] enabled = true`` (innermost of
    these, so that input and rate limits refuse first; the desk's gate, added at its setup, comes after)."""
    from botkit.safety import safety_middleware

    return [*default_middleware(settings), *safety_middleware(settings.safety, language=settings.language)]


def build_bot(
    settings: Settings,
    *,
    model: Generator | None = None,
    middleware: Sequence[Middleware[Context]] | None = None,
) -> Bot:
    """Plugins, middleware, store and model from ``settings``. Plugin load failures are logged and kept
    in ``bot.load_errors``; the other plugins still load. ``[desk] enabled = true`` adds the support desk
    (:class:`botkit.desk.SupportDesk`, on the same database and the knowledge base in it)."""
    report = load_plugins(
        settings.plugins,
        discover=settings.discover_plugins,
        disabled=settings.disabled_plugins,
        search_path=settings.plugin_search_path(),
    )
    plugins = list(report.plugins)
    if settings.desk.enabled and "desk" not in settings.disabled_plugins:
        from botkit.desk import SupportDesk  # the desk (and its knowledge base) only where it is enabled

        plugins.append(SupportDesk())
    bot = Bot(
        plugins,
        middleware=_middleware(settings) if middleware is None else middleware,
        store=build_store(settings),
        model=model,
        settings=settings,
    )
    bot.load_errors.update(report.errors)
    if settings.queue.backend == "celery":
        _share_between_replicas(bot, settings)
        from botkit.queue.jobs_client import CeleryJobs

        # Jobs go to the jobs queue; @every/@at to `botkit beat`; this replica delivers what jobs write.
        bot.jobs = CeleryJobs(bot, settings)
    return bot


def _share_between_replicas(bot: Bot, settings: Settings) -> None:
    """Queue mode may run several replicas of the bot: give them one intake (de-duplication and the
    conversations' lanes) and one rate window, in Redis. Building connects nothing yet; stopping the bot
    closes their connections."""
    from botkit.middleware import RateLimitMiddleware
    from botkit.queue.cluster import RedisIntakeState, RedisRateWindow

    intake = RedisIntakeState.from_settings(settings.queue)
    windows: list[RedisRateWindow] = []
    for layer in bot.middleware:
        if isinstance(layer, RateLimitMiddleware):
            layer.window = window = RedisRateWindow.from_settings(settings.queue)
            windows.append(window)
    bot.intake_state = intake  # the adapters' Intake finds it on the dispatcher it is bound to
    bot.on_stop += [intake.close, *(window.close for window in windows)]


async def run_adapters(bot: Bot, adapters: Sequence[Adapter]) -> None:
    """Start ``adapters`` on ``bot`` and serve until SIGINT/SIGTERM, then stop them all cleanly."""
    await bot.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    started: list[Adapter] = []
    for adapter in adapters:
        bot.attach(adapter)
    try:
        for adapter in adapters:
            await adapter.start(bot)
            started.append(adapter)
            log.info("adapter %s running", adapter.name)
        await stop.wait()
    finally:
        for adapter in reversed(started):
            try:
                await adapter.stop()
            except Exception:
                log.exception("adapter %s failed to stop cleanly", adapter.name)
        await bot.stop()
