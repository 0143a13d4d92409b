"""Writing the next migration after a change to :mod:`botkit.db.schema` (for botkit's developers).

``python -m botkit.db.new_revision "what changed"`` migrates a scratch SQLite database to the current head,
compares it with the metadata and writes ``migrations/versions/NNNN_what_changed.py`` with the operations
Alembic found. Read and finish it (data moves, PostgreSQL specifics) before committing: the migration test
(``tests/core/test_migrations.py``) then checks both databases against the metadata.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from pathlib import Path

from alembic import command
from alembic.script import Script
from sqlalchemy import create_engine

from botkit.db.migrate import alembic_config, head_revision, upgrade_on


def write_revision(message: str, *, migrations: Path | None = None) -> Path:
    """Autogenerate the next numbered revision; returns the path of the file written.

    Args:
        message: what the revision does; also its file name (``0003_add_ticket_priority.py``).
        migrations: the migrations folder (default: botkit's own).
    """
    config = alembic_config()
    if migrations is not None:
        config.set_main_option("script_location", str(migrations).replace("%", "%%"))
    next_id = f"{int(head_revision(config)) + 1:04d}"
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_engine(f"sqlite:///{Path(scratch) / 'head.sqlite3'}")
        try:
            with engine.begin() as conn:
                upgrade_on(conn, config)
                config.attributes["connection"] = conn
                script = command.revision(config, message=message, autogenerate=True, rev_id=next_id)
        finally:
            engine.dispose()
    assert isinstance(script, Script), script  # one revision, on one head
    return Path(script.path)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m botkit.db.new_revision", description=__doc__)
    parser.add_argument("message", help='what changed, e.g. "add ticket priority"')
    print(write_revision(parser.parse_args(argv).message))


if __name__ == "__main__":
    main()
