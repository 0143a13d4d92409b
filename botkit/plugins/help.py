"""``/help`` lists the commands, written from the handlers' own docstrings; ``/start`` greets."""

from __future__ import annotations

import inspect

from botkit.context import Context
from botkit.plugin import Plugin, on_command


class HelpPlugin(Plugin):
    """Lists commands and greets new users."""

    name = "help"

    # Slack reserves /help, so Slack apps register /botkit-help (arriving as botkit_help).
    @on_command("help", aliases=("commands", "botkit_help"))
    async def help(self, ctx: Context, command: str = "") -> None:
        """List the commands, or explain one: /help reset."""
        commands = ctx.bot.commands
        if command:
            handler = commands.get(command.lstrip("/").lower())
            if handler is None:
                await ctx.reply(f"There is no /{command.lstrip('/')} command. Send /help for the list.")
                return
            doc = inspect.getdoc(handler.func) or "No description."
            await ctx.reply(f"{handler.usage}\n{doc}")
            return
        lines = ["Commands:"]
        for name, handler in sorted(commands.items()):
            if name != handler.spec.command:
                continue  # aliases are listed with their command
            alias = f" (also /{', /'.join(handler.spec.aliases)})" if handler.spec.aliases else ""
            lines.append(f"{handler.usage} - {handler.description or 'no description'}{alias}")
        if any(p.name == "chat" for p in ctx.bot.plugins):
            lines.append("Anything else you write goes to the dialogue model.")
        await ctx.reply("\n".join(lines))

    @on_command("start")
    async def start(self, ctx: Context) -> None:
        """Say hello and explain how to use the bot."""
        name = ctx.bot.settings.name if ctx.bot.settings else "botkit"
        await ctx.reply(f"Hi! I'm {name}. Write me a message to chat, or send /help to see the commands.")
