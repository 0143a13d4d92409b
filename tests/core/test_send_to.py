"""Messages the bot starts, through BotTester: reaching a conversation, a refused one marked, bad keys."""

from __future__ import annotations

import pytest

from botkit import Bot, Context, Plugin, Reply, on_command
from botkit.errors import ConversationClosed
from botkit.testing import BotTester


class Notify(Plugin):
    """/notify KEY TEXT: what an agent's reply does when it must reach a customer unprompted."""

    @on_command("notify")
    async def notify(self, ctx: Context, key: str, *words: str) -> None:
        try:
            await ctx.bot.send_to(key, Reply(" ".join(words)))
        except ConversationClosed as exc:
            await ctx.reply(f"not delivered: {exc.reason}")
        else:
            await ctx.reply("delivered")


async def test_a_plugin_reaches_another_conversation_unprompted() -> None:
    async with BotTester(Bot([Notify()])) as bot:
        await bot.send("/notify test:c9 your order shipped")
        bot.assert_reply("delivered")
        assert bot.adapter.pushed == [("c9", None, "your order shipped")]


async def test_a_conversation_that_refuses_the_bot_is_an_error_and_is_marked() -> None:
    async with BotTester(Bot([Notify()])) as bot:
        bot.adapter.closed["c9"] = "bot was blocked by the user"
        await bot.send("/notify test:c9 hello")
        bot.assert_reply("not delivered: bot was blocked by the user")
        assert bot.adapter.pushed == []
        state = await bot.bot.store.get_state("test:c9")
    assert state["closed"] == {"reason": "bot was blocked by the user"}


async def test_a_key_with_no_adapter_names_what_is_attached() -> None:
    async with BotTester(Bot()) as bot:
        with pytest.raises(LookupError, match=r"no adapter for conversation 'slack:C1' \(attached: test\)"):
            await bot.bot.send_to("slack:C1", Reply("hi"))
