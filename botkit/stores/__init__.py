"""Conversation stores: where history and per-conversation state live."""

from botkit.stores.memory import MemoryStore
from botkit.stores.sqlite import SqliteStore

__all__ = ["MemoryStore", "SqliteStore"]
