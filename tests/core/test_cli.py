"""The ``botkit`` command as a user runs it: the installed executable, real stdin and stdout."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.core.installed import BOTKIT, clean_env, run_botkit


def run(
    args: list[str], stdin: bytes = b"", cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[bytes]:
    return run_botkit(args, stdin, cwd, clean_env(**env))


def test_version() -> None:
    result = run(["--version"])
    assert result.returncode == 0
    assert result.stdout.decode().strip() == "botkit 0.1.0"


def test_the_module_form_still_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "botkit.cli", "--version"], capture_output=True, timeout=60, check=True
    )
    assert result.stdout.decode().strip() == "botkit 0.1.0"


def test_chat_help_reply_and_reset_through_a_pipe(tiny_model_dir: Path, tmp_path: Path) -> None:
    lines = b"/help\nhello there\nhow are you?\n/reset\n\n   \n" + b"x" * 100_000 + b"\n\xff\xfe bad bytes\n"
    result = run(["chat", "--model", str(tiny_model_dir)], stdin=lines, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode().splitlines()
    assert len(out) == 8  # one line per message
    assert out[0].startswith("Commands: | /help [command] - List the commands")
    assert "/reset - Forget this conversation and start over." in out[0]
    assert out[1].strip()
    assert out[2].strip()
    assert out[3] == "Done: I've forgotten our conversation. Let's start over."
    assert out[4] == out[5] == "I got an empty message. Send me some text, or /help to see what I can do."
    assert out[6] == "That message is too long (100,000 characters; the limit is 4,000). Please shorten it."
    assert "not valid UTF-8" in out[7]
    # the store is a real SQLite file under the data directory; /reset emptied it
    with sqlite3.connect(tmp_path / ".botkit" / "botkit.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM turns").fetchone() == (0,)


def test_chat_history_is_kept_between_runs(tiny_model_dir: Path, tmp_path: Path) -> None:
    run(["chat", "--model", str(tiny_model_dir)], stdin=b"first message\n", cwd=tmp_path)
    run(["chat", "--model", str(tiny_model_dir)], stdin=b"second message\n", cwd=tmp_path)
    with sqlite3.connect(tmp_path / ".botkit" / "botkit.sqlite3") as db:
        rows = db.execute("SELECT role, content FROM turns ORDER BY id").fetchall()
    assert [r for r in rows if r[0] == "user"] == [("user", "first message"), ("user", "second message")]
    assert len(rows) == 4


def test_bad_model_directory_is_one_clear_line(tmp_path: Path) -> None:
    result = run(["chat", "--model", str(tmp_path / "nope")], stdin=b"hi\n", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr.decode().strip() == f"botkit chat: model directory {tmp_path / 'nope'} does not exist"
    )


def test_init_writes_a_working_starter(tmp_path: Path) -> None:
    result = run(["init", str(tmp_path / "mybot")])
    assert result.returncode == 0
    assert (tmp_path / "mybot" / "botkit.toml").is_file()
    listing = run(["plugins"], cwd=tmp_path / "mybot")
    assert listing.returncode == 0, listing.stderr.decode()
    text = listing.stdout.decode()
    assert "/roll [sides]" in text
    assert "Roll a die: /roll 20." in text
    assert "/reset" in text
    assert "chat (botkit.plugins.chat.ChatPlugin)" in text
    again = run(["init", str(tmp_path / "mybot")])
    assert again.returncode == 0  # identical files are not a clash
    (tmp_path / "mybot" / "botkit.toml").write_text("name = 'edited'\n")
    clash = run(["init", str(tmp_path / "mybot")])
    assert clash.returncode == 1
    assert "already exists" in clash.stderr.decode()


def test_plugins_reports_a_plugin_that_fails_to_load(tmp_path: Path) -> None:
    (tmp_path / "botkit.toml").write_text('plugins = ["no.such.module"]\n')
    result = run(["plugins"], cwd=tmp_path)
    assert result.returncode == 1
    assert "help (botkit.plugins.help.HelpPlugin)" in result.stdout.decode()
    assert "plugin no.such.module was not loaded: ModuleNotFoundError" in result.stderr.decode()


def test_plugins_runs_each_setup_and_teardown_and_reports_a_failing_setup(tmp_path: Path) -> None:
    (tmp_path / "botkit.toml").write_text('plugins = ["ledger"]\n')
    (tmp_path / "ledger.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path

            from botkit import Plugin


            class Ledger(Plugin):
                async def setup(self, bot):
                    Path("ledger-opened").touch()

                async def teardown(self):
                    Path("ledger-closed").touch()


            class Vault(Plugin):
                async def setup(self, bot):
                    Path("vault-opened").touch()
                    raise ConnectionError("vault unreachable")

                async def teardown(self):
                    Path("vault-closed").touch()  # called although setup failed: it releases what it opened
            """
        )
    )
    result = run(["plugins"], cwd=tmp_path)
    assert result.returncode == 1
    out = result.stdout.decode()
    assert "ledger (ledger.Ledger)" in out
    assert "vault" not in out
    assert result.stderr.decode().strip() == (
        "botkit: plugin vault was not loaded: setup failed: ConnectionError: vault unreachable"
    )
    opened_and_closed = {"ledger-opened", "ledger-closed", "vault-opened", "vault-closed"}
    assert {p.name for p in tmp_path.iterdir()} >= opened_and_closed


@pytest.mark.parametrize(
    ("adapter", "env", "message"),
    [
        ("telegram", {}, "telegram: set telegram.token (or BOTKIT_TELEGRAM__TOKEN)"),
        ("slack", {}, "slack: set slack.bot_token (or BOTKIT_SLACK__BOT_TOKEN)"),
        ("discord", {}, "discord: set discord.token (or BOTKIT_DISCORD__TOKEN)"),
        (
            "slack",
            {"BOTKIT_SLACK__BOT_TOKEN": "xoxb-1", "BOTKIT_SLACK__MODE": "socket"},
            "slack: socket mode needs slack.app_token (or BOTKIT_SLACK__APP_TOKEN)",
        ),
        (
            "telegram",
            {"BOTKIT_TELEGRAM__MODE": "carrier-pigeon"},
            "configuration is invalid: telegram.mode: Input should be 'polling' or 'webhook'",
        ),
        ("fax", {}, "unknown adapter 'fax'; installed: console, discord, slack, telegram, web"),
    ],
)
def test_run_with_a_missing_or_malformed_setting_is_one_line_and_exit_2(
    tmp_path: Path, adapter: str, env: dict[str, str], message: str
) -> None:
    result = run(["run", "--adapter", adapter], cwd=tmp_path, **env)
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [f"botkit run: {message}"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("[model]\nmax_new_token = 5\n", "model.max_new_token: Extra inputs are not permitted"),
        ("[model\n", "is not valid TOML"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, config: str, message: str) -> None:
    (tmp_path / "botkit.toml").write_text(config)
    result = run(["plugins"], cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr.decode()


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from botkit.config import load_settings

    (tmp_path / "bot.toml").write_text("[model]\nmax_new_tokens = 5\ntemperature = 0.3\n")
    monkeypatch.setenv("BOTKIT_MODEL__MAX_NEW_TOKENS", "9")
    settings = load_settings(tmp_path / "bot.toml")
    assert settings.model.max_new_tokens == 9
    assert settings.model.temperature == 0.3


def test_interactive_chat_on_a_terminal(tiny_model_dir: Path, tmp_path: Path) -> None:
    """On a TTY: a banner, a prompt, the reply shown after ``bot>``, and Ctrl-D to quit."""
    import os
    import pty
    import select
    import time

    pid, fd = pty.fork()
    if pid == 0:  # the child: botkit chat on a real terminal
        os.chdir(tmp_path)
        os.execve(BOTKIT, [str(BOTKIT), "chat", "--model", str(tiny_model_dir)], clean_env())

    def read_until(marker: bytes, seen: bytearray, start: int = 0, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while marker not in seen[start:]:
            assert time.monotonic() < deadline, f"timed out waiting for {marker!r}; got {bytes(seen)!r}"
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                seen.extend(os.read(fd, 4096))

    screen = bytearray()
    try:
        read_until(b"you> ", screen)
        assert b"/help lists commands; Ctrl-D quits." in screen
        before = len(screen)
        os.write(fd, b"/help\n")
        read_until(b"bot> Commands:", screen, before)
        read_until(b"you> ", screen, before)
        before = len(screen)
        os.write(fd, b"hello\n")
        read_until(b"you> ", screen, before)
        assert b"bot> " in screen[before:]  # the model's reply was shown
        os.write(fd, b"\x04")  # Ctrl-D
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status)
        assert os.WEXITSTATUS(status) == 0
    finally:
        os.close(fd)
