"""The support desk through real adapters against their fake servers: the user on Telegram, the agents in
a Slack channel, one bot, the example shop's knowledge base in the real ``KnowledgeBase``.

The user asks a question (answered with its citation), an unknown one (not sure, with a button for a
person), then asks for a human: the agents' channel gets a thread with the transcript and the sources;
the bot stays silent while the user's messages go to the thread; the first agent's thread reply reaches
the user on Telegram and a second agent is told who has the ticket; ``/resolve`` in the thread hands back
and asks for a rating with buttons, whose press is stored. The report's figures then match.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import Engine

from botkit.adapters.slack import SlackAdapter
from botkit.adapters.slack.fake_server import FakeSlackServer, PostedMessage
from botkit.adapters.telegram import TelegramAdapter
from botkit.adapters.telegram.fake_server import FakeTelegramServer
from botkit.app import Bot
from botkit.config import DeskSettings, Settings, SlackSettings
from botkit.desk import SupportDesk
from botkit.desk.report import support_figures
from botkit.plugins.help import HelpPlugin
from tests.adapters.telegram_harness import TOKEN
from tests.adapters.telegram_harness import settings as telegram_settings
from tests.desk.engines import desk_engine
from tests.desk.example_kb import Rows, example_kb

AGENTS = "CAGENTS"
CHAT = 4242  # the user's Telegram chat
RETURN_WINDOW = "How long do I have to return an item?"


@dataclass
class Desk:
    tg: FakeTelegramServer
    slack: FakeSlackServer
    telegram: TelegramAdapter
    slack_adapter: SlackAdapter
    desk: SupportDesk
    engine: Engine

    async def user_says(self, text: str) -> None:
        update = self.tg.message_update(text, chat_id=CHAT, language_code="en")
        await self.tg.wait_confirmed(update["update_id"])
        await self.telegram.drain(10)

    async def user_presses(self, data: str, message_id: int) -> None:
        update = self.tg.button_update(data, chat_id=CHAT, message_id=message_id)
        await self.tg.wait_confirmed(update["update_id"])
        await self.telegram.drain(10)

    async def agent_says(self, text: str, *, agent: str, thread_ts: str) -> None:
        body = self.slack.message_event(text, channel=AGENTS, user=agent, im=False, thread_ts=thread_ts)
        status, _ = await self.slack.send_event(self.slack_adapter.url, body)
        assert status == 200
        await self.slack_adapter.drain(10)

    def user_sees(self) -> list[dict[str, Any]]:
        """The bot's Telegram messages to the user, oldest first."""
        return [m for (chat, _), m in sorted(self.tg.messages.items()) if chat == CHAT]

    def thread(self, ts: str | None) -> list[PostedMessage]:
        return self.slack.thread(AGENTS, ts)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = desk_engine(database_url)
    try:
        yield made
    finally:
        made.dispose()


@pytest_asyncio.fixture
async def desk(engine: Engine, example_kb_rows: Rows) -> AsyncIterator[Desk]:
    settings = Settings(desk=DeskSettings(enabled=True, agents_slack_channel=AGENTS))
    plugin = SupportDesk(example_kb(engine, example_kb_rows), engine=engine)
    bot = Bot([plugin, HelpPlugin()], settings=settings)
    async with (
        FakeTelegramServer(TOKEN, bot_id=555000111, bot_username="ShopBot") as tg,
        FakeSlackServer() as slack,
    ):
        telegram = TelegramAdapter(telegram_settings(tg))
        slack_settings = {"bot_token": slack.bot_token, "signing_secret": slack.signing_secret}
        slack_settings |= {"api_base": slack.api_base, "port": 0, "typing_delay_s": 0}
        slack_adapter = SlackAdapter(SlackSettings.model_validate(slack_settings))
        for adapter in (telegram, slack_adapter):
            bot.attach(adapter)  # as `botkit run` does
        await bot.start()
        await telegram.start(bot)
        await slack_adapter.start(bot)
        try:
            yield Desk(tg, slack, telegram, slack_adapter, plugin, engine)
        finally:
            await slack_adapter.stop()
            await telegram.stop()
            await bot.stop()


def callback_data(message: dict[str, Any]) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [button.get("callback_data") or button.get("url") for row in rows for button in row]


async def test_a_telegram_user_is_helped_by_an_agent_in_slack(desk: Desk) -> None:
    started = datetime.now(UTC) - timedelta(seconds=1)
    await desk.user_says("how long do I have to return an item?")
    answer = desk.user_sees()[-1]
    assert "within 60 days of delivery" in answer["text"]
    assert answer["text"].endswith(f"Source: faq.csv > {RETURN_WINDOW}")
    assert callback_data(answer) == ["desk:unhelpful"]

    await desk.user_says("Do you sell spaceships to Mars?")
    unsure = desk.user_sees()[-1]
    assert unsure["text"].startswith("I'm not sure about that")
    assert callback_data(unsure) == ["desk:handoff"]

    await desk.user_says("talk to a human")
    assert "You are number 1 in the queue" in desk.user_sees()[-1]["text"]
    (root,) = desk.thread(None)  # the ticket's root message in the agents' channel
    assert root.text.startswith("Ticket #1: telegram user tess (id 4242) (telegram:4242)")
    assert "user: how long do I have to return an item?" in root.text  # the transcript so far
    assert "user: Do you sell spaceships to Mars?" in root.text
    assert "user: talk to a human" in root.text
    assert "The bot's last sources:" in root.text

    seen = len(desk.user_sees())
    await desk.user_says("My order 1234 has not arrived")  # the bot is silent; the agents see it
    assert len(desk.user_sees()) == seen
    assert [m.text for m in desk.thread(root.ts)] == ["user: My order 1234 has not arrived"]

    await desk.agent_says(
        "Hi Tess, I'm Alice. It left our warehouse today.", agent="UALICE", thread_ts=root.ts
    )
    assert desk.user_sees()[-1]["text"] == "Hi Tess, I'm Alice. It left our warehouse today."
    assert desk.thread(root.ts)[-1].text == "Ticket #1 is now with UALICE."

    await desk.agent_says("I can take this one", agent="UBOB", thread_ts=root.ts)
    assert desk.thread(root.ts)[-1].text == "UALICE has ticket #1; your message was not sent to the user."
    assert desk.user_sees()[-1]["text"] == "Hi Tess, I'm Alice. It left our warehouse today."

    await desk.agent_says("/resolve", agent="UALICE", thread_ts=root.ts)
    assert desk.thread(root.ts)[-1].text == "Resolved by UALICE; the user is back with the bot."
    rating = desk.user_sees()[-1]
    assert "marked your question as resolved" in rating["text"]
    assert callback_data(rating) == [f"desk:rate:1:{n}" for n in range(1, 6)]

    await desk.user_presses("desk:rate:1:5", rating["message_id"])
    assert desk.user_sees()[-1]["text"] == "Thank you for rating us 5/5."
    ticket = await desk.desk.agents.ticket(1)
    assert (ticket.status, ticket.assignee, ticket.rating) == ("resolved", "UALICE", 5)

    await desk.user_says("how long do I have to return an item?")  # the bot answers again
    assert "within 60 days of delivery" in desk.user_sees()[-1]["text"]

    figures = support_figures(desk.engine, started)
    assert (figures.conversations, figures.contained, figures.handoffs) == (1, 0, 1)
    assert figures.handoff_reasons == {"asked": 1}
    assert figures.answered_from_kb == 2
    assert [q.text for q in figures.unanswered] == ["Do you sell spaceships to Mars?"]
    assert (figures.first_reply.count, figures.resolution.count) == (1, 1)
    assert (figures.csat_count, figures.csat_mean) == (1, 5.0)


async def test_agents_assign_close_and_answer_from_the_console_too(desk: Desk) -> None:
    await desk.user_says("agent")
    (root,) = desk.thread(None)
    mention = desk.slack.message_event(f"<@{desk.slack.bot_user_id}> hi bot", channel=AGENTS, im=False)
    await desk.slack.send_event(desk.slack_adapter.url, mention)
    await desk.slack_adapter.drain(10)
    assert [m.ts for m in desk.thread(None)] == [root.ts]  # never answered in the agents' channel
    assert desk.thread(mention["event"]["ts"]) == []

    await desk.agent_says("/assign", agent="UALICE", thread_ts=root.ts)
    assert desk.thread(root.ts)[-1].text == "Usage: /assign @name"
    await desk.agent_says("/hepl", agent="UALICE", thread_ts=root.ts)
    assert desk.thread(root.ts)[-1].text.startswith("Unknown command /hepl: /resolve, /assign @name")
    await desk.agent_says("/assign <@UCAROL>", agent="UALICE", thread_ts=root.ts)
    assert desk.thread(root.ts)[-1].text == "Ticket #1 is now with UCAROL."

    await desk.desk.agents.reply(1, "UCAROL", "Carol here, from the web console.")  # the same Python API
    assert desk.user_sees()[-1]["text"] == "Carol here, from the web console."
    assert desk.thread(root.ts)[-1].text == "UCAROL (console): Carol here, from the web console."

    await desk.agent_says("/close", agent="UCAROL", thread_ts=root.ts)
    assert desk.thread(root.ts)[-1].text == "Closed by UCAROL."
    await desk.agent_says("one more thing", agent="UCAROL", thread_ts=root.ts)
    assert desk.thread(root.ts)[-1].text == "Nothing was done: ticket #1 is closed."
    assert desk.user_sees()[-1]["text"] == "Carol here, from the web console."

    await desk.user_says("how long do I have to return an item?")  # closed: the bot answers again
    assert "within 60 days of delivery" in desk.user_sees()[-1]["text"]
