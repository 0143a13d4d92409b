"""``/reset`` forgets the conversation: history and state."""

from __future__ import annotations

from botkit.context import Context
from botkit.i18n import N_, translate_for
from botkit.plugin import Plugin, on_command

DONE = N_("Done: I've forgotten our conversation. Let's start over.")
# The handler's docstring, marked so that the extractor puts it in the catalog (tests check they match).
DESCRIPTIONS = (N_("Forget this conversation and start over."),)


class ResetPlugin(Plugin):
    """Clears the conversation."""

    name = "reset"

    @on_command("reset", aliases=("clear",))
    async def reset(self, ctx: Context) -> None:
        """Forget this conversation and start over."""
        await ctx.store.clear(ctx.key)
        ctx.state.clear()  # the bot saves ctx.state after dispatch; keep it from writing the old one back
        await ctx.reply(translate_for(ctx, DONE))
