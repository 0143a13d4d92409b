"""A real console per test: the desk and the console plugins on a bot driven by ``BotTester`` (its fake
platform carries agents' replies to "the user"), uvicorn on a free port, the database SQLite or
PostgreSQL, and an httpx client that logs in as a browser would (the login form's token, then cookies)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import Engine

from botkit.app import Bot
from botkit.config import ConsoleSettings, DeskSettings, KBSettings, Settings
from botkit.console import Console
from botkit.console.accounts import Accounts
from botkit.desk import SupportDesk
from botkit.kb import KnowledgeBase
from botkit.testing import BotTester
from tests.desk.engines import desk_engine

PASSWORDS = {"ada": "ada-admin-pass", "ben": "ben-agent-pass", "cy": "cy-agent-pass"}
ROLES = {"ada": "admin", "ben": "agent", "cy": "agent"}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Running:
    """The bot under test, its console and desk, and the console's address."""

    tester: BotTester
    console: Console
    desk: SupportDesk
    engine: Engine

    @property
    def url(self) -> str:
        assert self.console.server is not None
        return self.console.server.url.rstrip("/")

    def client(self) -> httpx.AsyncClient:
        """A browser-like client: its own cookies, redirects not followed (the tests look at them)."""
        return httpx.AsyncClient(base_url=self.url, timeout=20)


def csrf_of(html: str) -> str:
    """The first CSRF token on a page."""
    found = CSRF.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


async def log_in(client: httpx.AsyncClient, name: str, password: str | None = None) -> httpx.Response:
    """Fill in the login form as a person would; returns the form's answer (303 when it worked)."""
    form = await client.get("/login")
    return await client.post(
        "/login",
        data={"name": name, "password": password or PASSWORDS[name], "csrf": csrf_of(form.text), "next": "/"},
    )


async def page_token(client: httpx.AsyncClient, path: str = "/") -> str:
    """The session's CSRF token, as a logged-in page carries it."""
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An SQLite database (the security tests' behaviour does not depend on the database)."""
    made = desk_engine(f"sqlite:///{tmp_path / 'botkit.sqlite3'}")
    try:
        yield made
    finally:
        made.dispose()


@pytest.fixture
def any_engine(database_url: str) -> Iterator[Engine]:
    """SQLite, then PostgreSQL (tests taking it run twice)."""
    made = desk_engine(database_url)
    try:
        yield made
    finally:
        made.dispose()


@pytest_asyncio.fixture
async def running(engine: Engine, tmp_path: Path) -> AsyncIterator[Running]:
    """The desk and the console on SQLite, with the users of :data:`PASSWORDS` already made."""
    async with start(engine, tmp_path) as found:
        yield found


@pytest_asyncio.fixture
async def running_any(any_engine: Engine, tmp_path: Path) -> AsyncIterator[Running]:
    """The same on SQLite, then on PostgreSQL."""
    async with start(any_engine, tmp_path) as found:
        yield found


@contextlib.asynccontextmanager
async def start(engine: Engine, tmp_path: Path) -> AsyncIterator[Running]:
    """The desk and the console on ``engine``, with the users of :data:`PASSWORDS` already made."""
    accounts = Accounts(engine)
    for name, password in PASSWORDS.items():
        accounts.add_user(name, password, ROLES[name])
    settings = Settings(
        data_dir=tmp_path / "data",
        desk=DeskSettings(enabled=True),
        console=ConsoleSettings(port=0),
    )
    desk = SupportDesk(KnowledgeBase(engine, KBSettings()), engine=engine)
    console = Console(settings=ConsoleSettings(port=0, login_attempts=5, login_window_s=60), engine=engine)
    bot = Bot([desk, console], settings=settings)
    async with BotTester(bot) as tester:
        yield Running(tester, console, desk, engine)
