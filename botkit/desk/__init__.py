"""The support desk: handoff to people, tickets, ratings and the figures a support lead asks for.

- :class:`SupportDesk` (:mod:`botkit.desk.plugin`): answers from the knowledge base with citations, offers
  a person when unsure, and keeps the bot silent while a person owns the conversation.
- :func:`hand_off` (:mod:`botkit.desk.handoff`): move a conversation to a person (safety rules and plugins).
- :class:`AgentDesk` (:mod:`botkit.desk.agents`): what agents do, for the Slack bridge and the web console.
- :class:`Tickets` (:mod:`botkit.desk.tickets`): the ticket repository (``botkit tickets``, ``report``).
"""

from botkit.desk.agents import AgentDesk, DeskListener
from botkit.desk.handoff import DeskNotEnabled, hand_off
from botkit.desk.plugin import SupportDesk
from botkit.desk.ticket_types import (
    AlreadyOpen,
    AlreadyTaken,
    NoSuchTicket,
    Ticket,
    TicketError,
    TicketNotOpen,
)
from botkit.desk.tickets import Tickets

__all__ = [
    "AgentDesk",
    "AlreadyOpen",
    "AlreadyTaken",
    "DeskListener",
    "DeskNotEnabled",
    "NoSuchTicket",
    "SupportDesk",
    "Ticket",
    "TicketError",
    "TicketNotOpen",
    "Tickets",
    "hand_off",
]
