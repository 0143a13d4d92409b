"""botkit's own texts in the user's language: chosen by the platform's language tag, else the config's.

The catalog tests extract every marked text from the code with Babel's own extractor, as a maintainer's
``pybabel extract`` does, and check each shipped catalog against them.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from botkit import i18n
from botkit.app import Bot
from botkit.config import Settings
from botkit.discovery import load_plugins
from botkit.errors import ModelBusy
from botkit.i18n import available_languages, choose_language, fields, translate
from botkit.message import User
from botkit.middleware import InputLimitsMiddleware, RateLimitMiddleware
from botkit.plugins.help import HelpPlugin
from botkit.plugins.reset import ResetPlugin
from botkit.testing import BotTester, ScriptedModel
from tests.core.test_readme import _blocks

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "botkit" / "locale" / "botkit.pot"
# What a maintainer runs after adding or changing a marked text (then `pybabel update`, see README).
EXTRACT = (
    "pybabel extract -k translate -k translate_for:2 --add-location=file --sort-output --project=botkit "
    "--omit-header -o botkit/locale/botkit.pot botkit adapters"
)
KEYWORDS = {"N_": None, "translate": None, "translate_for": (2,)}
ZH_USER = User("u1", "Li", language="zh-CN")


def _extracted() -> set[str]:
    found: set[str] = set()
    for folder in ("botkit", "adapters"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS, comment_tags=()
        ):
            assert isinstance(message, str), f"plural texts are not used by botkit: {message!r}"
            found.add(message)
    return found


def _catalog(path: Path) -> dict[str, str]:
    with path.open("rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id and not m.fuzzy}  # type: ignore[misc]


def _catalogs() -> list[Path]:
    return sorted(i18n.LOCALE_DIR.glob("*/LC_MESSAGES/botkit.po"))


async def test_a_chinese_user_gets_chinese_help() -> None:
    async with BotTester(Bot(load_plugins(discover=False).plugins), user=ZH_USER) as bot:
        await bot.send("/help")
        help_text = bot.assert_reply().text
        assert help_text.startswith("命令：")
        assert "/reset - 忘记这段对话，重新开始。 （也可用 /clear）" in help_text
        assert help_text.endswith("其他任何消息都会交给对话模型回答。")
        await bot.send("/help nope")
        bot.assert_reply("没有 /nope 这个命令。发送 /help 查看命令列表。")
        await bot.send("/reset")
        bot.assert_reply("好了：我已忘记我们的对话，让我们重新开始。")
        await bot.send("/help", user=User("u2", "Ann", language="en-GB"))
        assert bot.assert_reply().text.startswith("Commands:\n")


async def test_the_configured_language_serves_a_platform_that_tells_none() -> None:
    settings = Settings(name="desk", language="zh")
    async with BotTester(Bot([HelpPlugin(), ResetPlugin()], settings=settings)) as bot:
        await bot.send("/start")
        bot.assert_reply("你好！我是 desk。给我发消息即可聊天，或发送 /help 查看命令。")
        await bot.send("/help")
        assert bot.assert_reply().text.startswith("命令：\n")
        # A language botkit has no texts in falls back to the configured one, not straight to English.
        await bot.send("/reset", user=User("u3", language="fr-FR"))
        bot.assert_reply("好了：我已忘记我们的对话，让我们重新开始。")


async def test_refusals_and_the_apology_are_translated() -> None:
    clock = [0.0]
    bot = Bot(
        load_plugins(discover=False).plugins,
        middleware=[InputLimitsMiddleware(max_chars=20), RateLimitMiddleware(3, 60, clock=lambda: clock[0])],
    )
    async with BotTester(bot, user=ZH_USER) as tester:
        await tester.send("x" * 21)
        tester.assert_reply("这条消息太长了（21 个字符；上限为 20）。请缩短后再发。")
        await tester.send("hello")  # the chat plugin, and no model configured
        tester.assert_reply("这个机器人没有配置对话模型，所以我只能回应命令。试试 /help。")
        await tester.send("/help reset extra")
        tester.assert_reply("用法：/help [command]（unexpected extra argument 'extra'）")
        await tester.send("/start")
        tester.assert_reply("你好！我是 botkit。给我发消息即可聊天，或发送 /help 查看命令。")
        clock[0] = 30.0
        await tester.send("/start")
        tester.assert_reply("你发送消息太快了。请等待 30 秒后再试。")


async def test_a_failing_model_apologises_in_chinese() -> None:
    class Broken(ScriptedModel):
        def count_tokens(self, messages: object) -> int:
            raise RuntimeError("tokenizer crashed")

    async with BotTester(Bot(load_plugins(discover=False).plugins, model=Broken()), user=ZH_USER) as bot:
        await bot.send("你好")
        assert bot.assert_reply().text.startswith("抱歉，处理这条消息时出错了。请再试一次。 (error ")


@pytest.mark.parametrize(
    ("tag", "chosen"),
    [("zh", "zh"), ("zh-hans", "zh"), ("zh-CN", "zh"), ("zh_Hant_TW", "zh"), ("en-US", "en"), ("xx", "en")],
)
def test_a_language_tag_chooses_the_catalog_of_its_longest_known_prefix(tag: str, chosen: str) -> None:
    assert choose_language(tag) == chosen


def test_the_template_holds_every_marked_text() -> None:
    with TEMPLATE.open("rb") as pot:
        template = {m.id for m in read_po(pot) if m.id}
    extracted = _extracted()
    assert template == extracted, f"botkit/locale/botkit.pot is stale: run `{EXTRACT}`"


def test_every_catalog_translates_every_text_with_the_same_fields() -> None:
    extracted = _extracted()
    assert "zh" in [p.parent.parent.name for p in _catalogs()]
    for path in _catalogs():
        catalog = _catalog(path)
        untranslated = sorted(m for m in extracted if not catalog.get(m))
        assert not untranslated, f"{path} lacks translations for {untranslated}"
        wrong = {m: catalog[m] for m in extracted if fields(catalog[m]) != fields(m)}
        assert not wrong, f"{path}: translations whose {{fields}} differ from the English: {wrong}"


def test_the_built_in_commands_descriptions_are_in_the_catalog() -> None:
    extracted = _extracted()
    descriptions = {
        h.description for p in load_plugins(discover=False).plugins if p.name != "chat" for h in p.handlers()
    }
    assert descriptions <= extracted, sorted(descriptions - extracted)


@pytest.fixture
def locale_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """botkit's catalogs copied to a folder the test may add to (catalogs are cached by folder)."""
    folder = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, folder)
    monkeypatch.setattr(i18n, "LOCALE_DIR", folder)
    return folder


def test_a_translator_adds_a_language_with_a_po_file_alone(locale_copy: Path) -> None:
    (locale_copy / "fr" / "LC_MESSAGES").mkdir(parents=True)
    (locale_copy / "fr" / "LC_MESSAGES" / "botkit.po").write_text(
        'msgid ""\nmsgstr ""\n"Language: fr\\n"\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Sorry, /{command} is for admins only."\n'
        'msgstr "Désolé, /{command} est réservé aux administrateurs."\n',
        encoding="utf-8",
    )
    assert available_languages() == ["en", "fr", "zh"]
    assert translate("Sorry, /{command} is for admins only.", "fr-CA", command="ban") == (
        "Désolé, /ban est réservé aux administrateurs."
    )
    assert translate("Commands:", "fr") == "Commands:"  # not translated yet: English, not an error


def test_a_translation_with_wrong_fields_falls_back_to_english(
    locale_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    po = locale_copy / "zh" / "LC_MESSAGES" / "botkit.po"
    po.write_text(po.read_text(encoding="utf-8").replace("{seconds} 秒", "{secs} 秒"), encoding="utf-8")
    text = "You're sending messages too fast. Please wait {seconds} s and try again."
    with caplog.at_level(logging.ERROR, logger="botkit.i18n"):
        assert translate(text, "zh", seconds=5) == text.format(seconds=5)
    assert "does not fit its fields" in caplog.text


def test_a_broken_catalog_is_reported_and_english_used(
    locale_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (locale_copy / "zh" / "LC_MESSAGES" / "botkit.po").write_text(
        'msgid "Commands:"\nmsgstrr "命令："\n', "utf-8"
    )
    with caplog.at_level(logging.ERROR, logger="botkit.i18n"):
        assert translate("Commands:", "zh") == "Commands:"
    assert "cannot read" in caplog.text
    assert "zh users get English" in caplog.text


async def test_the_chat_plugins_notices_are_translated() -> None:
    class Busy(ScriptedModel):
        async def stream(self, messages: Any, params: Any, *, key: str | None = None) -> AsyncIterator[str]:
            raise ModelBusy()
            yield ""  # an async generator, as a real backend's stream is

    async with BotTester(Bot(load_plugins(discover=False).plugins, model=Busy()), user=ZH_USER) as bot:
        await bot.send("你好")
        bot.assert_reply("我现在很忙，请稍后再试。")
        await bot.send("/nope")
        bot.assert_reply("我不认识 /nope 这个命令。发送 /help 查看我能做什么。")
    small = ScriptedModel(context_window=40)
    async with BotTester(Bot(load_plugins(discover=False).plugins, model=small), user=ZH_USER) as bot:
        await bot.send(" ".join(["字"] * 60))
        bot.assert_reply(
            re.compile(r"^这条消息太长，我读不了（\d+ 个词元；我大约能读 \d+ 个）。请缩短后再发。$")
        )


async def test_the_readme_example() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(_blocks()["i18n"], "README.md", "exec"), namespace)
    await namespace["test_a_chinese_user_gets_chinese_replies"]()


def test_the_readme_command_starts_a_catalog_for_a_translator(tmp_path: Path) -> None:
    shutil.copytree(i18n.LOCALE_DIR, tmp_path / "botkit" / "locale")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(
        ["bash", "-c", _blocks()["translate"]], cwd=tmp_path, env=env, check=True, capture_output=True
    )
    started = tmp_path / "botkit" / "locale" / "fr" / "LC_MESSAGES" / "botkit.po"
    with started.open("rb") as po:
        assert {m.id for m in read_po(po) if m.id} == _extracted()
