"""Keeping the bot token and interaction tokens out of logs, including discord.py's own DEBUG lines.

discord.py logs request URLs (a webhook URL holds the interaction token) and, at DEBUG, whole gateway
payloads (an INTERACTION_CREATE holds it too). The bot token travels only in headers and IDENTIFY, which it
does not log, but a filter makes sure of it rather than trusting every release not to.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger("botkit.adapters.discord")

# Interaction tokens are credentials too (15 minutes): in webhook URLs and in logged gateway payloads.
_TOKEN_PATTERNS = (
    re.compile(r"(/(?:webhooks|interactions)/\d+/)[^/\s?'\"]+"),
    re.compile(r"(['\"]token['\"]:\s*['\"])[^'\"]+"),
)


class _Redactor(logging.Filter):
    """Replaces the bot token and interaction tokens in log records of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = original = record.getMessage()
        for secret in self.secrets:
            message = message.replace(secret, "[redacted]")
        for pattern in _TOKEN_PATTERNS:
            message = pattern.sub(r"\1[redacted]", message)
        if message != original:
            record.msg, record.args = message, None
        return True


_REDACTOR = _Redactor()


def redact_in_logs(secret: str) -> None:
    """Keep ``secret`` out of the records of discord.py's and this adapter's loggers.

    A filter only sees records created on its own logger, so it goes on every ``discord.*`` logger
    (discord.py creates them at import) and on ours.
    """
    _REDACTOR.secrets.add(secret)
    names = [n for n in logging.root.manager.loggerDict if n == "discord" or n.startswith("discord.")]
    for name in [*names, log.name]:
        logger = logging.getLogger(name)
        if _REDACTOR not in logger.filters:
            logger.addFilter(_REDACTOR)
