"""Slack: one room for everything the platform needs.

``adapter`` (:class:`SlackAdapter`: the Events API server or Socket Mode, the walk of an event, settings
checks), ``events`` (payloads to botkit messages and events: pure functions), ``format`` (Slack's escaping
and blocks), ``send`` (replies in threads, through response URLs, streamed as edits) and ``fake_server``
(a fake Web API, Events API sender and Socket Mode server for tests and benchmarks).
"""

from botkit.adapters.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]
