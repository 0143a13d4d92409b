"""The audit log: every admin action in the console, written to ``audit_log`` (who, what, target, when).

Admins' changes (users, the knowledge base, settings) are written here in the same request that makes them,
after the change succeeded; a change that failed is written too, with its error, so an attempt is never
invisible. The console's audit page reads it back, newest first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from botkit.db.schema import audit_log
from botkit.desk.records import Clock, utc_now


@dataclass(frozen=True)
class AuditEntry:
    """One admin action."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: Mapping[str, Any]


class AuditLog:
    """Writes and reads ``audit_log``.

    Args:
        engine: the bot's database.
        clock: what "now" is.
    """

    def __init__(self, engine: Engine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    def record(self, actor: str, action: str, target: str = "", **detail: Any) -> None:
        """Write one entry: ``actor`` did ``action`` (``user.add``, ``kb.delete``...) to ``target``."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(audit_log).values(
                    at=self.clock(), actor=actor, action=action, target=target[:1024], detail=detail
                )
            )

    def recent(self, limit: int = 200, *, action: str | None = None) -> list[AuditEntry]:
        """The newest ``limit`` entries (of ``action`` only, when given), newest first."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if action:
            query = query.where(audit_log.c.action == action)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [AuditEntry(int(r.id), r.at, r.actor, r.action, r.target, dict(r.detail or {})) for r in rows]
