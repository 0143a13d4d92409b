"""Engines on the throw-away test databases for the desk's tests, the schema brought up by the migrations
(as ``botkit run`` does at start-up)."""

from __future__ import annotations

from sqlalchemy import Engine

from botkit.db import open_engine


def desk_engine(url: str, *, create: bool = True) -> Engine:
    """An engine on ``url``; with ``create`` the migrations run first (a second engine on the same
    database passes False)."""
    return open_engine(url, migrate=create)
