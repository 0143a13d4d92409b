"""``botkit console add-user`` through the installed executable: the first admin made from the command
line, then able to log in; refusals say why and change nothing."""

from __future__ import annotations

from pathlib import Path

from botkit.console.accounts import Accounts
from botkit.db import open_engine
from tests.core.installed import run_botkit

ADD_ADA = ["console", "add-user", "ada", "--role", "admin", "--password-stdin"]


def project(tmp_path: Path) -> Path:
    (tmp_path / "botkit.toml").write_text(f'data_dir = "{tmp_path / "data"}"\n')
    return tmp_path


def test_add_user_makes_an_admin_who_can_log_in(tmp_path: Path) -> None:
    folder = project(tmp_path)
    done = run_botkit(ADD_ADA, stdin=b"a-long-password\n", cwd=folder)
    assert done.returncode == 0, done.stderr.decode()
    assert "added admin 'ada'" in done.stdout.decode()
    assert b"a-long-password" not in done.stdout + done.stderr
    engine = open_engine(f"sqlite:///{folder / 'data' / 'botkit.sqlite3'}")
    try:
        user = Accounts(engine).authenticate("ada", "a-long-password")
        assert user is not None
        assert user.is_admin
        assert Accounts(engine).authenticate("ada", "a-long-password\n") is None  # the newline is not kept
    finally:
        engine.dispose()


def test_add_user_refuses_a_short_password_and_a_taken_name(tmp_path: Path) -> None:
    folder = project(tmp_path)
    short = run_botkit(ADD_ADA, stdin=b"short\n", cwd=folder)
    assert short.returncode == 1
    assert "the password is too short: at least 8 characters; nothing was changed" in short.stderr.decode()
    assert run_botkit(ADD_ADA, stdin=b"long-enough-1\n", cwd=folder).returncode == 0
    again = run_botkit(ADD_ADA, stdin=b"long-enough-2\n", cwd=folder)
    assert again.returncode == 1
    assert "there is already a user named 'ada'" in again.stderr.decode()
    assert "Traceback" not in again.stderr.decode()


def test_the_password_asked_twice_must_match(tmp_path: Path) -> None:
    folder = project(tmp_path)
    differ = run_botkit(
        ["console", "add-user", "ben", "--role", "agent"],
        stdin=b"first-password\nother-password\n",
        cwd=folder,
    )
    assert differ.returncode == 1
    assert "the two passwords differ; nothing was changed" in differ.stderr.decode()
    same = run_botkit(
        ["console", "add-user", "ben", "--role", "agent"],
        stdin=b"first-password\nfirst-password\n",
        cwd=folder,
    )
    assert same.returncode == 0, same.stderr.decode()


def test_add_user_without_a_role_is_a_usage_error(tmp_path: Path) -> None:
    answer = run_botkit(["console", "add-user", "ben"], cwd=project(tmp_path))
    assert answer.returncode == 2
    assert "--role" in answer.stderr.decode()
