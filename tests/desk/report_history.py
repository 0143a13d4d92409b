"""A scripted week of a support desk at known times, and the figures it must give (worked out by hand).

The window is ``[T0, T0 + 7 days)``. Every row that sits on a boundary or just outside it is there to prove
that it is left out (or, at ``T0`` itself, kept in).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from botkit.db.schema import conversations, desk_events, ticket_events, tickets, turns

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, midnight UTC
UNTIL = T0 + timedelta(days=7)
H = timedelta(hours=1)
D = timedelta(days=1)
S = timedelta(seconds=1)


def _turn(conversation: str, role: str, at: datetime, content: str = "hello") -> dict[str, Any]:
    return {"conversation": conversation, "role": role, "content": content, "author": None, "created_at": at}


def _ticket(
    ticket_id: int, conversation: str, reason: str, created: datetime, **fields: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": ticket_id,
        "conversation": conversation,
        "status": "waiting",
        "reason": reason,
        "subject": f"ticket {ticket_id}",
        "assignee": None,
        "tags": [],
        "sources": [],
        "rating": None,
        "created_at": created,
        "assigned_at": None,
        "first_reply_at": None,
        "resolved_at": None,
        "closed_at": None,
        "rated_at": None,
    }
    row.update(fields)
    return row


def _event(conversation: str, kind: str, at: datetime, question: str | None) -> dict[str, Any]:
    return {
        "at": at,
        "conversation": conversation,
        "kind": kind,
        "question": question,
        "confidence": 0.2,
        "data": {},
    }


TURNS = [
    _turn("telegram:1", "user", T0 + H),
    _turn("telegram:1", "assistant", T0 + H + S),
    _turn("telegram:1", "user", T0 + H + 5 * 60 * S),
    _turn("telegram:2", "user", T0 + 2 * H),
    _turn("slack:3", "user", T0 + D),
    _turn("telegram:4", "user", T0 + 2 * D),
    _turn("telegram:5", "user", T0 + 3 * D),
    _turn("discord:6", "user", T0 + 4 * D),
    _turn("telegram:7", "user", T0 + 5 * D),
    _turn("telegram:8", "assistant", T0 + 5 * D),  # only the bot spoke: not a conversation of the window
    _turn("telegram:9", "user", T0 - S),  # just before the window
    _turn("telegram:9", "user", UNTIL),  # at its end: excluded
    _turn("telegram:10", "user", T0),  # at its start: included
]

TICKETS = [
    # before the window and ended before it: telegram:6 is contained this week
    _ticket(
        1, "discord:6", "asked", T0 - 2 * D, status="resolved", resolved_at=T0 - D, rating=4, rated_at=T0 - D
    ),
    _ticket(
        2,
        "telegram:2",
        "asked",
        T0 + 2 * H + 60 * S,
        status="resolved",
        assignee="alice",
        first_reply_at=T0 + 2 * H + 180 * S,
        resolved_at=T0 + 3 * H + 60 * S,
        rating=5,
        rated_at=T0 + 3 * H + 600 * S,
    ),
    _ticket(
        3,
        "slack:3",
        "unsure",
        T0 + D,
        status="closed",
        assignee="bob",
        first_reply_at=T0 + D + 300 * S,
        resolved_at=T0 + D + 7200 * S,
        closed_at=T0 + 2 * D,
        rating=3,
        rated_at=T0 + D + 2 * H + 5 * S,
    ),
    _ticket(
        4,
        "telegram:4",
        "asked",
        T0 + 2 * D,
        status="assigned",
        assignee="alice",
        first_reply_at=T0 + 2 * D + 60 * S,
        rating=9,
        rated_at=T0 + 2 * D + H,
    ),  # 9 is no rating
    _ticket(5, "telegram:5", "keyword", T0 + 3 * D),
    # opened before the window and resolved inside it: telegram:7 is not contained, nor handed off this week
    _ticket(
        6, "telegram:7", "asked", T0 - H, status="resolved", resolved_at=T0 + H, rating=2, rated_at=UNTIL
    ),
    # a plugin's ticket for a conversation with no user message this week; answered after the window
    _ticket(7, "telegram:11", "plugin", T0 + 6 * D, status="assigned", first_reply_at=UNTIL + 10 * S),
    _ticket(8, "telegram:12", "asked", UNTIL),  # at the window's end: excluded
    # a second ticket of telegram:2; rated without rated_at: the rating counts at resolved_at
    _ticket(
        9,
        "telegram:2",
        "unhelpful",
        T0 + 2 * H + 30 * 60 * S,
        status="resolved",
        first_reply_at=T0 + 2 * H + 40 * 60 * S,
        resolved_at=T0 + 3 * H,
        rating=1,
    ),
]

EVENTS = [
    _event("telegram:1", "unsure", T0 + H, "Where is my order?"),
    _event("telegram:2", "unsure", T0 + 2 * H, "Where is my order?"),
    _event("telegram:4", "unsure", T0 + 2 * D, "where is  my ORDER"),
    _event("telegram:5", "unsure", T0 + 3 * D, "Do you ship to Mars?"),
    _event("telegram:5", "unsure", T0 - S, "Do you ship to Mars?"),  # before the window
    _event("telegram:5", "unsure", UNTIL, "Do you ship to Mars?"),  # at its end
    _event("telegram:6", "unsure", T0 + 4 * D, "Can I pay with bitcoin"),
    _event("telegram:7", "unsure", T0 + 5 * D, "can i pay with bitcoin?"),
    _event("telegram:7", "unsure", T0 + 5 * D, "我的订单在哪里？"),
    _event("telegram:7", "unsure", T0 + 5 * D + S, "我的订单在哪里"),
    _event("telegram:7", "unsure", T0 + 5 * D, None),  # no question kept: not listed
    _event("telegram:1", "answered", T0 + H, "Where is my order?"),
    _event("telegram:1", "answered", T0 + 2 * H, "How do I return an item?"),
    _event("telegram:3", "answered", T0 + D, "Opening hours?"),
    _event("telegram:10", "answered", T0, "Opening hours?"),
    _event("telegram:10", "answered", T0 - S, "Opening hours?"),
    _event("telegram:2", "unhelpful", T0 + 2 * H, None),
    _event("telegram:2", "unhelpful", T0 + 2 * H + 20 * 60 * S, None),
    _event("telegram:2", "unhelpful", UNTIL + S, None),
]

# What the figures over [T0, UNTIL) must be.
EXPECTED_CONVERSATIONS = 8  # telegram:1,2,4,5,7,10, slack:3, discord:6
EXPECTED_CONTAINED = 3  # telegram:1, telegram:10, discord:6
EXPECTED_HANDOFFS = 6  # tickets 2, 3, 4, 5, 7, 9
EXPECTED_HANDED_OFF = 4  # telegram:2, slack:3, telegram:4, telegram:5
EXPECTED_REASONS = {"asked": 2, "keyword": 1, "plugin": 1, "unhelpful": 1, "unsure": 1}
EXPECTED_FIRST_REPLY = [120.0, 300.0, 60.0, 600.0]  # tickets 2, 3, 4, 9
EXPECTED_RESOLUTION = [3600.0, 7200.0, 1800.0]  # tickets 2, 3, 9
EXPECTED_UNANSWERED = [
    ("Where is my order?", 3),
    ("Can I pay with bitcoin", 2),
    ("我的订单在哪里", 2),
    ("Do you ship to Mars?", 1),
]
EXPECTED_CSAT = {1: 1, 2: 0, 3: 1, 4: 0, 5: 1}  # tickets 9, 3, 2
EXPECTED_DAILY = [(3, 2), (1, 1), (1, 1), (1, 1), (1, 0), (1, 0), (0, 1)]  # (conversations, handoffs)


def fill(engine: Engine) -> None:
    """Write the scripted week (and the ``conversations`` rows the desk keeps) into ``engine``'s database."""
    keys = sorted({t["conversation"] for t in TURNS} | {t["conversation"] for t in TICKETS})
    with engine.begin() as conn:
        conn.execute(insert(turns), TURNS)
        conn.execute(
            insert(conversations),
            [
                {
                    "key": key,
                    "platform": key.split(":")[0],
                    "user_id": key.split(":")[1],
                    "user_name": None,
                    "language": "en",
                    "mode": "bot",
                    "created_at": T0 - 3 * D,
                    "last_seen_at": T0,
                }
                for key in keys
            ],
        )
        conn.execute(insert(tickets), TICKETS)
        conn.execute(
            insert(ticket_events),
            [
                {"ticket_id": t["id"], "at": t["created_at"], "kind": "opened", "actor": None, "data": {}}
                for t in TICKETS
            ],
        )
        conn.execute(insert(desk_events), EVENTS)
        if engine.dialect.name == "postgresql":
            # Rows were written with explicit ids: move the sequence past them, as the desk's inserts need.
            conn.exec_driver_sql("SELECT setval('tickets_id_seq', (SELECT max(id) FROM tickets))")
