"""Fake platform servers (Telegram, Discord, Slack) that speak each platform's protocol on 127.0.0.1.

Adapter tests point the real client libraries at them.
"""
