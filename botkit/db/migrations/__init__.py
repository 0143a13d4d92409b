"""Alembic migrations of :mod:`botkit.db.schema`, run by :func:`botkit.db.migrate.upgrade` (no alembic.ini).

``versions/`` holds one file per revision: ``0001`` is the schema of the first SQLite store, exactly as it
created it, so that an existing bot's file can be stamped and carried forward; ``0002`` moves to the one
schema of :mod:`botkit.db.schema`. A change to ``schema.py`` needs a new revision here: a test compares the
migrated database with the metadata on SQLite and PostgreSQL.
"""
