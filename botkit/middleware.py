"""Built-in middleware, written with the same API users have: ``async (ctx, call_next) -> None``.

Order matters: :func:`default_middleware` puts logging outermost, then input limits (cheap refusals
first), rate limiting, and the admin check closest to the handlers.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple, Protocol

from botkit.context import Context
from botkit.i18n import N_, translate_for
from botkit.types import Middleware, Next

if TYPE_CHECKING:
    from botkit.config import Settings

log = logging.getLogger("botkit.dispatch")

EMPTY = N_("I got an empty message. Send me some text, or /help to see what I can do.")
TOO_LONG = N_("That message is too long ({length:,} characters; the limit is {limit:,}). Please shorten it.")
NOT_UTF8 = N_("I couldn't read that message: it is not valid UTF-8 text. Please send it again as plain text.")
TOO_FAST = N_("You're sending messages too fast. Please wait {seconds} s and try again.")
ADMIN_ONLY = N_("Sorry, /{command} is for admins only.")


class LoggingMiddleware:
    """Logs each message's route and handling time; never its text at INFO (privacy), only at DEBUG."""

    async def __call__(self, ctx: Context, call_next: Next[Context]) -> None:
        started = time.perf_counter()
        incoming = ctx.incoming
        log.debug("in %s from %s: %r", ctx.key, incoming.author.id, ctx.text[:200])
        try:
            await call_next(ctx)
        finally:
            log.info(
                "%s %s from %s handled in %.1f ms (%d replies)",
                ctx.key,
                type(incoming).__name__.lower(),
                incoming.author.id,
                (time.perf_counter() - started) * 1000,
                len(ctx.replies),
            )


class InputLimitsMiddleware:
    """Answers empty, over-long and undecodable messages itself instead of passing them on.

    Args:
        max_chars: the longest message handed to plugins.
    """

    def __init__(self, max_chars: int = 4000) -> None:
        self.max_chars = max_chars

    async def __call__(self, ctx: Context, call_next: Next[Context]) -> None:
        message = ctx.message
        if message is None:
            await call_next(ctx)
            return
        text = message.text
        if _has_undecodable(text):
            await ctx.reply(translate_for(ctx, NOT_UTF8))
        elif not text.strip() and not message.attachments:
            if message.addressed:
                await ctx.reply(translate_for(ctx, EMPTY))
        elif len(text) > self.max_chars:
            await ctx.reply(translate_for(ctx, TOO_LONG, length=len(text), limit=self.max_chars))
        else:
            await call_next(ctx)


def _has_undecodable(text: str) -> bool:
    # Adapters decode bytes with errors="surrogateescape": bad bytes become lone surrogates.
    return any("\udc80" <= ch <= "\udcff" for ch in text)


class RateVerdict(NamedTuple):
    """One message weighed against its author's window."""

    allowed: bool
    retry_s: float  # when refused: how long until the oldest counted message leaves the window
    warn: bool  # when refused: the first refusal in this window, the one the user is told about


class RateWindow(Protocol):
    """Where the per-user windows live: this process (:class:`MemoryRateWindow`) or Redis, shared by
    every replica of the bot (``botkit.queue.cluster.RedisRateWindow``, wired by the runtime)."""

    async def hit(self, who: str, messages: int, per_seconds: float) -> RateVerdict:
        """Count one message of ``who``, unless ``messages`` were counted in the last ``per_seconds``."""


class MemoryRateWindow:
    """Sliding windows in this process's memory (bounded: idle users are forgotten).

    Args:
        clock: seconds, monotonic (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}

    async def hit(self, who: str, messages: int, per_seconds: float) -> RateVerdict:
        """Count one message of ``who``, unless ``messages`` were counted in the last ``per_seconds``."""
        now = self.clock()
        hits = self._hits.setdefault(who, deque())
        while hits and now - hits[0] >= per_seconds:
            hits.popleft()
        if len(hits) >= messages:
            retry = per_seconds - (now - hits[0])
            warn = self._warned.get(who, -math.inf) < hits[0]
            if warn:
                self._warned[who] = now
            return RateVerdict(False, retry, warn)
        hits.append(now)
        if len(self._hits) > 50_000:  # forget idle users so memory stays bounded
            self._forget_idle(now, per_seconds)
        return RateVerdict(True, 0.0, False)

    def _forget_idle(self, now: float, per_seconds: float) -> None:
        for who in [w for w, h in self._hits.items() if not h or now - h[-1] >= per_seconds]:
            self._hits.pop(who, None)
            self._warned.pop(who, None)


class RateLimitMiddleware:
    """Per-user sliding-window limit: at most ``messages`` per ``per_seconds``.

    The first refused message gets a reply saying how long to wait; further ones in the same window are
    dropped silently, so a flood does not turn into a flood of refusals. ``window`` keeps the counts
    (this process's memory by default; the runtime gives replicas one shared through Redis).
    """

    def __init__(
        self,
        messages: int = 20,
        per_seconds: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        window: RateWindow | None = None,
    ) -> None:
        self.messages = messages
        self.per_seconds = per_seconds
        self.window: RateWindow = window or MemoryRateWindow(clock)

    async def __call__(self, ctx: Context, call_next: Next[Context]) -> None:
        who = f"{ctx.incoming.platform}:{ctx.incoming.author.id}"
        verdict = await self.window.hit(who, self.messages, self.per_seconds)
        if verdict.allowed:
            await call_next(ctx)
        elif verdict.warn:
            await ctx.reply(translate_for(ctx, TOO_FAST, seconds=max(1, math.ceil(verdict.retry_s))))


class AdminOnlyMiddleware:
    """Refuses commands marked ``admin_only`` unless the author is listed as ``platform:user_id``."""

    def __init__(self, admins: Iterable[str]) -> None:
        self.admins = frozenset(admins)

    async def __call__(self, ctx: Context, call_next: Next[Context]) -> None:
        command = ctx.command
        if command is not None:
            handler = ctx.bot.commands.get(command.name)
            who = f"{ctx.incoming.platform}:{ctx.incoming.author.id}"
            if handler is not None and handler.spec.admin_only and who not in self.admins:
                await ctx.reply(translate_for(ctx, ADMIN_ONLY, command=command.name))
                return
        await call_next(ctx)


def default_middleware(settings: Settings) -> list[Middleware[Context]]:
    """The stack ``botkit chat`` and ``botkit run`` use, from the configuration."""
    stack: list[Middleware[Context]] = [
        LoggingMiddleware(),
        InputLimitsMiddleware(settings.limits.max_input_chars),
    ]
    if settings.rate_limit.enabled:
        stack.append(RateLimitMiddleware(settings.rate_limit.messages, settings.rate_limit.per_seconds))
    stack.append(AdminOnlyMiddleware(settings.admins))
    return stack
