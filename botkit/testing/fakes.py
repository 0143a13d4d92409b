"""Fakes that satisfy botkit's protocols without a platform or a model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from botkit.context import Context
from botkit.errors import ConversationClosed
from botkit.message import Incoming, Reply, StreamingReply
from botkit.plugin import Plugin, on_message
from botkit.types import ChatTurn, Dispatcher, Generation, SamplingParams


@dataclass
class Sent:
    """A reply the fake adapter sent: the final text, and each state it was shown in while streaming."""

    to: Incoming
    text: str
    reply: Reply | StreamingReply
    states: list[str] = field(default_factory=list)


class FakeAdapter:
    """An adapter that records replies instead of sending them anywhere.

    Streaming replies are consumed completely; ``sent[i].states`` lists every text state they had.
    """

    name = "test"

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self.pushed: list[tuple[str, str | None, str]] = []
        self.closed: dict[str, str] = {}  # conversation id -> the platform's reason for refusing it
        self.dispatcher: Dispatcher | None = None

    async def start(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    async def stop(self) -> None:
        self.dispatcher = None

    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        if isinstance(reply, StreamingReply):
            states = [text async for text in reply]
            self.sent.append(Sent(to, reply.text, reply, states))
        else:
            self.sent.append(Sent(to, reply.text, reply, [reply.text]))

    async def send_to(
        self, conversation_id: str, reply: Reply | StreamingReply, *, thread_id: str | None = None
    ) -> str:
        """Record an unprompted reply; ``pushed`` lists (conversation id, thread id, text).

        Returns the reply's "message id": its 1-based position in ``pushed``, as text. A conversation id in
        ``closed`` is refused as a platform refuses a chat that blocked the bot.
        """
        if conversation_id in self.closed:
            raise ConversationClosed(f"{self.name}:{conversation_id}", self.closed[conversation_id])
        text = "".join([s async for s in reply][-1:]) if isinstance(reply, StreamingReply) else reply.text
        self.pushed.append((conversation_id, thread_id, text))
        return str(len(self.pushed))


class ScriptedModel:
    """A fake :class:`~botkit.types.Generator`: answers with scripted replies, word by word.

    Args:
        replies: answers given in turn (the last one repeats); by default it echoes the last user turn.
        delay: seconds between streamed words.
        context_window: what ``context_window`` reports; ``count_tokens`` counts whitespace words.
    """

    def __init__(
        self, replies: Sequence[str] = (), *, delay: float = 0.0, context_window: int = 2048
    ) -> None:
        self.replies = list(replies)
        self.delay = delay
        self._context_window = context_window
        self.calls: list[list[ChatTurn]] = []
        self.keys: list[str | None] = []
        self.params: list[SamplingParams] = []
        self.closed = False

    @property
    def context_window(self) -> int:
        return self._context_window

    def count_tokens(self, messages: Sequence[ChatTurn]) -> int:
        return sum(len(m["content"].split()) + 2 for m in messages) + 1

    def _answer(self, messages: Sequence[ChatTurn]) -> str:
        self.calls.append(list(messages))
        if self.replies:
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        users = [m["content"] for m in messages if m["role"] == "user"]
        return f"echo: {users[-1]}" if users else "echo"

    async def generate(
        self, messages: Sequence[ChatTurn], params: SamplingParams, *, key: str | None = None
    ) -> Generation:
        self.keys.append(key)
        self.params.append(params)
        text = self._answer(messages)
        return Generation(text=text, completion_tokens=len(text.split()))

    async def stream(
        self, messages: Sequence[ChatTurn], params: SamplingParams, *, key: str | None = None
    ) -> AsyncIterator[str]:
        self.keys.append(key)
        self.params.append(params)
        words = self._answer(messages).split(" ")
        for i, word in enumerate(words):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield word if i == 0 else " " + word

    async def close(self) -> None:
        self.closed = True


class EchoPlugin(Plugin):
    """Answers every message with its own text at once: for measuring an adapter, not a model."""

    @on_message()
    async def echo(self, ctx: Context) -> None:
        """Reply with the message's text."""
        await ctx.reply(ctx.text)
