"""The database store on SQLite and PostgreSQL: history, state, restarts, concurrency, reconnects."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from botkit import Bot, Context, Plugin, on_command
from botkit.config import Settings
from botkit.db import DatabaseUnavailable, open_engine
from botkit.db.schema import turns
from botkit.runtime import build_store
from botkit.stores import MemoryStore, SqliteStore, SqlStore
from botkit.testing import BotTester
from botkit.types import ChatTurn, Store
from tests.core.installed import clean_env, run_botkit


class Counter(Plugin):
    @on_command("count")
    async def count(self, ctx: Context) -> None:
        ctx.state["n"] = ctx.state.get("n", 0) + 1
        await ctx.reply(str(ctx.state["n"]))


async def test_state_survives_a_restart(database_url: str) -> None:
    async with BotTester(Bot([Counter()], store=SqlStore(open_engine(database_url)))) as bot:
        for expected in ("1", "2"):
            await bot.send("/count")
            bot.assert_reply(expected)
    # a new process would open the same database: a new engine, store and bot
    async with BotTester(Bot([Counter()], store=SqlStore(open_engine(database_url)))) as bot:
        await bot.send("/count")
        bot.assert_reply("3")


async def test_sqlite_store_keeps_its_file_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "data" / "botkit.sqlite3"  # the folder does not exist yet
    async with BotTester(Bot([Counter()], store=SqliteStore(db))) as bot:
        await bot.send("/count")
        bot.assert_reply("1")
    async with BotTester(Bot([Counter()], store=SqliteStore(db))) as bot:
        await bot.send("/count")
        bot.assert_reply("2")


async def _exercise(store: Store) -> None:
    await store.append("a", ChatTurn(role="user", content="one"), ChatTurn(role="assistant", content="two"))
    await store.append("a", ChatTurn(role="user", content="三"))
    await store.append("b", ChatTurn(role="user", content="other"))
    assert [t["content"] for t in await store.history("a")] == ["one", "two", "三"]
    assert [t["role"] for t in await store.history("a")] == ["user", "assistant", "user"]
    assert [t["content"] for t in await store.history("a", 2)] == ["two", "三"]
    assert [t["content"] for t in await store.history("a", 10)] == ["one", "two", "三"]
    assert await store.history("a", 0) == []
    assert await store.history("nobody") == []
    assert await store.get_state("a") == {}
    await store.set_state("a", {"lang": "zh", "n": [1, 2], "nested": {"名字": "小明"}})
    assert await store.get_state("a") == {"lang": "zh", "n": [1, 2], "nested": {"名字": "小明"}}
    await store.set_state("a", {"lang": "en"})  # replaced, not merged
    assert await store.get_state("a") == {"lang": "en"}
    got = await store.get_state("a")
    got["lang"] = "changed"  # a copy: changing it does not change the store
    assert await store.get_state("a") == {"lang": "en"}
    await store.set_state("b", {"x": 1})
    await store.clear("a")
    assert await store.history("a") == []
    assert await store.get_state("a") == {}
    assert [t["content"] for t in await store.history("b")] == ["other"]  # other conversations untouched
    assert await store.get_state("b") == {"x": 1}
    await store.set_state("b", {})  # an empty state is no state
    assert await store.get_state("b") == {}


async def test_database_and_memory_stores_behave_alike(database_url: str) -> None:
    await _exercise(MemoryStore())
    store = SqlStore(open_engine(database_url))
    await _exercise(store)
    await store.close()


async def test_turns_are_stored_with_an_aware_utc_time_and_readable_json(database_url: str) -> None:
    engine = open_engine(database_url)
    store = SqlStore(engine)
    before = datetime.now(UTC)
    await store.append("k", ChatTurn(role="user", content="hi"))
    await store.set_state("k", {"名字": "小明"})
    after = datetime.now(UTC)
    with engine.connect() as conn:
        row = conn.execute(select(turns.c.created_at, turns.c.author)).one()
        raw = conn.execute(text("SELECT CAST(data AS TEXT) FROM state")).scalar()
    assert row.created_at.tzinfo is not None
    assert before <= row.created_at <= after
    assert row.author is None
    assert "小明" in str(raw)  # kept as text a person can read in the database, not \\u escapes
    await store.close()


async def test_concurrent_conversations_do_not_interleave(database_url: str) -> None:
    store = SqlStore(open_engine(database_url))

    async def talk(conv: str) -> None:
        for i in range(20):
            await store.append(
                conv,
                ChatTurn(role="user", content=f"{conv}-{i}"),
                ChatTurn(role="assistant", content=f"r{i}"),
            )

    await asyncio.gather(*(talk(f"c{n}") for n in range(10)))
    for n in range(10):
        history = await store.history(f"c{n}")
        assert len(history) == 40
        assert [t["content"] for t in history[::2]] == [f"c{n}-{i}" for i in range(20)]
        assert [t["content"] for t in history[1::2]] == [f"r{i}" for i in range(20)]
    await store.close()


async def test_a_store_call_after_the_server_dropped_its_connection_works(postgres_url: str) -> None:
    store = SqlStore(open_engine(postgres_url))
    await store.append("k", ChatTurn(role="user", content="before"))
    database = store.engine.url.database
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # what a server restart does to the pool's idle connections
        ended = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        ).scalar()
    admin.dispose()
    assert (ended or 0) >= 1  # the store's pooled connection was among them
    await store.append("k", ChatTurn(role="assistant", content="after"))
    assert [t["content"] for t in await store.history("k")] == ["before", "after"]
    await store.close()


async def test_build_store_follows_the_settings(tmp_path: Path, postgres_url: str) -> None:
    assert isinstance(build_store(Settings(store="memory", data_dir=tmp_path)), MemoryStore)
    for name in ("database", "sqlite"):  # "sqlite" is the setting's old name, still accepted
        store = build_store(Settings(store=name, data_dir=tmp_path / name))
        assert isinstance(store, SqlStore)
        assert store.engine.url.database == str(tmp_path / name / "botkit.sqlite3")
        await store.close()
    assert Settings().store == "database"
    store = build_store(Settings(data_dir=tmp_path, database_url=postgres_url))
    assert isinstance(store, SqlStore)
    assert store.engine.dialect.name == "postgresql"
    await store.append("k", ChatTurn(role="user", content="on postgres"))
    assert await store.history("k") == [ChatTurn(role="user", content="on postgres")]
    await store.close()


UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/x"  # nothing listens on port 1


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            UNREACHABLE,
            "cannot open the database at postgresql+psycopg://postgres@127.0.0.1:1/x: connection failed:",
        ),
        (
            "postgresql+psycopg://alice:s3cret@127.0.0.1:1/x",  # the password never reaches a log
            "cannot open the database at postgresql+psycopg://alice:***@127.0.0.1:1/x",
        ),
        (
            "postgresql+nosuchdriver://postgres@127.0.0.1/x",
            "no database driver for postgresql+nosuchdriver://postgres@127.0.0.1/x",
        ),
        (
            "not a url",
            "database_url 'not a url' is not a database URL (e.g. postgresql+psycopg://user@host/db)",
        ),
    ],
)
def test_a_database_that_cannot_be_opened_is_one_clear_line(url: str, message: str) -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        open_engine(url)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_sqlite_file_whose_folder_cannot_be_made_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the folder should be")
    with pytest.raises(
        DatabaseUnavailable, match=r"cannot make the database's folder .*data/sub: Not a directory"
    ):
        open_engine(f"sqlite:///{tmp_path / 'data' / 'sub' / 'botkit.sqlite3'}")


def test_without_the_postgres_extra_the_error_names_it() -> None:
    # A Python where psycopg cannot be imported, as in an installation without botkit[postgres].
    script = (
        "import sys; sys.modules['psycopg'] = None\n"
        "from botkit.db import DatabaseUnavailable, open_engine, DatabaseUnavailable\n"
        "try:\n"
        f"    open_engine({UNREACHABLE!r})\n"
        "except DatabaseUnavailable as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == (
        "the database driver for postgresql+psycopg://postgres@127.0.0.1:1/x is not installed: "
        "pip install 'botkit[postgres]'"
    )


@pytest.mark.parametrize("command", ["chat", "run", "plugins"])
def test_the_cli_says_when_the_database_cannot_be_reached(tmp_path: Path, command: str) -> None:
    args = [command, "--adapter", "console"] if command == "run" else [command]
    done = run_botkit(args, cwd=tmp_path, env=clean_env(BOTKIT_DATABASE_URL=UNREACHABLE))
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert "Traceback" not in err
    assert f"botkit {command}: cannot open the database at {UNREACHABLE}: connection failed:" in err
