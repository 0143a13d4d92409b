"""The Alembic migrations: a first-generation SQLite store upgraded with its history kept, the schema equal
to ``botkit.db.schema`` on SQLite and PostgreSQL, repeated and concurrent upgrades."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, inspect, select, text

from botkit.config import Settings
from botkit.db import metadata, open_engine
from botkit.db.migrate import MIGRATIONS, alembic_config, head_revision, upgrade
from botkit.db.schema import turns
from botkit.runtime import build_store
from botkit.stores import SqlStore
from botkit.types import ChatTurn

# The first store's schema, verbatim from botkit/stores/sqlite.py before SQLAlchemy (commit 94a2f30), and
# the statements it wrote rows with: the fixture data a user's existing .botkit/botkit.sqlite3 holds.
LEGACY_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    created REAL NOT NULL DEFAULT (julianday('now'))
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation, id);
CREATE TABLE IF NOT EXISTS state (
    conversation TEXT PRIMARY KEY,
    data TEXT NOT NULL
);
"""
LEGACY_INSERT_TURN = "INSERT INTO turns (conversation, role, content) VALUES (?, ?, ?)"
LEGACY_SET_STATE = (
    "INSERT INTO state (conversation, data) VALUES (?, ?)"
    " ON CONFLICT(conversation) DO UPDATE SET data = excluded.data"
)

HISTORY = {
    "telegram:42": [("user", "hello"), ("assistant", "Hi! How can I help?"), ("user", "我的订单在哪里？")],
    "discord:7": [("user", "/start"), ("assistant", "welcome")],
}
STATE = {"telegram:42": {"lang": "zh", "form": {"step": 2, "answers": ["红色", 3]}}, "discord:7": {"n": 1}}
NEW_TABLES = {"conversations", "tickets", "ticket_events", "desk_events", "kb_documents", "kb_chunks"}


def julian_day_to_utc(day: float) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day - 2440587.5)


def write_legacy_store(path: Path) -> dict[int, datetime]:
    """A store file as the first SqliteStore left it; returns each turn's id -> its ``created`` time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(LEGACY_SCHEMA)
    for key, lines in HISTORY.items():
        conn.execute("BEGIN")
        conn.executemany(LEGACY_INSERT_TURN, [(key, role, content) for role, content in lines])
        conn.execute("COMMIT")
    for key, data in STATE.items():
        conn.execute(LEGACY_SET_STATE, (key, json.dumps(data, ensure_ascii=False)))
    # An older turn, from another day, with its own time.
    conn.execute(
        "INSERT INTO turns (conversation, role, content, created) VALUES ('old:1', 'user', 'last year', ?)",
        (2461000.25,),
    )
    created = {row[0]: julian_day_to_utc(row[1]) for row in conn.execute("SELECT id, created FROM turns")}
    conn.close()
    return created


@pytest.fixture
def legacy_store(tmp_path: Path) -> tuple[Path, dict[int, datetime]]:
    path = tmp_path / ".botkit" / "botkit.sqlite3"
    return path, write_legacy_store(path)


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata))


async def test_a_legacy_sqlite_store_keeps_its_history_state_and_times(
    legacy_store: tuple[Path, dict[int, datetime]],
) -> None:
    path, created = legacy_store
    # What a user upgrading botkit meets: the settings' default store on the same data_dir.
    store = build_store(Settings(data_dir=path.parent))
    assert isinstance(store, SqlStore)
    for key, lines in HISTORY.items():
        assert await store.history(key) == [ChatTurn(role=r, content=c) for r, c in lines]  # type: ignore[typeddict-item]
        assert await store.get_state(key) == STATE[key]
    assert await store.history("old:1") == [ChatTurn(role="user", content="last year")]
    with store.engine.connect() as conn:
        kept = {row.id: row.created_at for row in conn.execute(select(turns.c.id, turns.c.created_at))}
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    assert kept.keys() == created.keys()
    for turn_id, when in created.items():
        assert abs(kept[turn_id] - when) < timedelta(milliseconds=2), turn_id
    assert kept[max(kept)] == datetime(2025, 11, 20, 18, 0, tzinfo=UTC)  # julian day 2461000.25
    assert NEW_TABLES <= set(inspect(store.engine).get_table_names())
    assert schema_diff(store.engine) == []
    # The upgraded store goes on working: new turns after the old ones, ids never reused.
    await store.append("telegram:42", ChatTurn(role="assistant", content="它明天到。"))
    assert (await store.history("telegram:42", 2))[0]["content"] == "我的订单在哪里？"
    await store.close()


async def test_a_postgresql_database_at_the_first_revision_is_carried_forward(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(
            text("INSERT INTO turns (conversation, role, content, created) VALUES ('k', 'user', 'hi', :day)"),
            {"day": 2461000.25},
        )
        conn.execute(text("INSERT INTO turns (conversation, role, content) VALUES ('k', 'assistant', 'hi!')"))
        conn.execute(text("INSERT INTO state (conversation, data) VALUES ('k', '{\"a\": [1]}')"))
    engine.dispose()
    store = SqlStore(open_engine(postgres_url))
    assert await store.history("k") == [
        ChatTurn(role="user", content="hi"),
        ChatTurn(role="assistant", content="hi!"),
    ]
    assert await store.get_state("k") == {"a": [1]}
    with store.engine.connect() as conn:
        times = [row[0] for row in conn.execute(select(turns.c.created_at).order_by(turns.c.id))]
    assert times[0] == datetime(2025, 11, 20, 18, 0, tzinfo=UTC)
    assert abs(times[1] - datetime.now(UTC)) < timedelta(minutes=1)  # the default julianday('now') of 0001
    assert schema_diff(store.engine) == []
    await store.close()


def test_a_fresh_database_matches_the_schema_module(database_url: str) -> None:
    engine = open_engine(database_url)
    assert schema_diff(engine) == []  # schema.py changed without a migration: write one
    assert NEW_TABLES | {"turns", "state", "alembic_version"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_a_second_upgrade_changes_nothing(database_url: str) -> None:
    engine = open_engine(database_url)
    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        upgrade(engine)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    changing = {"CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE"}
    writes = [s for s in statements if s.split()[0].upper() in changing]
    assert statements  # it did look
    assert writes == []
    engine.dispose()


def test_downgrade_to_the_first_store_and_back_keeps_the_history(database_url: str) -> None:
    engine = open_engine(database_url)
    when = datetime(2026, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(turns.insert().values(conversation="k", role="user", content="hi", created_at=when))
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0001")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT content FROM turns")).scalar() == "hi"
    upgrade(engine)
    with engine.connect() as conn:
        back = conn.execute(select(turns.c.created_at)).scalar_one()
    assert abs(back - when) < timedelta(milliseconds=1)  # a Julian day in a double holds about a microsecond
    assert schema_diff(engine) == []
    engine.dispose()


OPENER = """
import sys, time
from pathlib import Path
from botkit.db import open_engine
go = Path(sys.argv[2])
while not go.exists():
    time.sleep(0.005)
open_engine(sys.argv[1]).dispose()
print("opened")
"""


def test_processes_opening_one_fresh_database_at_once_migrate_it_once(
    database_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, database_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    time.sleep(2.0)  # let every interpreter start and wait at the line
    go.touch()
    results = [opener.communicate(timeout=120) for opener in openers]
    for opener, (out, err) in zip(openers, results, strict=True):
        assert opener.returncode == 0, err.decode()
        assert out.decode().strip() == "opened"
    engine = create_engine(database_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [head_revision()]
    assert schema_diff(engine) == []
    engine.dispose()


NEW_COLUMN = """
import json, sys
from pathlib import Path
from sqlalchemy import Column, create_engine
from botkit.db.schema import UtcDateTime, turns
from botkit.db.migrate import alembic_config, upgrade_on
from botkit.db.new_revision import write_revision

turns.append_column(Column("edited_at", UtcDateTime(), nullable=True))  # a change to schema.py
migrations = Path(sys.argv[1])
written = write_revision("turns edited at", migrations=migrations)
config = alembic_config()
config.set_main_option("script_location", str(migrations))
engine = create_engine("sqlite:///" + sys.argv[2])
with engine.begin() as conn:
    upgrade_on(conn, config)
with engine.connect() as conn:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from botkit.db.schema import metadata
    diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
print(json.dumps({"file": written.name, "text": written.read_text(), "diff": repr(diff)}))
"""


def test_a_schema_change_gets_the_next_numbered_revision(tmp_path: Path) -> None:
    migrations = tmp_path / "migrations"
    shutil.copytree(Path(MIGRATIONS), migrations, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-c", NEW_COLUMN, str(migrations), str(tmp_path / "db.sqlite3")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    head = int(head_revision(alembic_config()))
    assert result["file"] == f"{head + 1:04d}_turns_edited_at.py"
    assert f"revision = '{head + 1:04d}'" in result["text"]
    assert f"down_revision: str | None = '{head:04d}'" in result["text"]
    assert "sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True)" in result["text"]
    assert "botkit" not in result["text"]  # a revision stands alone: schema.py will change after it
    assert result["diff"] == "[]"  # the new revision brings a database to the changed schema
