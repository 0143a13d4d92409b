"""Conversation stores: where history and per-conversation state live."""

from botkit.stores.memory import MemoryStore
from botkit.stores.sql import SqlStore
from botkit.stores.sqlite import SqliteStore

__all__ = ["MemoryStore", "SqlStore", "SqliteStore"]
