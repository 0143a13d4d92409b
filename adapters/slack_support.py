"""Process-level helpers of the Slack adapter: secret redaction in logs, one lane per conversation."""

from __future__ import annotations

import logging
from typing import Any


class SecretRedactor:
    """Replaces secrets with ``[redacted]`` in every log record of the process, tracebacks included.

    It wraps the log record factory rather than filtering chosen loggers: a filter on a logger misses
    loggers created later and records propagating from child loggers, and a library (or aiohttp, in an
    exception message) may log a URL or header holding a token from anywhere. One instance serves every
    Slack adapter in the process; each adds its secrets.
    """

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self._installed = False

    def install(self, *secrets: str) -> None:
        """Start redacting ``secrets`` (empty strings are ignored)."""
        self.secrets.update(s for s in secrets if s)
        if self._installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if self.secrets:
                try:
                    self.redact(record)
                except Exception:  # a malformed record (bad %-args) is logging's to report, not ours
                    pass
            return record

        logging.setLogRecordFactory(factory)
        self._installed = True

    def redact(self, record: logging.LogRecord) -> None:
        """Rewrite ``record`` in place if its message or traceback holds a secret."""
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            record.msg, record.args = self._clean(message), None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            if any(s in text for s in self.secrets):
                record.exc_text = self._clean(text)  # formatters print exc_text instead of re-formatting

    def _clean(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


REDACTOR = SecretRedactor()
