"""``botkit console add-user``: the first admin made from the command line, then able to log in."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from botkit.console.accounts import Accounts
from botkit.console.cli import register
from botkit.db import open_engine


def run(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    parser = argparse.ArgumentParser(prog="botkit")
    register(parser.add_subparsers())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_add_user_makes_an_admin_who_can_log_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "botkit.toml").write_text(f'data_dir = "{tmp_path / "data"}"\n')
    code = run(
        ["console", "add-user", "ada", "--role", "admin", "--password-stdin"],
        tmp_path,
        monkeypatch,
        "a-long-password\n",
    )
    assert code == 0
    assert "added admin 'ada'" in capsys.readouterr().out
    engine = open_engine(f"sqlite:///{tmp_path / 'data' / 'botkit.sqlite3'}")
    try:
        user = Accounts(engine).authenticate("ada", "a-long-password")
        assert user is not None
        assert user.is_admin
        assert Accounts(engine).authenticate("ada", "a-long-password\n") is None
    finally:
        engine.dispose()


def test_add_user_refuses_a_short_password_and_a_taken_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "botkit.toml").write_text(f'data_dir = "{tmp_path / "data"}"\n')
    argv = ["console", "add-user", "ben", "--role", "agent", "--password-stdin"]
    assert run(argv, tmp_path, monkeypatch, "short\n") == 1
    assert "the password is too short: at least 8 characters; nothing was changed" in capsys.readouterr().err
    assert run(argv, tmp_path, monkeypatch, "long-enough-1\n") == 0
    assert run(argv, tmp_path, monkeypatch, "long-enough-2\n") == 1
    assert "there is already a user named 'ben'" in capsys.readouterr().err


def test_add_user_without_a_role_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SystemExit) as stopped:
        run(["console", "add-user", "ben"], tmp_path, monkeypatch)
    assert stopped.value.code == 2
