"""``SafetyMiddleware``: a preset's safety rules applied to every incoming message, before any plugin.

On each message, in this order:

1. emergency words: the emergency message is sent first, then the rule's ``then`` says whether the bot
   stops there, answers as usual as well, or hands the conversation to a person;
2. the disclaimer, once per conversation (kept in the conversation's state, so a restart does not repeat it);
3. refused topics: the topic's refusal instead of an answer;
4. handoff words: :func:`botkit.desk.hand_off` moves the conversation to a person at once (a bot without
   the support desk logs that as an error and lets the message go on: nothing the user wrote is lost);
5. otherwise the message goes on to the plugins.

Texts from the config are picked by language: the user's (where the platform tells it), else the script
of the message itself (Chinese characters choose ``zh``, so that a Chinese plea for help is not answered
in English only because the platform did not say), else the config's ``language``, else English.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, Protocol

from botkit.config import SafetySettings
from botkit.context import Context
from botkit.i18n import N_, choose_language, translate
from botkit.safety.rules import Matcher, normalise, pick_text, script_language
from botkit.types import Next

log = logging.getLogger("botkit.safety")

EMERGENCY = N_(
    "It sounds like you may be in danger or need urgent help. I am a bot and cannot help in an emergency. "
    "If you or someone near you is in immediate danger, call your local emergency number now. If you are "
    "thinking about harming yourself, please contact a crisis line in your country or someone you trust: "
    "you do not have to face this alone."
)
STATE_KEY = "safety"  # the conversation state's entry: {"disclaimer_shown": true}


class HandOff(Protocol):
    """What moves a conversation to a person: :func:`botkit.desk.hand_off` is one."""

    def __call__(self, ctx: Context, reason: str) -> Awaitable[None]: ...


class SafetyMiddleware:
    """Applies ``[safety]`` rules; install it with :func:`safety_middleware` or pass it to ``Bot``.

    Args:
        settings: the rules (``settings.safety``).
        hand_off: what handoff words call; None: :func:`botkit.desk.hand_off`, imported at the first use.
        language: the language when neither the user's nor the message's is known and the bot has no
            settings of its own (``Settings.language`` wins where the bot has them).
    """

    def __init__(
        self, settings: SafetySettings, *, hand_off: HandOff | None = None, language: str = "en"
    ) -> None:
        self.settings = settings
        self.language = language
        self._hand_off = hand_off
        self.emergency = Matcher.of(settings.emergency)
        self.topics = [(topic, Matcher.of(topic)) for topic in settings.refuse]
        self.handoff = Matcher.of(settings.handoff)

    async def __call__(self, ctx: Context, call_next: Next[Context]) -> None:
        message = ctx.message
        if message is None or not message.text.strip():
            await call_next(ctx)
            return
        text = normalise(message.text)
        languages = self._languages(ctx)
        if (found := self.emergency.search(text)) is not None:
            rule = self.settings.emergency
            # The conversation, not the words, at WARNING: what users write stays out of the logs (as in
            # LoggingMiddleware); the words that matched are there at DEBUG.
            log.warning("emergency words in conversation %s; then %s", ctx.key, rule.then)
            log.debug("emergency words in %s: %r", ctx.key, found)
            reply = (
                pick_text(rule.reply, *languages)
                if rule.reply
                else translate(EMERGENCY, choose_language(*languages))
            )
            await ctx.reply(reply)
            if rule.then == "handoff":
                await self._hand_off_now(ctx)
            if rule.then != "continue":
                return
        await self._disclaim_once(ctx, languages)
        for topic, matcher in self.topics:
            if (found := matcher.search(text)) is not None:
                log.info("refused topic %r in conversation %s", topic.name, ctx.key)
                log.debug("refused topic %r in %s: %r", topic.name, ctx.key, found)
                await ctx.reply(pick_text(topic.reply, *languages))
                return
        if (found := self.handoff.search(text)) is not None:
            log.info("handoff words in conversation %s", ctx.key)
            log.debug("handoff words in %s: %r", ctx.key, found)
            if await self._hand_off_now(ctx):
                return
        await call_next(ctx)

    def _languages(self, ctx: Context) -> tuple[str, ...]:
        """The languages to answer in, best first (see the module's docstring)."""
        configured = ctx.bot.settings.language if ctx.bot.settings is not None else self.language
        chosen = [ctx.incoming.author.language, script_language(ctx.text), configured]
        return tuple(lang for lang in chosen if lang)

    async def _disclaim_once(self, ctx: Context, languages: tuple[str, ...]) -> None:
        if not self.settings.disclaimer:
            return
        state: dict[str, Any] = ctx.state.setdefault(STATE_KEY, {})
        if state.get("disclaimer_shown"):
            return
        await ctx.reply(pick_text(self.settings.disclaimer, *languages))
        state["disclaimer_shown"] = True

    async def _hand_off_now(self, ctx: Context) -> bool:
        """Hand ``ctx``'s conversation to a person; False where the bot runs no support desk."""
        if self._hand_off is None:
            from botkit.desk import hand_off  # the layer below; imported when first needed

            self._hand_off = hand_off
        try:
            await self._hand_off(ctx, reason="keyword")
        except Exception as exc:
            from botkit.desk import DeskNotEnabled

            if not isinstance(exc, DeskNotEnabled):
                raise
            log.error("handoff words in conversation %s, but %s; the bot answers instead", ctx.key, exc)
            return False
        return True


def safety_middleware(settings: SafetySettings, *, language: str = "en") -> list[SafetyMiddleware]:
    """``[SafetyMiddleware]`` when the rules are enabled, else ``[]``: for a middleware stack's tail."""
    return [SafetyMiddleware(settings, language=language)] if settings.enabled else []
