"""The README keeps its promises: the set-up commands, and a configuration reference that matches the code."""

from __future__ import annotations

from pathlib import Path

from botkit.config_reference import END, START, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_gives_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make chat" in text
    assert "make test" in text


def test_configuration_reference_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert START in text, "README.md lacks the configuration reference markers"
    documented = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert documented == markdown_table(), (
        "README.md's configuration reference is stale: regenerate it with "
        "`.venv/bin/python -m botkit.config_reference`"
    )


async def test_the_plugin_examples_run() -> None:
    """The README's plugin and its test, executed as a reader would paste them."""
    import re

    text = README.read_text(encoding="utf-8")
    section = text.split("## Writing a plugin", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2, "expected the plugin example and its test"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0] + blocks[1], "README.md", "exec"), namespace)
    await namespace["test_refund"]()  # type: ignore[operator]

    from botkit import Bot
    from botkit.testing import BotTester, ScriptedModel

    support = namespace["Support"]
    async with BotTester(Bot([support()], model=ScriptedModel(["a short summary"]))) as bot:  # type: ignore[operator]
        await bot.send("/ticket 42")
        sent = bot.assert_reply("Ticket 42: open")
        assert sent.reply.buttons[0][0].data == "close:42"  # type: ignore[union-attr]
        await bot.press("close:42")
        bot.assert_reply("Closed.")
        await bot.send("/summary")
        bot.assert_reply("a short summary")
