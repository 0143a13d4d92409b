"""One database for everything botkit keeps: conversations, turns, state, tickets and the knowledge base.

SQLite under the bot's ``data_dir`` by default (``make chat`` needs no server); PostgreSQL when
``database_url`` names one. :mod:`botkit.db.schema` is the schema; :mod:`botkit.db.engine` opens it and
:mod:`botkit.db.migrate` brings it up to date with the Alembic migrations in :mod:`botkit.db.migrations`.
"""

from botkit.db.engine import DatabaseUnavailable, database_url, open_engine
from botkit.db.schema import metadata

__all__ = ["DatabaseUnavailable", "database_url", "metadata", "open_engine"]
