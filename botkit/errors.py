"""Errors that reach users: their messages are written to be shown in the chat as they are."""

from __future__ import annotations

from botkit.i18n import N_

# Message ids of botkit/locale: the chat plugin translates these into the user's language.
BUSY = N_("I'm busy right now, please try again in a moment.")
TOO_SLOW = N_("That took me too long to answer; please try again.")
NO_WORKER = N_("No model worker has started yet; please try again in a moment.")


class BotkitError(Exception):
    """Base of botkit's own errors."""


class GenerationFailed(BotkitError):
    """The model could not produce this reply (too long a prompt, a crashed batch...)."""


class ModelBusy(GenerationFailed):
    """The model cannot be reached right now (broker down, queue full); trying again later may work."""

    def __init__(self, message: str = BUSY) -> None:
        super().__init__(message)


class GenerationTimeout(GenerationFailed):
    """The reply took longer than the configured limit."""

    def __init__(self, message: str = TOO_SLOW) -> None:
        super().__init__(message)


class ConversationClosed(BotkitError):
    """The platform no longer lets the bot write to this conversation (blocked, removed, archived).

    Attributes:
        key: the conversation's store key.
        reason: the platform's own words for it.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"cannot write to {key}: {reason}")
        self.key = key
        self.reason = reason


class AttachmentTooLarge(BotkitError):
    """An attachment is larger than the configured ``limits.max_attachment_bytes``."""

    def __init__(self, name: str, size: int, limit: int) -> None:
        super().__init__(f"{name} is {size:,} bytes; the limit is {limit:,}")
        self.name = name
        self.size = size
        self.limit = limit
