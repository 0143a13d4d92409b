"""The README keeps its promises: its commands and examples run as a reader would run them, and its
configuration reference matches the code.

A block that is executed carries an HTML comment on the line before its fence, ``<!-- readme-test: NAME
-->``, which a rendered README does not show. Shell blocks run with bash, as written, in a scratch folder
that stands for the repository root after ``make chat``: its ``.venv`` is a link to the virtual
environment running these tests, so ``.venv/bin/botkit`` is the installed executable, not
``python -m botkit.cli`` (which would put the current folder on ``sys.path`` and hide import problems).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from botkit.config_reference import END, START, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"
MARKED = re.compile(r"<!-- readme-test: ([\w-]+) -->\n```(\w+)\n(.*?)```", flags=re.S)
# Every marked block, by the test that runs it.
RUN_HERE = {
    "chat-pipe",
    "new-project",
    "commands",
    "plugin",
    "plugin-test",
    "plugin-test-run",
    "ask",
    "jobs",
    "send-to",
    "files",
    "reload",
    "i18n",
    "translate",
    "support-desk",
}


def _blocks() -> dict[str, str]:
    """The marked blocks' code by name; a name used twice would leave one block unrun."""
    found: dict[str, str] = {}
    for name, _language, code in MARKED.findall(README.read_text(encoding="utf-8")):
        assert name not in found, f"two README blocks are marked {name!r}"
        found[name] = code
    return found


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A folder standing for the repository root: ``.venv`` is the environment these tests run in."""
    venv = Path(sys.prefix)
    assert (venv / "bin" / "botkit").is_file(), f"the tests run outside a venv with botkit installed: {venv}"
    (tmp_path / ".venv").symlink_to(venv, target_is_directory=True)
    return tmp_path


def _run(block: str, cwd: Path) -> str:
    """Run a README shell block with bash as a reader would paste it; returns what it printed."""
    # The reader's shell has no botkit settings of ours (a test may have set some in this process).
    env = {key: value for key, value in os.environ.items() if not key.startswith("BOTKIT_")}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, (
        f"README block failed with status {done.returncode}:\n{block}\n"
        f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    )
    return done.stdout


def test_every_marked_block_is_run() -> None:
    assert set(_blocks()) == RUN_HERE


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


def test_chat_through_a_pipe(scratch: Path) -> None:
    replies = _run(_blocks()["chat-pipe"], scratch)
    assert "/help" in replies
    assert "/reset" in replies


def test_a_new_project(scratch: Path) -> None:
    """``botkit init``; the starter's plugin is listed, answers in ``botkit chat`` and passes its test."""
    printed = _run(_blocks()["new-project"], scratch)
    assert "plugins.example" in printed  # botkit plugins: the starter's plugin loaded from its folder
    assert "/roll" in printed
    assert re.search(r"You rolled \d+ \(d20\)\.", printed)  # botkit chat answered the plugin's command
    assert re.search(r"\b\d+ passed\b", printed)  # pytest ran the starter's tests (and exited 0: none failed)


def test_the_commands_have_help(scratch: Path) -> None:
    printed = _run(_blocks()["commands"], scratch)
    assert "usage: botkit [-h]" in printed
    assert "usage: botkit train" in printed
    assert "usage: botkit worker" in printed
    for command in ("init", "chat", "plugins", "run", "train", "worker"):
        assert re.search(rf"^\s+{command}\s", printed, flags=re.M), f"botkit --help lists no {command}"


def test_the_plugin_and_its_test_in_a_new_project(scratch: Path) -> None:
    """The plugin example and its test, saved where the README says, pass under plain pytest."""
    blocks = _blocks()
    _run(".venv/bin/botkit init mybot", scratch)
    project = scratch / "mybot"
    (project / "plugins" / "support.py").write_text(blocks["plugin"], encoding="utf-8")
    (project / "tests").mkdir(exist_ok=True)
    (project / "tests" / "test_support.py").write_text(blocks["plugin-test"], encoding="utf-8")
    config = project / "botkit.toml"
    starter = config.read_text(encoding="utf-8")
    both = 'plugins = ["plugins.example", "plugins.support"]'
    text, listed = re.subn(r'^plugins = \["plugins.example"\]', both, starter, flags=re.M)
    assert listed == 1, "the starter botkit.toml lists its plugins differently from what the README assumes"
    config.write_text(text, encoding="utf-8")

    listing = _run("cd mybot && ../.venv/bin/botkit plugins", scratch)
    assert "plugins.support" in listing
    assert "/ticket" in listing
    printed = _run(blocks["plugin-test-run"], scratch)
    assert re.search(r"\b2 passed\b", printed), printed


async def test_the_plugin_example_in_process() -> None:
    """What the example promises beyond its test: the ticket button closes it, /summary streams the model."""
    namespace: dict[str, object] = {}
    exec(compile(_blocks()["plugin"], "README.md", "exec"), namespace)

    from botkit import Bot
    from botkit.testing import BotTester, ScriptedModel

    support = namespace["Support"]
    async with BotTester(Bot([support()], model=ScriptedModel(["a short summary"]))) as bot:  # type: ignore[operator]
        await bot.send("/ticket 42")
        sent = bot.assert_reply("Ticket 42: open")
        assert sent.reply.buttons[0][0].data == "close:42"  # type: ignore[union-attr]
        await bot.press("close:42")
        bot.assert_reply("Closed.")
        await bot.send("I want a refund")
        bot.assert_reply("Refunds take 5 working days.")
        await bot.send("/summary")
        bot.assert_reply("a short summary")


def test_the_support_desk_walk_through(scratch: Path) -> None:
    """From ``botkit init --preset customer-service`` to a handoff, as the README tells it."""
    printed = _run(_blocks()["support-desk"], scratch)
    assert "added 7, replaced 0, unchanged 0, failed 0" in printed
    assert "source: policies/returns.md > Returns, Exchanges and Refunds" in printed  # kb search
    assert "Source: faq.csv > How long do I have to return an item?" in printed  # the FAQ, cited
    assert "I'm not sure about that" in printed  # outside the knowledge base: the offer of a person
    assert "You are number 1 in the queue." in printed
    starts = ("You can return", "I'm not", "I've")
    replies = [line for line in printed.splitlines() if line.startswith(starts)]
    assert len(replies) == 3, printed  # "hello?" got no answer: a person owns the conversation
    assert re.search(r"^\s*1\s+waiting\s+asked\s", printed, flags=re.M)  # botkit tickets list
    assert re.search(r"^handed off\s+1\s", printed, flags=re.M)  # botkit report
    assert "What is the capital of Peru?" in printed.split("Unanswered questions", 1)[1]
