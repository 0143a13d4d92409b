"""The agents' and admins' console: a web app served by a plugin (see console/README.md).

Turn it on with ``plugins = ["botkit.console"]`` in ``botkit.toml`` (or ``[console] enabled = true`` where
the plugin is discovered through an entry point); it serves on ``[console] listen``/``port`` while the bot
runs. Make the first admin with ``botkit console add-user NAME --role admin``.

The core never imports this package; the console sees the bot as any plugin does (its ``BotView``), and
drives the desk through :class:`botkit.desk.AgentDesk`, as the Slack bridge does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from botkit.plugin import BotView, Plugin

if TYPE_CHECKING:
    from botkit.config import ConsoleSettings, Settings
    from botkit.console.server import ConsoleServer
    from botkit.console.web import ConsoleState

log = logging.getLogger("botkit.console")

IMPORT_NAMES = ("botkit.console", "botkit.console:Console")


def listed(settings: Settings) -> bool:
    """Whether the config's ``plugins`` names the console (rather than it being found by discovery)."""
    return any(path in IMPORT_NAMES for path in settings.plugins)


class Console(Plugin):
    """Serves the console while the bot runs.

    Args:
        settings: the ``[console]`` section; given, the console always serves (a bot built in code).
            None: the bot's, and it serves when ``plugins`` lists it or ``[console] enabled`` is true.
        engine: the database (None: the one the bot's settings name, opened and closed here).

    Attributes:
        server: the running server (its ``url``, its ``port``), None when not serving.
    """

    name = "console"

    def __init__(self, *, settings: ConsoleSettings | None = None, engine: Engine | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._own_engine = False
        self.server: ConsoleServer | None = None
        self.state: ConsoleState | None = None

    async def setup(self, bot: BotView) -> None:
        """Open the database and start serving.

        Raises:
            OSError: the port cannot be bound.
            RuntimeError: neither an engine nor settings naming a database.
        """
        from botkit.config import ConsoleSettings

        config = bot.settings
        settings = self._settings
        if settings is None:
            settings = config.console if config is not None else ConsoleSettings()
            if config is not None and not (listed(config) or settings.enabled):
                log.info("console found but not enabled ([console] enabled = false); not serving")
                return
        from botkit.console.accounts import Accounts
        from botkit.console.app import build_app
        from botkit.console.audit import AuditLog
        from botkit.console.limits import LoginLimiter
        from botkit.console.server import ConsoleServer
        from botkit.console.web import ConsoleState, Pulse

        engine = self._engine
        if engine is None:
            if config is None:
                raise RuntimeError("the console needs an engine, or a bot with settings naming its database")
            from botkit.db import database_url, open_engine

            engine = await asyncio.to_thread(open_engine, database_url(config))
            self._engine, self._own_engine = engine, True
        accounts = Accounts(engine, session_ttl_s=settings.session_ttl_s)
        self.state = ConsoleState(
            bot=bot,
            engine=engine,
            accounts=accounts,
            audit=AuditLog(engine),
            limiter=LoginLimiter(settings.login_attempts, settings.login_window_s),
            pulse=Pulse(engine),
            secure_cookies=settings.secure_cookies,
        )
        self.server = ConsoleServer(build_app(self.state), settings.listen, settings.port)
        await self.server.start()
        log.info("console running at %s", self.server.url)
        if not await asyncio.to_thread(accounts.users):
            log.warning("the console has no users yet: botkit console add-user NAME --role admin")

    async def teardown(self) -> None:
        """End the live streams, stop serving, and close the engine if the console opened it."""
        if self.state is not None:
            self.state.stopping.set()
        if self.server is not None:
            await self.server.stop()
            self.server = None
        if self._own_engine and self._engine is not None:
            self._engine.dispose()
            self._engine, self._own_engine = None, False


__all__ = ["Console"]
