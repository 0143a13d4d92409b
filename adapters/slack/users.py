"""Users' languages on Slack: events do not carry them, ``users.info`` with ``include_locale`` does.

Each user is looked up once and remembered (a bounded cache); the lookup runs in the message's own task,
after Slack's request was acknowledged, and is given up after ``timeout_s``. A failed lookup (the app lacks
``users:read``, Slack is slow or down) leaves ``User.language`` None, so botkit's texts fall back to the
configured language, and is tried again only after ``retry_after_s``: a message is never held back by it.

A lookup runs before the message takes its place in the conversation's lane, so a slow lookup for one user
could let a later message of another user (already known) overtake it; :meth:`UserLocales.with_language`
therefore hands messages of one conversation on in the order they arrived.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from typing import TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from botkit.message import Event, Message

log = logging.getLogger("botkit.adapters.slack")
# A message stays a message and an event an event when its author's language is filled in.
IncomingT = TypeVar("IncomingT", bound=Message | Event)


class UserLocales:
    """Slack users' locales (``"en-US"``, ``"zh-CN"``) by user id, looked up through ``users.info``.

    Args:
        client: the Web API client.
        size: users remembered at most (the least recently used are forgotten first).
        timeout_s: how long a lookup may take before the message goes on without a language.
        retry_after_s: how long a failed lookup is remembered as "unknown" before it is tried again.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        size: int = 10_000,
        timeout_s: float = 2.0,
        retry_after_s: float = 600.0,
    ) -> None:
        self._client = client
        self._size = size
        self.timeout_s = timeout_s
        self._retry_after_s = retry_after_s
        # user id -> (locale or None, monotonic time until which a None stands; inf for a real answer)
        self._known: OrderedDict[str, tuple[str | None, float]] = OrderedDict()
        # conversation key -> set when the latest message taken in there has been handed on
        self._last_out: dict[str, asyncio.Event] = {}

    def cached(self, user_id: str) -> tuple[bool, str | None]:
        """(known, locale): whether ``user_id`` was looked up (and the answer stands), and its locale."""
        entry = self._known.get(user_id)
        if entry is None or entry[1] < time.monotonic():
            return False, None
        self._known.move_to_end(user_id)
        return True, entry[0]

    async def locale(self, user_id: str) -> str | None:
        """The user's locale, from the cache or ``users.info``; None when Slack does not tell it."""
        known, locale = self.cached(user_id)
        if known:
            return locale
        try:
            async with asyncio.timeout(self.timeout_s):
                response = await self._client.users_info(user=user_id, include_locale=True)
            user = response.get("user") or {}
            found = user.get("locale") if isinstance(user, dict) else None
            locale = str(found) if found else None
            self._remember(user_id, locale, float("inf"))
        except (SlackApiError, TimeoutError, OSError, ValueError) as exc:  # the message goes on without it
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            log.warning("slack: users.info for %s failed (%s); their language stays unknown", user_id, reason)
            self._remember(user_id, None, time.monotonic() + self._retry_after_s)
            return None
        return locale

    def _remember(self, user_id: str, locale: str | None, until: float) -> None:
        self._known[user_id] = (locale, until)
        self._known.move_to_end(user_id)
        while len(self._known) > self._size:
            self._known.popitem(last=False)

    async def with_language(self, incoming: IncomingT) -> IncomingT:
        """``incoming`` with its author's ``language`` where Slack tells it (an intake ``prepare`` hook).

        Returns no earlier than the previous message of the same conversation was handed on.
        """
        key = incoming.conversation.key
        before, mine = self._last_out.get(key), asyncio.Event()
        self._last_out[key] = mine
        try:
            if incoming.author.language is not None or not incoming.author.id:
                found = incoming
            else:
                found = self._with(incoming, await self.locale(incoming.author.id))
            if before is not None:
                await before.wait()
        finally:
            # The waiter after us wakes on a later turn of the loop, when this message holds its lane.
            mine.set()
            if self._last_out.get(key) is mine:
                del self._last_out[key]
        return found

    def with_cached_language(self, incoming: IncomingT) -> IncomingT:
        """Like :meth:`with_language`, from the cache only (for answers that must come within seconds)."""
        return self._with(incoming, self.cached(incoming.author.id)[1])

    @staticmethod
    def _with(incoming: IncomingT, locale: str | None) -> IncomingT:
        if locale is None:
            return incoming
        return dataclasses.replace(incoming, author=dataclasses.replace(incoming.author, language=locale))
