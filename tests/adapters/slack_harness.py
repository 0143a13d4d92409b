"""What the Slack adapter tests share: the base of their probe plugins."""

from __future__ import annotations

from botkit.context import Context
from botkit.message import Event, Message
from botkit.plugin import Plugin, on_event, on_message
from botkit.types import SamplingParams


class SlackProbe(Plugin):
    """Records every message and button press; chats through the model with a streamed reply.

    Subclasses add the commands their tests need, recording each call in ``commands``.
    """

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.events: list[Event] = []
        self.commands: list[tuple[str, tuple[str, ...]]] = []

    @on_event("button")
    async def button(self, ctx: Context) -> None:
        """A button press."""
        assert ctx.event is not None
        self.events.append(ctx.event)
        await ctx.reply(f"pressed {ctx.event.data}")

    @on_message()
    async def chat(self, ctx: Context) -> None:
        """Everything else goes to the model, streamed."""
        assert ctx.message is not None
        self.messages.append(ctx.message)
        await ctx.stream(ctx.model.stream([{"role": "user", "content": ctx.text}], SamplingParams()))
