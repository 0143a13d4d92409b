"""``[desk] enabled = true``: ``build_bot`` loads the support desk on the configured database, whose
knowledge base answers; without it, no desk."""

from __future__ import annotations

from pathlib import Path

from botkit.config import DeskSettings, Settings
from botkit.desk import SupportDesk
from botkit.runtime import build_bot
from botkit.testing import BotTester
from tests.desk.engines import desk_engine
from tests.desk.example_kb import Rows, example_kb


async def test_build_bot_adds_the_desk_on_the_configured_database(
    database_url: str, tmp_path: Path, example_kb_rows: Rows
) -> None:
    engine = desk_engine(database_url)
    example_kb(engine, example_kb_rows)  # what `botkit kb add` would have stored
    engine.dispose()
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, discover_plugins=False, desk=DeskSettings(enabled=True)
    )
    bot = build_bot(settings)
    async with BotTester(bot) as tester:
        assert not bot.load_errors
        (desk,) = [p for p in bot.plugins if isinstance(p, SupportDesk)]
        await tester.send("How long do I have to return an item?")
        answer = tester.assert_reply(contains="within 60 days of delivery")
        assert answer.text.endswith("Source: faq.csv > How long do I have to return an item?")
        await tester.send("talk to a human")
        tester.assert_reply(contains="number 1 in the queue")
        assert [t.conversation for t in await desk.agents.queue()] == ["test:c1"]


def test_no_desk_unless_enabled(tmp_path: Path) -> None:
    bot = build_bot(Settings(data_dir=tmp_path, discover_plugins=False))
    assert not [p for p in bot.plugins if isinstance(p, SupportDesk)]
    disabled = Settings(
        data_dir=tmp_path, discover_plugins=False, desk=DeskSettings(enabled=True), disabled_plugins=["desk"]
    )
    assert not [p for p in build_bot(disabled).plugins if isinstance(p, SupportDesk)]
