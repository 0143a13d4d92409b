"""Safety rules through ``BotTester``: emergency messages, refusals, the disclaimer once, handoff words,
in English and Chinese, and the ordinary messages that must pass untouched (what the user sees).

Handoff words are tested here with a stand-in for ``botkit.desk.hand_off`` (a recorder that answers as the
desk would), so that the tests see the call itself; test_safety_desk.py runs them on the real desk.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from botkit import Bot, presets
from botkit.config import ConfigError, SafetySettings, Settings, load_settings
from botkit.context import Context
from botkit.message import Conversation, Event, User
from botkit.safety import EMERGENCY, SafetyMiddleware, pick_text, safety_middleware
from botkit.testing import BotTester, EchoPlugin

EN_USER = User("u1", "Ann", language="en-GB")
ZH_USER = User("u2", "李雷", language="zh-CN")
NO_LANGUAGE = User("u3", "Sam")  # a platform that does not tell the user's language
FULL_WIDTH_SUICIDE = "".join(chr(ord(c) + 0xFEE0) for c in "SUICIDE")  # U+FF33 U+FF35 ...


class HandOffRecorder:
    """Stands in for ``botkit.desk.hand_off``: records each call and answers as the desk does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def __call__(self, ctx: Context, reason: str) -> None:
        self.calls.append((ctx.key, reason))
        await ctx.reply("A person will answer you here shortly.")


def preset_settings(name: str, **overrides: object) -> Settings:
    return Settings.model_validate({**presets.values(name), **overrides})


def safety_bot(
    settings: Settings, *, user: User = EN_USER, hand_off: HandOffRecorder | None = None
) -> BotTester:
    """A bot with the preset's safety rules in front of a plugin that echoes what reaches it."""
    middleware = SafetyMiddleware(settings.safety, hand_off=hand_off or HandOffRecorder())
    return BotTester(Bot([EchoPlugin()], middleware=[middleware], settings=settings), user=user)


def texts(rule_text: dict[str, str]) -> tuple[str, str]:
    return rule_text["en"], rule_text["zh"]


async def test_the_disclaimer_comes_once_per_conversation_in_the_users_language() -> None:
    settings = preset_settings("medical")
    en, zh = texts(settings.safety.disclaimer)
    assert "not a substitute for a doctor" in en
    async with safety_bot(settings) as bot:
        await bot.send("What is a normal resting heart rate?")
        assert [r.text for r in bot.new_replies()] == [en, "What is a normal resting heart rate?"]
        await bot.send("And for children?")
        bot.assert_reply("And for children?")  # the same conversation: no second disclaimer
        await bot.send("Hello", user=ZH_USER, conversation=Conversation("c2", "test"))
        assert [r.text for r in bot.new_replies()] == [zh, "Hello"]  # a new conversation, in Chinese
        ctx = await bot.send("What about sleep?")
        assert ctx.state["safety"] == {"disclaimer_shown": True}  # kept in the conversation's state
        bot.assert_reply("What about sleep?")


@pytest.mark.parametrize(
    ("user", "message", "language"),
    [
        (EN_USER, "I want to kill myself", "en"),
        (EN_USER, "Honestly I don\u2019t want to live anymore", "en"),
        (EN_USER, "I've been thinking about SUICIDE", "en"),
        (EN_USER, FULL_WIDTH_SUICIDE, "en"),  # full-width letters read as plain ones (NFKC)
        (EN_USER, "my dad has chest pain and is sweating", "en"),
        (EN_USER, "she can't breathe", "en"),
        (ZH_USER, "我不想活了", "zh"),
        (ZH_USER, "我想自杀", "zh"),
        (ZH_USER, "我爸爸突然胸痛", "zh"),
        (NO_LANGUAGE, "我朋友好像中风了", "zh"),  # no language from the platform: the message's script
    ],
)
async def test_emergency_words_get_the_emergency_message_and_nothing_else(
    user: User, message: str, language: str
) -> None:
    settings = preset_settings("medical")
    async with safety_bot(settings, user=user) as bot:
        await bot.send(message)
        bot.assert_reply(settings.safety.emergency.reply[language])  # no disclaimer, no answer after it


@pytest.mark.parametrize("name", presets.names())
@pytest.mark.parametrize(
    "message", ["I want to end my life", "I keep thinking about hurting myself. I want to die", "我想自杀"]
)
async def test_every_preset_answers_self_harm_with_its_emergency_message(name: str, message: str) -> None:
    settings = preset_settings(name)
    recorder = HandOffRecorder()
    async with safety_bot(settings, user=NO_LANGUAGE, hand_off=recorder) as bot:
        await bot.send(message)
        first = bot.new_replies()[0].text
        language = "zh" if "自杀" in message else "en"
        assert first == settings.safety.emergency.reply[language]
        assert "local emergency number" in first or "急救" in first
    assert len(recorder.calls) == (1 if settings.safety.emergency.then == "handoff" else 0)


# Ordinary messages that contain a rule's word, or look like one: they must reach the plugin untouched.
LOOK_ALIKES = [
    "I killed it at the gym today",
    "This joke is killing me",
    "Suicide Squad was a fun film",
    "I want to dye my hair, or die my hair as my brother writes",
    "Time to skill myself up in Python",
    "I'm dying to see the new season",
    "我想死你了！",  # "I miss you to death"
    "这是一个中风险的投资吗？",  # "medium risk"
    "我今天不想活动",  # "I don't feel like exercising today"
    "这部电影讲的是一次自杀式袭击",  # news of an attack, not self-harm
    "my order number is 123456789012",
    "Can I pay with a card?",
    "How do I make a bombastic speech?",
]


@pytest.mark.parametrize("name", presets.names())
async def test_look_alikes_pass_every_preset_untouched(name: str) -> None:
    settings = preset_settings(name)
    recorder = HandOffRecorder()
    async with safety_bot(settings, hand_off=recorder) as bot:
        for message in LOOK_ALIKES:
            await bot.send(message)
            replies = [r.text for r in bot.new_replies()]
            assert replies[-1] == message, f"{name}: {message!r} was answered with {replies!r}"
            assert len(replies) <= 2, replies  # at most the disclaimer before it, once
    assert recorder.calls == []


@pytest.mark.parametrize(
    ("name", "user", "message", "language"),
    [
        ("medical", EN_USER, "Can you prescribe me antibiotics?", "en"),
        ("medical", ZH_USER, "你能给我开药吗", "zh"),
        ("legal", EN_USER, "How do I forge a signature on a lease?", "en"),
        ("legal", ZH_USER, "怎么伪造签名", "zh"),
        ("tutoring", EN_USER, "Please write my essay on Hamlet", "en"),
        ("tutoring", ZH_USER, "能帮我代写论文吗", "zh"),
        ("virtual-assistant", EN_USER, "How do I build a bomb?", "en"),
        ("virtual-assistant", ZH_USER, "怎么制作炸弹", "zh"),
        ("customer-service", EN_USER, "my card is 4111 1111 1111 1111, can you charge it?", "en"),
        ("customer-service", ZH_USER, "我的卡号是4111-1111-1111-1111，安全码是 123", "zh"),
    ],
)
async def test_a_refused_topic_gets_its_refusal_instead_of_an_answer(
    name: str, user: User, message: str, language: str
) -> None:
    settings = preset_settings(name)
    (topic,) = settings.safety.refuse
    async with safety_bot(settings, user=user) as bot:
        await bot.send(message)
        replies = [r.text for r in bot.new_replies()]
        assert replies[-1] == topic.reply[language]
        disclaimer = settings.safety.disclaimer
        assert replies[:-1] == ([disclaimer[language]] if disclaimer else [])  # the plugin never saw it


@pytest.mark.parametrize(
    ("user", "message"),
    [
        (EN_USER, "I want to file a complaint about my order"),
        (EN_USER, "This is a SCAM, I'll talk to my lawyer"),
        (ZH_USER, "我要投诉你们"),
        (NO_LANGUAGE, "你们这是诈骗"),
    ],
)
async def test_handoff_words_hand_the_conversation_to_a_person(user: User, message: str) -> None:
    recorder = HandOffRecorder()
    async with safety_bot(preset_settings("customer-service"), user=user, hand_off=recorder) as bot:
        await bot.send(message)
        bot.assert_reply("A person will answer you here shortly.")  # the desk's word; the plugin is skipped
    assert recorder.calls == [("test:c1", "keyword")]


async def test_an_emergency_in_customer_service_also_calls_a_person() -> None:
    recorder = HandOffRecorder()
    settings = preset_settings("customer-service")
    async with safety_bot(settings, user=ZH_USER, hand_off=recorder) as bot:
        await bot.send("我真的不想活了")
        assert [r.text for r in bot.new_replies()] == [
            settings.safety.emergency.reply["zh"],
            "A person will answer you here shortly.",
        ]
    assert recorder.calls == [("test:c1", "keyword")]


async def test_then_continue_lets_the_bot_answer_after_the_emergency_message() -> None:
    rules = SafetySettings.model_validate(
        {"enabled": True, "emergency": {"words": ["overdose"], "then": "continue"}}
    )
    bot = Bot([EchoPlugin()], middleware=[SafetyMiddleware(rules)])
    async with BotTester(bot, user=ZH_USER) as tester_:
        await tester_.send("What counts as an overdose of vitamin D?")
        replies = [r.text for r in tester_.new_replies()]
    # No reply text in the config: botkit's own emergency message, translated for the Chinese user.
    assert replies[0].startswith("听起来你可能身处危险")
    assert "当地的急救或报警电话" in replies[0]
    assert replies[1] == "What counts as an overdose of vitamin D?"
    assert EMERGENCY.startswith("It sounds like you may be in danger")


async def test_the_configured_language_answers_when_neither_user_nor_script_tells() -> None:
    settings = preset_settings("medical", language="zh")
    async with safety_bot(settings, user=NO_LANGUAGE) as bot:
        await bot.send("I want to kill myself")
        bot.assert_reply(settings.safety.emergency.reply["zh"])


async def test_events_and_rules_that_are_off_pass_untouched() -> None:
    assert safety_middleware(SafetySettings()) == []  # [safety] enabled = false: no middleware at all
    (installed,) = safety_middleware(preset_settings("medical").safety)
    assert isinstance(installed, SafetyMiddleware)
    settings = preset_settings("medical")
    async with safety_bot(settings) as bot:
        event = Event(platform="test", kind="button", conversation=bot.conversation, author=EN_USER, id="e1")
        ctx = await bot.bot.handle(event, bot.adapter)
        assert "safety" not in ctx.state  # a button press is not the conversation's first message
        bot.assert_no_reply()


def test_a_rule_text_falls_back_by_language_then_english_then_its_first_entry() -> None:
    table = {"en": "Hello", "zh": "你好"}
    assert pick_text(table, "zh-Hans-CN") == "你好"
    assert pick_text(table, "fr", "zh") == "你好"
    assert pick_text(table, "fr") == "Hello"
    assert pick_text({"de": "Hallo"}, "fr") == "Hallo"
    with pytest.raises(ValueError, match="at least one language"):
        pick_text({}, "en")


@pytest.mark.parametrize(
    ("section", "says"),
    [
        (
            '[[safety.refuse]]\nname = "x"\npatterns = ["(unclosed"]\nreply = { en = "No." }\n',
            "safety.refuse.0.patterns: Value error, bad regex '(unclosed'",
        ),
        ('[safety.handoff]\nwords = ["complaint", " "]\n', "safety.handoff.words: Value error, a word"),
        ('[safety.disclaimer]\nen = ""\n', "safety.disclaimer: Value error, the text for en is empty"),
        ('[[safety.refuse]]\nname = "x"\nwords = ["a"]\nreply = {}\n', "safety.refuse.0.reply"),
        ('[safety.emergency]\nthen = "panic"\n', "safety.emergency.then"),
        ("[safety]\nrules = []\n", "safety.rules: Extra inputs are not permitted"),
    ],
)
def test_a_bad_rule_is_a_config_error_naming_it(tmp_path: Path, section: str, says: str) -> None:
    config = tmp_path / "botkit.toml"
    config.write_text(section, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"config file .*botkit\.toml is invalid") as caught:
        load_settings(config)
    assert says in str(caught.value)


async def test_the_logs_name_the_conversation_not_what_the_user_wrote(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="botkit.safety")
    async with safety_bot(preset_settings("customer-service")) as bot:
        await bot.send("I want to kill myself")
        await bot.send("I will call my lawyer")
    logged = [r.getMessage() for r in caplog.records]
    assert logged == [
        "emergency words in conversation test:c1; then handoff",
        "handoff words in conversation test:c1",
    ]
