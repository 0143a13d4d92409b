"""One rule for every parser of platform payloads: a payload that does not have the shape the platform
documents is ignored with a warning, never raised.

Parsers read deep into nested JSON (``event["user"]``, ``m.get("id")`` for each mention); a buggy client, a
new API version or anyone who can reach an unsigned port can send any shape there. Each parser's public
function is wrapped here, so the shape errors of all its helpers end in one place, and the next valid
payload is still handled (tests/adapters/test_parsers_fuzz.py feeds them mutated real payloads).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

# What reading an unexpected shape raises: a missing key, a list where a dict was expected, int("x"),
# .get on None, an index past the end, a number too large for a float or a date.
SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError)


def ignore_malformed(
    platform: str, ignored: Callable[[str], Any], what: str = "payload"
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Make a parser return ``ignored(reason)`` (and log a warning) for a payload of the wrong shape.

    Args:
        platform: for the log.
        ignored: builds the parser's "not for the bot" result from the reason (``None``, ``Skip(reason)``).
        what: the payload's name in the reason ("update" for Telegram).
    """
    log = logging.getLogger(f"botkit.adapters.{platform}")

    def wrap(parse: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(parse)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return parse(*args, **kwargs)
            except SHAPE_ERRORS as exc:
                reason = f"malformed {what} ({type(exc).__name__}: {exc})"
                log.warning("%s: %s", platform, reason)
                result: R = ignored(reason)
                return result

        return guarded

    return wrap


def none(_reason: str) -> Any:
    """The "ignored" result of parsers that return None for what the bot must not see."""
    return None
