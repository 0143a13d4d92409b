"""The SQLite store: history, state, restarts and concurrency."""

from __future__ import annotations

import asyncio
from pathlib import Path

from botkit import Bot, Context, Plugin, on_command
from botkit.stores import MemoryStore, SqliteStore
from botkit.testing import BotTester
from botkit.types import ChatTurn, Store


class Counter(Plugin):
    @on_command("count")
    async def count(self, ctx: Context) -> None:
        ctx.state["n"] = ctx.state.get("n", 0) + 1
        await ctx.reply(str(ctx.state["n"]))


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "data" / "botkit.sqlite3"
    async with BotTester(Bot([Counter()], store=SqliteStore(db))) as bot:
        for expected in ("1", "2"):
            await bot.send("/count")
            bot.assert_reply(expected)
    # a new process would open the same file: a new store and a new bot
    async with BotTester(Bot([Counter()], store=SqliteStore(db))) as bot:
        await bot.send("/count")
        bot.assert_reply("3")


async def _exercise(store: Store) -> None:
    await store.append("a", ChatTurn(role="user", content="one"), ChatTurn(role="assistant", content="two"))
    await store.append("a", ChatTurn(role="user", content="三"))
    assert [t["content"] for t in await store.history("a")] == ["one", "two", "三"]
    assert [t["content"] for t in await store.history("a", 2)] == ["two", "三"]
    assert await store.history("a", 0) == []
    assert await store.history("nobody") == []
    await store.set_state("a", {"lang": "zh", "n": [1, 2]})
    assert await store.get_state("a") == {"lang": "zh", "n": [1, 2]}
    await store.clear("a")
    assert await store.history("a") == []
    assert await store.get_state("a") == {}


async def test_sqlite_and_memory_stores_behave_alike(tmp_path: Path) -> None:
    await _exercise(MemoryStore())
    sqlite = SqliteStore(tmp_path / "s.db")
    await _exercise(sqlite)
    await sqlite.close()


async def test_concurrent_conversations_do_not_interleave(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.db")

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
    await store.close()
