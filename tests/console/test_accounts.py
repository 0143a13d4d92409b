"""Accounts, sessions and the login limit on their own: expiry, hashing, and the window passing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from botkit.app import Bot
from botkit.config import ConsoleSettings, Settings
from botkit.console import Console
from botkit.console.accounts import AccountError, Accounts
from botkit.console.limits import LoginLimiter
from botkit.db.schema import console_users


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_a_session_expires_after_its_time_to_live(engine: Engine) -> None:
    clock = Clock()
    accounts = Accounts(engine, session_ttl_s=600, clock=clock)
    user = accounts.add_user("ben", "ben-agent-pass", "agent")
    token, login = accounts.open_session(user)
    assert login.expires_at == clock.now + timedelta(seconds=600)
    clock.now += timedelta(seconds=599)
    assert accounts.session(token) is not None
    clock.now += timedelta(seconds=2)
    assert accounts.session(token) is None
    assert accounts.session(token) is None  # and it stays gone (the row was deleted)


def test_passwords_are_stored_as_argon2_hashes(engine: Engine) -> None:
    accounts = Accounts(engine)
    accounts.add_user("ada", "ada-admin-pass", "admin")
    with engine.connect() as conn:
        stored = conn.execute(select(console_users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert "ada-admin-pass" not in stored
    assert accounts.authenticate("ada", "ada-admin-pass") is not None
    assert accounts.authenticate("ada", "ADA-admin-pass") is None
    assert accounts.authenticate("nobody", "ada-admin-pass") is None


@pytest.mark.parametrize(
    ("name", "role", "said"),
    [
        ("bad name", "agent", "user name 'bad name' is not allowed"),
        ("-dash", "agent", "is not allowed"),
        ("ok", "boss", "role 'boss' is not one of: agent, admin"),
    ],
)
def test_a_bad_user_is_refused_with_the_reason(engine: Engine, name: str, role: str, said: str) -> None:
    with pytest.raises(AccountError, match=said):
        Accounts(engine).add_user(name, "long-enough-pass", role)


def test_the_login_limit_lifts_when_the_window_has_passed() -> None:
    now = [0.0]
    limiter = LoginLimiter(3, 60.0, clock=lambda: now[0])
    for second in (0.0, 10.0, 20.0):
        now[0] = second
        assert limiter.retry_after("ben", "10.0.0.1") is None
        limiter.failed("ben", "10.0.0.1")
    assert limiter.retry_after("BEN", "10.0.0.9") == 40  # names are counted without their case
    assert limiter.retry_after("cy", "10.0.0.1") == 40  # and the address on its own
    assert limiter.retry_after("cy", "10.0.0.2") is None
    now[0] = 60.5
    assert limiter.retry_after("ben", "10.0.0.1") is None  # the first failure left the window


async def test_the_console_serves_only_when_listed_or_enabled(
    engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    quiet = Console(engine=engine)
    bot = Bot(
        [quiet], settings=Settings(data_dir=tmp_path_factory.mktemp("d"), console=ConsoleSettings(port=0))
    )
    await bot.start()
    try:
        assert quiet.server is None  # found (say, by discovery) but neither listed nor enabled
    finally:
        await bot.stop()
    listed = Console(engine=engine)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("d"), plugins=["botkit.console"], console=ConsoleSettings(port=0)
    )
    bot = Bot([listed], settings=settings)
    await bot.start()
    try:
        assert listed.server is not None
        assert listed.server.port > 0
    finally:
        await bot.stop()
    assert listed.server is None
