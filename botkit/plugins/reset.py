"""``/reset`` forgets the conversation: history and state."""

from __future__ import annotations

from botkit.context import Context
from botkit.plugin import Plugin, on_command


class ResetPlugin(Plugin):
    """Clears the conversation."""

    name = "reset"

    @on_command("reset", aliases=("clear",))
    async def reset(self, ctx: Context) -> None:
        """Forget this conversation and start over."""
        await ctx.store.clear(ctx.key)
        ctx.state.clear()  # the bot saves ctx.state after dispatch; keep it from writing the old one back
        await ctx.reply("Done: I've forgotten our conversation. Let's start over.")
