"""Telegram: one room for everything the platform needs.

``adapter`` (:class:`TelegramAdapter`, the life cycle and the walk of an update), ``receive`` (long polling
and the webhook), ``parse`` (raw update JSON to botkit messages and events), ``send`` (replies, streamed
edits, flood control) and ``fake_server`` (a fake Bot API for tests and benchmarks).
"""

from botkit.adapters.telegram.adapter import TelegramAdapter

__all__ = ["TelegramAdapter"]
