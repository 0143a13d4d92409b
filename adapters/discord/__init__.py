"""Discord: one room for everything the platform needs.

``adapter`` (:class:`DiscordAdapter`: the gateway session, the walk of an event, settings checks),
``format`` (payloads to botkit messages and events, replies to message bodies: pure functions),
``send`` (replies as messages, interaction follow-ups and streamed edits), ``interactions`` (the signed
HTTP interactions endpoint) and ``fake_server`` (a fake REST API and gateway for tests and benchmarks).
"""

from botkit.adapters.discord.adapter import DiscordAdapter

__all__ = ["DiscordAdapter"]
