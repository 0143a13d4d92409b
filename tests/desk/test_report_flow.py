"""The figures of ``botkit report`` match what happened: conversations played through ``BotTester`` and the
real support desk, then counted from the rows the desk wrote (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from botkit.app import Bot
from botkit.config import DeskSettings, Settings
from botkit.db.engine import open_engine
from botkit.db.schema import metadata
from botkit.desk import SupportDesk
from botkit.desk.report import support_figures
from botkit.message import Conversation, User
from botkit.plugins.chat import ChatPlugin
from botkit.testing import BotTester, ScriptedModel
from tests.desk.answerers import RETURN_WINDOW, FaqOverlap


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url, migrate=False)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


async def test_the_report_counts_what_the_desk_did(engine: Engine) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    desk = SupportDesk(FaqOverlap(), engine=engine)
    bot = Bot(
        [desk, ChatPlugin()],
        model=ScriptedModel(["(chat)"]),
        settings=Settings(desk=DeskSettings(enabled=True)),
    )
    second = Conversation("c2", "test", "private")
    third = Conversation("c3", "test", "private")
    async with BotTester(bot) as tester:
        # c2: answered from the knowledge base; contained
        await tester.send(RETURN_WINDOW, conversation=second, user=User("u2"))
        tester.assert_reply(contains="Source: faq.csv")
        # c3: one question the knowledge base is unsure of, and no person asked for; contained
        await tester.send("Do you sell rocket fuel?", conversation=third, user=User("u3"))
        tester.assert_reply(contains="I'm not sure")
        # c1: unsure, asks for a person, an agent answers and resolves, the user rates 4
        await tester.send("do you sell rocket fuel")
        tester.assert_reply(contains="I'm not sure")
        await tester.send("talk to a human")
        tester.assert_reply(contains="number 1 in the queue")
        (ticket,) = await desk.agents.queue()
        await desk.agents.take(ticket.id, "alice")
        await desk.agents.reply(ticket.id, "alice", "We do not, sorry.")
        await desk.agents.resolve(ticket.id, "alice")
        await tester.press(f"desk:rate:{ticket.id}:4")
        tester.assert_reply(contains="4/5")

    figures = support_figures(engine, started)
    done = desk.agents.tickets.get(ticket.id)
    assert done.first_reply_at is not None
    assert done.resolved_at is not None
    assert figures.conversations == 3
    assert figures.contained == 2
    assert figures.containment_rate == 2 / 3
    assert (figures.handoffs, figures.handed_off_conversations) == (1, 1)
    assert figures.handoff_rate == 1 / 3
    assert figures.handoff_reasons == {"asked": 1}
    assert figures.first_reply.count == 1
    assert figures.first_reply.median == (done.first_reply_at - done.created_at).total_seconds()
    assert figures.resolution.median == (done.resolved_at - done.created_at).total_seconds()
    assert figures.answered_from_kb == 1
    # the same question in two spellings, once from each of two conversations
    assert [(q.text, q.count) for q in figures.unanswered] == [("Do you sell rocket fuel?", 2)]
    assert (figures.csat_count, figures.csat_mean) == (1, 4.0)
    assert figures.csat_distribution == {1: 0, 2: 0, 3: 0, 4: 1, 5: 0}
