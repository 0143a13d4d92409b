"""``botkit tickets list | show ID | close ID``: the support desk's tickets from the command line.

Registered through the ``botkit.commands`` entry points. The work is done by the ticket repository
(:class:`botkit.desk.tickets.Tickets`), imported when the command runs, so that ``botkit --help`` stays
fast. Exit codes: 0 done; 1 no such ticket, a ticket already closed, or no database; 2 a bad command line
or configuration.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from botkit.desk.tickets import Ticket, Tickets

STATUS_CHOICES = ("waiting", "assigned", "resolved", "closed", "open")  # open: waiting or assigned
SUBJECT_WIDTH = 48


def register_tickets(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``botkit tickets``: list, show and close the desk's tickets."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tickets",
        help="list, show and close the support desk's tickets",
        description="The support desk's tickets, from the bot's database.",
    )
    parser.set_defaults(handler=lambda _args: _usage(parser))
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    listing = actions.add_parser("list", help="tickets as a table, oldest first")
    listing.add_argument("--status", choices=STATUS_CHOICES, help="only these (open: waiting or assigned)")
    listing.add_argument("--assignee", metavar="AGENT", help="only this agent's")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="one ticket: its fields, the transcript and its events")
    show.add_argument("id", type=int, metavar="ID")
    show.set_defaults(handler=_show)

    close = actions.add_parser(
        "close", help="close a ticket; an open one hands its conversation back to the bot"
    )
    close.add_argument("id", type=int, metavar="ID")
    close.add_argument(
        "--actor", default="cli", metavar="NAME", help="who closed it, for its history (default: cli)"
    )
    close.set_defaults(handler=_close)

    for action in (listing, show, close):
        action.add_argument(
            "--config", metavar="FILE", help="botkit.toml (default: $BOTKIT_CONFIG or ./botkit.toml)"
        )
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _repository(args: argparse.Namespace) -> Tickets | int:
    from botkit.desk.report_cli import open_database
    from botkit.desk.tickets import Tickets

    engine = open_database(args.config, "tickets")
    return engine if isinstance(engine, int) else Tickets(engine)


def _engine_of(repository: Tickets) -> Engine:
    return repository.engine


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}"


def _short(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def format_ticket_table(found: Sequence[Ticket]) -> str:
    """Tickets as an aligned table: id, status, reason, assignee, opened (UTC), conversation, subject."""
    header = ("ID", "STATUS", "REASON", "ASSIGNEE", "OPENED (UTC)", "CONVERSATION", "SUBJECT")
    rows = [
        (
            str(t.id),
            t.status,
            t.reason,
            t.assignee or "-",
            _when(t.created_at),
            t.conversation,
            _short(t.subject, SUBJECT_WIDTH),
        )
        for t in found
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.rjust(w) if i == 0 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in [header, *rows]
    )


def _list(args: argparse.Namespace) -> int:
    from botkit.desk.ticket_types import OPEN_STATUSES

    repository = _repository(args)
    if isinstance(repository, int):
        return repository
    try:
        status = OPEN_STATUSES if args.status == "open" else args.status
        found = repository.list(status=status, assignee=args.assignee)
    finally:
        _engine_of(repository).dispose()
    print(format_ticket_table(found) if found else "no tickets")
    return 0


def _show(args: argparse.Namespace) -> int:
    from botkit.desk.ticket_types import NoSuchTicket

    repository = _repository(args)
    if isinstance(repository, int):
        return repository
    try:
        ticket = repository.get(args.id)
        transcript = repository.transcript(args.id)
        events = repository.events(args.id)
    except NoSuchTicket as exc:
        print(f"botkit tickets: {exc}", file=sys.stderr)
        return 1
    finally:
        _engine_of(repository).dispose()
    fields = [
        ("status", ticket.status),
        ("reason", ticket.reason),
        ("conversation", ticket.conversation),
        ("subject", ticket.subject or "-"),
        ("assignee", ticket.assignee or "-"),
        ("tags", ", ".join(ticket.tags) or "-"),
        ("rating", "-" if ticket.rating is None else f"{ticket.rating} / 5"),
        ("opened", _when(ticket.created_at)),
        ("assigned", _when(ticket.assigned_at)),
        ("first reply", _when(ticket.first_reply_at)),
        ("resolved", _when(ticket.resolved_at)),
        ("closed", _when(ticket.closed_at)),
        ("agents' thread", " ".join(filter(None, (ticket.agent_thread, ticket.agent_thread_id))) or "-"),
    ]
    lines = [f"Ticket #{ticket.id} (times in UTC)"]
    lines += [f"  {name + ':':<16}{value}" for name, value in fields]
    lines.append("Sources the bot had:" if ticket.sources else "Sources the bot had: none")
    lines += [f"  {source.label()}" + (f" <{source.url}>" if source.url else "") for source in ticket.sources]
    lines.append(f"Transcript ({len(transcript)} turns):" if transcript else "Transcript: empty")
    lines += [f"  [{_when(line.at)}] {line.speaker}: {line.content}" for line in transcript]
    lines.append(f"Events ({len(events)}):")
    for event in events:
        data = ", ".join(f"{k}={v}" for k, v in event.data.items())
        lines.append(
            f"  [{_when(event.at)}] {event.kind}"
            + (f" by {event.actor}" if event.actor else "")
            + (f" ({data})" if data else "")
        )
    print("\n".join(lines))
    return 0


def _close(args: argparse.Namespace) -> int:
    from botkit.desk.ticket_types import NoSuchTicket, TicketNotOpen

    repository = _repository(args)
    if isinstance(repository, int):
        return repository
    try:
        before = repository.get(args.id)
        closed = repository.close(args.id, actor=args.actor)
    except NoSuchTicket as exc:
        print(f"botkit tickets: {exc}", file=sys.stderr)
        return 1
    except TicketNotOpen as exc:
        print(f"botkit tickets: {exc} already; nothing changed", file=sys.stderr)
        return 1
    finally:
        _engine_of(repository).dispose()
    back = f"; {closed.conversation} is answered by the bot again" if before.is_open else ""
    print(f"closed ticket #{closed.id} (was {before.status}){back}")
    return 0
