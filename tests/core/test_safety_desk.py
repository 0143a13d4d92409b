"""Safety rules on the real support desk, on SQLite and PostgreSQL: handoff words open a ticket and the bot
goes quiet; an emergency is still answered; without a desk the message reaches the plugins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from botkit import Bot
from botkit.desk import SupportDesk
from botkit.safety import safety_middleware
from botkit.testing import BotTester, EchoPlugin
from tests.core.test_safety import ZH_USER, preset_settings
from tests.desk.answerers import FaqOverlap
from tests.desk.engines import desk_engine


@pytest.fixture
def desk_db(database_url: str) -> Iterator[Engine]:
    """The desk's tables on a throw-away SQLite file or PostgreSQL database."""
    engine = desk_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


async def test_handoff_words_open_a_ticket_on_the_real_desk_and_the_bot_goes_quiet(desk_db: Engine) -> None:
    settings = preset_settings("customer-service")
    desk = SupportDesk(FaqOverlap(), engine=desk_db)
    bot = Bot([desk], middleware=safety_middleware(settings.safety), settings=settings)
    async with BotTester(bot, user=ZH_USER) as tester_:
        await tester_.send("我要投诉，你们的快递丢了我的包裹")
        tester_.assert_reply(contains="我已请同事来接手")
        (ticket,) = await desk.agents.queue()
        assert (ticket.conversation, ticket.reason, ticket.status) == ("test:c1", "keyword", "waiting")
        await tester_.send("还有人吗？")  # no rule matches; the desk keeps the bot quiet while people own it
        tester_.assert_no_reply()
        await tester_.send("我想自杀")  # an emergency is still answered, and the open ticket is named
        replies = [r.text for r in tester_.new_replies()]
        assert replies[0] == settings.safety.emergency.reply["zh"]
        assert len(replies) == 2  # the desk's word on the ticket already open
        assert len(await desk.agents.queue()) == 1


async def test_handoff_words_without_a_desk_reach_the_plugins(caplog: pytest.LogCaptureFixture) -> None:
    settings = preset_settings("customer-service")
    bot = Bot([EchoPlugin()], middleware=safety_middleware(settings.safety), settings=settings)
    async with BotTester(bot) as tester_:
        await tester_.send("I have a complaint about my order")
        tester_.assert_reply("I have a complaint about my order")  # the real hand_off had no desk
    assert "but no support desk is loaded" in caplog.text
