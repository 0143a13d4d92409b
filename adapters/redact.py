"""Keeping platform secrets out of the logs: one redactor for the whole process, for every adapter.

Client libraries log what they send: httpx logs every request URL (a Telegram URL holds the bot token),
discord.py logs webhook URLs and, at DEBUG, whole gateway payloads (both hold interaction tokens), and an
exception message may quote a URL or header from anywhere. So the redactor wraps the log record factory
rather than filtering chosen loggers: a filter on a logger misses loggers created later and records
propagating from child loggers, and every record of the process passes through the factory.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from typing import Any

MARK = "[redacted]"


class SecretRedactor:
    """Replaces secrets with ``[redacted]`` in every log record of the process, tracebacks included.

    Adapters add their secrets when they start and discard them when they stop; a secret two adapters
    hold stays redacted until both let go. Patterns catch credentials that are not known in advance (a
    Discord interaction's token): group 1 of each pattern is kept and the rest of the match redacted.
    """

    def __init__(self) -> None:
        self._secrets: Counter[str] = Counter()
        self._patterns: list[re.Pattern[str]] = []
        self._installed = False

    def add(self, *secrets: str) -> None:
        """Start redacting ``secrets`` (empty strings are ignored)."""
        self._secrets.update(s for s in secrets if s)
        self._install()

    def discard(self, *secrets: str) -> None:
        """Stop redacting ``secrets`` once every adapter that added them has discarded them."""
        self._secrets.subtract(s for s in secrets if s)
        for secret in [s for s, count in self._secrets.items() if count <= 0]:
            del self._secrets[secret]

    def add_pattern(self, pattern: re.Pattern[str]) -> None:
        """Also redact what ``pattern`` matches after its group 1 (kept for good: patterns hold no secret)."""
        if pattern not in self._patterns:
            self._patterns.append(pattern)
        self._install()

    def holds(self, secret: str) -> bool:
        """Whether ``secret`` is redacted now."""
        return secret in self._secrets

    def clean(self, text: str) -> str:
        """``text`` with every secret and pattern match redacted."""
        for secret in self._secrets:
            text = text.replace(secret, MARK)
        for pattern in self._patterns:
            text = pattern.sub(rf"\1{MARK}", text)
        return text

    def redact(self, record: logging.LogRecord) -> None:
        """Rewrite ``record`` in place if its message or traceback holds a secret."""
        message = record.getMessage()
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            cleaned = self.clean(text)
            if cleaned != text:
                record.exc_text = cleaned  # formatters print exc_text instead of formatting again

    def _install(self) -> None:
        if self._installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if self._secrets or self._patterns:
                try:
                    self.redact(record)
                except Exception:  # a malformed record (bad %-args) is logging's to report, not ours
                    pass
            return record

        logging.setLogRecordFactory(factory)
        self._installed = True


#: The process's redactor; every adapter adds its secrets here.
REDACTOR = SecretRedactor()
