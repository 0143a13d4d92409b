"""The default fallback: anything that is not a command goes to the dialogue model.

The prompt is the system prompt, the stored history and the new message, trimmed (oldest turns first)
so that prompt plus reply fit the model's context window, measured in the model's own tokens.

The model reads text only: a message that brings nothing but attachments (a photo, a file) gets a polite
refusal here, after every other plugin had the chance to read it; a photo with a caption is answered as
its caption.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

from botkit.config import ChatSettings, ModelSettings
from botkit.context import Context
from botkit.errors import GenerationFailed
from botkit.i18n import N_, translate_for
from botkit.plugin import FALLBACK_PRIORITY, Plugin, on_message
from botkit.types import ChatTurn, Generator

log = logging.getLogger("botkit.chat")

MIN_REPLY_TOKENS = 16

UNKNOWN_COMMAND = N_("I don't know the command /{name}. Send /help to see what I can do.")
ATTACHMENTS_ONLY = N_("I can only read text; please type your message (I can't open {kinds} attachments).")
EMPTY_REPLY = N_("I don't know what to say to that. Could you put it another way?")
TOO_LONG = N_(
    "That message is too long for me to read ({tokens} tokens; I can read about {limit}). Please shorten it."
)


class PromptTooLong(GenerationFailed):
    """Even with no history, the new message does not fit the context window."""

    def __init__(self, tokens: int, limit: int) -> None:
        super().__init__(TOO_LONG.format(tokens=tokens, limit=limit))
        self.tokens = tokens
        self.limit = limit


def trim_to_window(
    model: Generator, system: str, history: Sequence[ChatTurn], user: ChatTurn, reserve: int
) -> list[ChatTurn]:
    """The longest suffix of ``history`` such that the prompt leaves ``reserve`` tokens for the reply.

    The reply never reserves more than half the window; a message too long for any history is still
    sent alone if it leaves at least ``MIN_REPLY_TOKENS`` for the reply.

    Raises:
        PromptTooLong: when the system prompt and ``user`` alone do not fit.
    """
    head: list[ChatTurn] = [ChatTurn(role="system", content=system)] if system else []
    window = model.context_window
    reserve = min(reserve, window // 2)  # a long reply limit must not crowd out the conversation
    budget = window - reserve
    alone = model.count_tokens([*head, user])
    if alone > budget:
        # No history fits; the message alone may still, with a shorter reply (the backend caps it).
        floor = window - min(reserve, MIN_REPLY_TOKENS)
        if alone > floor:
            raise PromptTooLong(alone, max(floor, 0))
        return [*head, user]
    turns = list(history)
    # Binary search for the fewest turns to drop: count_tokens runs O(log n) times, not O(n).
    low, high = 0, len(turns)
    while low < high:
        mid = (low + high) // 2
        if model.count_tokens([*head, *turns[mid:], user]) <= budget:
            high = mid
        else:
            low = mid + 1
    kept = turns[low:]
    while kept and kept[0]["role"] == "assistant":  # never open the history mid-exchange
        kept = kept[1:]
    return [*head, *kept, user]


class ChatPlugin(Plugin):
    """Sends the conversation to the dialogue model and streams its reply."""

    name = "chat"

    @on_message(priority=FALLBACK_PRIORITY)
    async def chat(self, ctx: Context) -> None:
        """Talk with the dialogue model: anything that is not a command."""
        if ctx.command is not None:
            await ctx.reply(translate_for(ctx, UNKNOWN_COMMAND, name=ctx.command.name))
            return
        message = ctx.message
        if message is None:
            return
        if not message.text.strip():
            kinds = sorted({a.kind for a in message.attachments})
            if kinds:  # no plugin before this one took the files; the model cannot see them
                await ctx.reply(translate_for(ctx, ATTACHMENTS_ONLY, kinds=" and ".join(kinds)))
            return
        settings = ctx.bot.settings
        chat = settings.chat if settings else ChatSettings()
        model_settings = settings.model if settings else ModelSettings()
        model = ctx.model
        params = model_settings.sampling_params()
        user = ChatTurn(role="user", content=message.text)
        history = await ctx.history(chat.history_turns)
        key = f"{message.platform}:{message.conversation.id}:{message.id}" if message.id else None
        try:
            prompt = trim_to_window(model, chat.system_prompt, history, user, params.max_new_tokens)
            deltas = model.stream(prompt, params, key=key)
            first = await _first_delta(deltas)
        except GenerationFailed as exc:
            await ctx.reply(_in_their_language(ctx, exc))
            return
        if first is None:
            await ctx.reply(translate_for(ctx, EMPTY_REPLY))
            return
        try:
            text = await ctx.stream(_prepend(first, deltas))
        except GenerationFailed as exc:
            log.warning("generation failed mid-reply in %s: %s", ctx.key, exc)
            await ctx.reply(_in_their_language(ctx, exc))
            return
        await ctx.store.append(ctx.key, user, ChatTurn(role="assistant", content=text))


def _in_their_language(ctx: Context, exc: GenerationFailed) -> str:
    """The failure's text in the user's language (botkit's busy and timeout texts are message ids)."""
    if isinstance(exc, PromptTooLong):
        return translate_for(ctx, TOO_LONG, tokens=exc.tokens, limit=exc.limit)
    return translate_for(ctx, str(exc))


async def _first_delta(deltas: AsyncIterator[str]) -> str | None:
    """Wait for the first non-empty piece, so failures surface before a reply is shown."""
    async for delta in deltas:
        if delta.strip():
            return delta
    return None


async def _prepend(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async for delta in rest:
        yield delta
