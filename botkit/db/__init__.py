"""One database for everything botkit keeps: conversations, turns, state, tickets and the knowledge base.

SQLite under the bot's ``data_dir`` by default (``make chat`` needs no server); PostgreSQL when
``database_url`` names one. :mod:`botkit.db.schema` is the schema; :mod:`botkit.db.engine` opens it.
"""

from botkit.db.engine import database_url, open_engine
from botkit.db.schema import metadata

__all__ = ["database_url", "metadata", "open_engine"]
