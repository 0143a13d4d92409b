"""Hot reload: a plugin file edited on disk answers with its new code; a broken edit keeps the old one.

The plugin under test writes each ``setup`` and ``teardown`` to a file beside it, so the tests see the life
cycle a reload runs. Each test gets a module of its own name, so no test sees another's module.
"""

from __future__ import annotations

import asyncio
import shlex
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from botkit.app import Bot
from botkit.discovery import load_plugins
from botkit.reload import ReloadResult, reload_module, watch_plugins, watching
from botkit.testing import BotTester
from tests.core.installed import BOTKIT, clean_env
from tests.core.test_readme import _blocks

PLUGIN = """\
from pathlib import Path

from botkit import Context, Plugin, on_command

VERSION = "{version}"
EVENTS = Path(__file__).with_name("events.log")


class Greeter(Plugin):
    async def setup(self, bot: object) -> None:
        with EVENTS.open("a") as log:
            log.write(f"setup {{VERSION}}\\n")
        {setup}

    async def teardown(self) -> None:
        with EVENTS.open("a") as log:
            log.write(f"teardown {{VERSION}}\\n")

    @on_command("hello")
    async def hello(self, ctx: Context) -> None:
        \"\"\"Say which version answers.\"\"\"
        await ctx.reply(f"hello {{VERSION}}")
"""


class Project:
    """A folder on ``sys.path`` holding one plugin module, and the bot that loaded it."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.module = f"greeter_{uuid.uuid4().hex[:8]}"
        self.file = folder / f"{self.module}.py"
        self.events = folder / "events.log"

    def write(self, version: str, *, setup: str = "pass", raw: str | None = None) -> None:
        self.file.write_text(raw if raw is not None else PLUGIN.format(version=version, setup=setup))

    def bot(self) -> Bot:
        report = load_plugins([self.module], builtins=False, discover=False, search_path=[self.folder])
        assert not report.errors, report.errors
        return Bot(report.plugins)

    def lifecycle(self) -> list[str]:
        return self.events.read_text().splitlines()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.syspath_prepend(str(tmp_path))
    made = Project(tmp_path)
    made.write("v1")
    yield made
    sys.modules.pop(made.module, None)


async def test_an_edited_plugin_answers_with_its_new_code(project: Project) -> None:
    async with BotTester(project.bot()) as bot:
        await bot.send("/hello")
        bot.assert_reply("hello v1")
        project.write("v2")
        result = await reload_module(bot.bot, project.module)
        assert result == ReloadResult(project.module, project.file, ["greeter"])
        await bot.send("/hello")
        bot.assert_reply("hello v2")
        assert sys.modules[project.module].VERSION == "v2"
    assert project.lifecycle() == ["setup v1", "teardown v1", "setup v2", "teardown v2"]


async def test_a_syntax_error_keeps_the_old_plugin_and_says_where(project: Project) -> None:
    async with BotTester(project.bot()) as bot:
        project.write("v2", raw='VERSION = "v2"\n\ndef broken(:\n')
        result = await reload_module(bot.bot, project.module)
        assert not result.ok
        assert result.error == f"SyntaxError: invalid syntax ({project.file.name}, line 3)"
        assert result.describe().startswith(
            f"reloading {project.file} failed; the old version goes on answering"
        )
        await bot.send("/hello")
        bot.assert_reply("hello v1")
        project.write("v3")  # fixed: the next save reloads
        assert (await reload_module(bot.bot, project.module)).ok
        await bot.send("/hello")
        bot.assert_reply("hello v3")
    assert project.lifecycle() == ["setup v1", "teardown v1", "setup v3", "teardown v3"]


async def test_an_import_that_raises_leaves_the_old_module_untouched(project: Project) -> None:
    async with BotTester(project.bot()) as bot:
        # The new file rebinds VERSION before failing: the old plugin must still see its own module's "v1".
        project.write("v2", raw='VERSION = "v2"\nraise RuntimeError("no database")\n')
        result = await reload_module(bot.bot, project.module)
        assert result.error == f"RuntimeError: no database ({project.file.name}, line 2)"
        await bot.send("/hello")
        bot.assert_reply("hello v1")
        assert sys.modules[project.module].VERSION == "v1"
    assert project.lifecycle() == ["setup v1", "teardown v1"]


async def test_a_new_version_whose_setup_fails_is_rolled_back(project: Project) -> None:
    async with BotTester(project.bot()) as bot:
        project.write("v2", setup='raise ConnectionError("port 8080 is taken")')
        result = await reload_module(bot.bot, project.module)
        assert (
            result.error
            == f"setup of greeter failed: ConnectionError: port 8080 is taken ({project.file.name}, line 13)"
        )
        await bot.send("/hello")
        bot.assert_reply("hello v1")
    # The old version released what it held before the new one asked; it was set up again when that failed.
    assert project.lifecycle() == [
        "setup v1",
        "teardown v1",
        "setup v2",
        "teardown v2",
        "setup v1",
        "teardown v1",
    ]


async def test_a_class_gone_from_the_file_is_reported_and_kept(project: Project) -> None:
    async with BotTester(project.bot()) as bot:
        project.write(
            "v2", raw=PLUGIN.format(version="v2", setup="pass").replace("class Greeter", "class Welcomer")
        )
        result = await reload_module(bot.bot, project.module)
        assert result.error == "the file no longer defines Greeter"
        await bot.send("/hello")
        bot.assert_reply("hello v1")


async def test_the_watcher_reloads_a_saved_file_and_reports_a_broken_one(project: Project) -> None:
    results: asyncio.Queue[ReloadResult] = asyncio.Queue()
    stop, ready = asyncio.Event(), asyncio.Event()
    async with BotTester(project.bot()) as bot:
        watcher = asyncio.create_task(
            watch_plugins(bot.bot, on_reload=results.put_nowait, stop=stop, ready=ready, debounce_ms=50)
        )
        await asyncio.wait_for(ready.wait(), 10)
        project.write("v2")
        assert (await asyncio.wait_for(results.get(), 10)).reloaded == ["greeter"]
        await bot.send("/hello")
        bot.assert_reply("hello v2")
        project.write("v3", raw="def broken(:\n")
        failed = await asyncio.wait_for(results.get(), 10)
        assert failed.error == f"SyntaxError: invalid syntax ({project.file.name}, line 1)"
        await bot.send("/hello")
        bot.assert_reply("hello v2")
        stop.set()
        await asyncio.wait_for(watcher, 10)


async def test_watching_reports_the_files_it_watches(project: Project) -> None:
    lines: list[str] = []
    async with BotTester(project.bot()) as bot, watching(bot.bot, report=lines.append):
        assert lines == [f"--reload watches these plugin files: {project.file}"]


def test_botkit_chat_reload_through_a_pipe(project: Project, tiny_model_dir: Path) -> None:
    """The README's command as a developer runs it: chat, save, chat again; stderr says what reloaded."""
    readme = shlex.split(_blocks()["reload"])  # the README's command, with the tests' tiny model
    assert readme == ["botkit", "chat", "--reload"]
    with _started(project, [*readme[1:], "--model", str(tiny_model_dir)]) as chat:
        try:
            _save_and_see_the_new_version(project, chat)
            chat.stdin.close()  # type: ignore[union-attr]
            assert chat.wait(60) == 0
        finally:
            chat.kill()


def test_botkit_run_reload_beside_an_adapter(project: Project, tiny_model_dir: Path) -> None:
    argv = ["run", "--reload", "--adapter", "console", "--model", str(tiny_model_dir)]
    with _started(project, argv) as run:
        try:
            _save_and_see_the_new_version(project, run)
            run.stdin.close()  # type: ignore[union-attr]  # the console adapter's reader ends with its input
            run.send_signal(signal.SIGTERM)
            assert run.wait(60) == 0
        finally:
            run.kill()


def _started(project: Project, argv: list[str]) -> subprocess.Popen[bytes]:
    (project.folder / "botkit.toml").write_text(f'plugins = ["{project.module}"]\n')
    return subprocess.Popen(
        [str(BOTKIT), *argv],
        cwd=project.folder,
        env=clean_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _save_and_see_the_new_version(project: Project, bot: subprocess.Popen[bytes]) -> None:
    assert bot.stdin is not None
    assert bot.stdout is not None
    assert bot.stderr is not None
    watching = _line_with(bot.stderr, "botkit: --reload watches")
    assert watching == f"botkit: --reload watches these plugin files: {project.file}"
    bot.stdin.write(b"/hello\n")
    bot.stdin.flush()
    assert bot.stdout.readline() == b"hello v1\n"
    project.write("v2")
    assert _line_with(bot.stderr, "botkit: reloaded") == f"botkit: reloaded greeter from {project.file}"
    bot.stdin.write(b"/hello\n")
    bot.stdin.flush()
    assert bot.stdout.readline() == b"hello v2\n"


def _line_with(stream: IO[bytes], needle: str) -> str:
    """The first line of ``stream`` containing ``needle`` (the test's timeout ends a wait that never ends)."""
    for raw in iter(stream.readline, b""):
        line = raw.decode().rstrip("\n")
        if needle in line:
            return line
    raise AssertionError(f"the stream ended without a line containing {needle!r}")
