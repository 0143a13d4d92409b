"""A real widget server per protocol test: the shop bot behind the web adapter, uvicorn on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from botkit.adapters.web import WebAdapter
from botkit.app import Bot
from tests.web.support import ShopPlugin, web_settings


@dataclass
class Served:
    """The bot, its shop plugin and the running adapter, with the URLs a widget uses."""

    bot: Bot
    shop: ShopPlugin
    adapter: WebAdapter

    @property
    def http(self) -> str:
        return self.adapter.url

    @property
    def ws(self) -> str:
        return self.adapter.url.replace("http://", "ws://") + "ws"


async def start_served(**settings: Any) -> Served:
    shop = ShopPlugin()
    bot = Bot([shop])
    adapter = WebAdapter(web_settings(**settings), bot_name="Shop")
    bot.attach(adapter)
    await bot.start()
    await adapter.start(bot)
    return Served(bot, shop, adapter)


@pytest.fixture
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    """A running server; ``@pytest.mark.parametrize("served", [{...settings}], indirect=True)`` changes it."""
    overrides = getattr(request, "param", {})
    running = await start_served(**overrides)
    try:
        yield running
    finally:
        await running.adapter.stop()
        await running.bot.stop()
