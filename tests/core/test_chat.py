"""The chat plugin: the model fallback, history trimmed by tokens, /reset, /help."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from botkit import Bot
from botkit.config import Settings
from botkit.errors import ModelBusy
from botkit.model.local import LocalGenerator
from botkit.plugins.chat import ChatPlugin, PromptTooLong, trim_to_window
from botkit.plugins.help import HelpPlugin
from botkit.plugins.reset import ResetPlugin
from botkit.stores import SqliteStore
from botkit.testing import BotTester, ScriptedModel
from botkit.types import ChatTurn


def _bot(generator: object, tmp_path: Path, **settings: object) -> Bot:
    return Bot(
        [HelpPlugin(), ResetPlugin(), ChatPlugin()],
        model=generator,  # type: ignore[arg-type]
        store=SqliteStore(tmp_path / "store.db"),
        settings=Settings(**settings),  # type: ignore[arg-type]
    )


async def test_reply_streams_and_history_is_stored(tmp_path: Path) -> None:
    model = ScriptedModel(["hello there, friend"])
    bot_ = _bot(model, tmp_path)
    async with BotTester(bot_) as bot:
        await bot.send("hi")
        sent = bot.assert_reply("hello there, friend")
        assert sent.states == ["hello", "hello there,", "hello there, friend"]  # it grew word by word
        assert await bot_.store.history("test:c1") == [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello there, friend"},
        ]
        assert model.keys == ["test:c1:1"]  # the idempotency key names platform, conversation, message


async def test_reset_clears_the_store(tmp_path: Path) -> None:
    bot_ = _bot(ScriptedModel(["ok"]), tmp_path)
    async with BotTester(bot_) as bot:
        await bot.send("remember this")
        bot.assert_reply("ok")
        assert len(await bot_.store.history("test:c1")) == 2
        await bot.send("/reset")
        bot.assert_reply(contains="forgotten")
        assert await bot_.store.history("test:c1") == []


async def test_history_is_trimmed_to_the_context_window_by_tokens(tmp_path: Path) -> None:
    # ScriptedModel counts words + 2 per turn + 1; a window of 40 with 10 reserved leaves 30.
    model = ScriptedModel(["fine"], context_window=40)
    bot_ = _bot(model, tmp_path, chat={"system_prompt": "be nice"}, model={"max_new_tokens": 10})
    async with BotTester(bot_) as bot:
        for i in range(8):
            await bot.send(f"message number {i}")
            bot.assert_reply("fine")
    prompt = model.calls[-1]
    assert prompt[0] == {"role": "system", "content": "be nice"}
    assert prompt[-1] == {"role": "user", "content": "message number 7"}
    assert model.count_tokens(prompt) <= 30
    assert model.count_tokens(prompt) + 5 > 30  # and it kept as much as fitted
    assert prompt[1]["role"] == "user"  # the history starts at a user turn


def test_trim_refuses_a_message_that_cannot_fit() -> None:
    model = ScriptedModel(context_window=20)
    with pytest.raises(PromptTooLong, match="too long for me to read"):
        trim_to_window(model, "", [], ChatTurn(role="user", content="word " * 50), reserve=10)


async def test_unknown_command_and_model_busy(tmp_path: Path) -> None:
    class Busy(ScriptedModel):
        async def stream(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def,override]
            raise ModelBusy()
            yield ""

    async with BotTester(_bot(Busy(), tmp_path)) as bot:
        await bot.send("/frobnicate")
        bot.assert_reply("I don't know the command /frobnicate. Send /help to see what I can do.")
        await bot.send("hello")
        bot.assert_reply("I'm busy right now, please try again in a moment.")


async def test_help_lists_commands_from_docstrings(tmp_path: Path) -> None:
    async with BotTester(_bot(ScriptedModel(), tmp_path)) as bot:
        await bot.send("/help")
        text = bot.assert_reply().text
        assert "/reset - Forget this conversation and start over. (also /clear)" in text
        assert "/help [command] - List the commands" in text
        await bot.send("/help reset")
        bot.assert_reply("/reset\nForget this conversation and start over.")
        await bot.send("/help nothing")
        bot.assert_reply(contains="There is no /nothing command")


async def test_no_model_configured(tmp_path: Path) -> None:
    async with BotTester(_bot(None, tmp_path)) as bot:
        await bot.send("hello")
        bot.assert_reply(contains="No dialogue model is configured")


async def test_tiny_model_answers_through_the_real_backend(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = LocalGenerator.from_path(tiny_model_dir, device="cpu")
    bot_ = _bot(model, tmp_path, model={"max_new_tokens": 12, "temperature": 1.0, "seed": 3})
    async with BotTester(bot_) as bot:
        await bot.send("hello there")
        reply = bot.assert_reply()
        assert reply.text.strip()
        history = await bot_.store.history("test:c1")
        assert history[-1] == {"role": "assistant", "content": reply.text}
    assert model.scheduler.batches_run >= 1


async def test_a_reply_cut_off_by_the_time_limit_says_so(tiny_model_dir: Path, tmp_path: Path) -> None:
    # A deadline that passes at the first token: whatever was shown stays, then the notice follows.
    model = LocalGenerator.from_path(tiny_model_dir, device="cpu", timeout_s=0.001)
    bot_ = _bot(model, tmp_path, model={"max_new_tokens": 100, "temperature": 1.0, "seed": 3})
    async with BotTester(bot_) as bot:
        await bot.send("tell me a long story")
        replies = bot.new_replies()
        assert replies[-1].text == "That took me too long to answer; please try again."
        assert await bot_.store.history("test:c1") == []  # a cut-off reply is not remembered


async def test_the_stream_yields_partial_text_before_the_timeout(tiny_model_dir: Path) -> None:
    from botkit.errors import GenerationTimeout
    from botkit.types import SamplingParams

    model = LocalGenerator.from_path(tiny_model_dir, device="cpu", timeout_s=0.001)
    pieces: list[str] = []
    with pytest.raises(GenerationTimeout):
        await _collect(model.stream([{"role": "user", "content": "hi"}], SamplingParams(seed=1)), pieces)
    assert "".join(pieces)  # the token produced before the deadline was delivered, then the error
    await model.close()


async def _collect(stream: AsyncIterator[str], into: list[str]) -> None:
    async for piece in stream:
        into.append(piece)


async def test_sampling_defaults_are_written_once_and_the_config_reaches_the_model(tmp_path: Path) -> None:
    import tomllib

    from botkit.config import ModelSettings
    from botkit.scaffold import STARTER_CONFIG
    from botkit.types import SamplingParams

    tuned = SamplingParams(max_new_tokens=96, temperature=0.7, top_p=0.9, top_k=40, repetition_penalty=1.15)
    assert SamplingParams() == tuned  # what the shipped model is tuned for
    assert ModelSettings().sampling_params() == tuned
    starter = tomllib.loads(STARTER_CONFIG)["model"]
    assert not {"max_new_tokens", "temperature", "top_p"} & starter.keys()  # left to the model's file
    assert "# max_new_tokens = 96\n# temperature = 0.7\n# top_p = 0.9\n" in STARTER_CONFIG

    model = ScriptedModel(["ok"])
    async with BotTester(_bot(model, tmp_path, model={"top_k": 7, "seed": 5})) as bot:
        await bot.send("hi")
        bot.assert_reply("ok")
    assert model.params == [SamplingParams(top_k=7, seed=5)]
