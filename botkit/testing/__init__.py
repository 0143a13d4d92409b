"""Testing kit for plugin authors: drive a bot without a platform, assert on its replies.

::

    async def test_greeting():
        async with BotTester(Bot([Greeter()])) as bot:
            await bot.send("/start")
            bot.assert_reply("Hello!")

``ScriptedModel`` stands in for the dialogue model; :func:`make_tiny_model` builds a real (tiny, random)
one on disk for tests of the loading and generation code. The fake Telegram, Discord and Slack servers
for adapter tests live beside their adapters (``botkit.adapters.telegram.fake_server`` and so on).
"""

from botkit.testing.fakes import EchoPlugin, FakeAdapter, ScriptedModel
from botkit.testing.tester import BotTester
from botkit.testing.tiny_model import make_tiny_model

__all__ = ["BotTester", "EchoPlugin", "FakeAdapter", "ScriptedModel", "make_tiny_model"]
