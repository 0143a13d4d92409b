"""The support desk: handoff to people, tickets, ratings and the figures a support lead asks for."""
