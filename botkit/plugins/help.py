"""``/help`` lists the commands, written from the handlers' own docstrings; ``/start`` greets.

Both answer in the user's language (:mod:`botkit.i18n`). A handler's description is looked up in the
catalog too, so the built-in commands' docstrings are message ids; a plugin's own docstrings are shown as
written unless a catalog translates them.
"""

from __future__ import annotations

import inspect

from botkit.context import Context
from botkit.i18n import N_, language_for, translate
from botkit.plugin import Plugin, on_command

NO_SUCH_COMMAND = N_("There is no /{command} command. Send /help for the list.")
NO_DESCRIPTION = N_("No description.")
HEADING = N_("Commands:")
ALSO = N_("(also {aliases})")
CHAT_NOTE = N_("Anything else you write goes to the dialogue model.")
GREETING = N_("Hi! I'm {name}. Write me a message to chat, or send /help to see the commands.")
# The handlers' docstrings below, marked for the extractor's catalog (tests/core/test_i18n.py checks them).
DESCRIPTIONS = (
    N_("List the commands, or explain one: /help reset."),
    N_("Say hello and explain how to use the bot."),
)


class HelpPlugin(Plugin):
    """Lists commands and greets new users."""

    name = "help"

    # Slack reserves /help, so Slack apps register /botkit-help (arriving as botkit_help).
    @on_command("help", aliases=("commands", "botkit_help"))
    async def help(self, ctx: Context, command: str = "") -> None:
        """List the commands, or explain one: /help reset."""
        language = language_for(ctx.incoming.author, ctx.bot.settings)
        commands = ctx.bot.commands
        if command:
            handler = commands.get(command.lstrip("/").lower())
            if handler is None:
                await ctx.reply(translate(NO_SUCH_COMMAND, language, command=command.lstrip("/")))
                return
            doc = inspect.getdoc(handler.func) or NO_DESCRIPTION
            await ctx.reply(f"{handler.usage}\n{translate(doc, language)}")
            return
        lines = [translate(HEADING, language)]
        for name, handler in sorted(commands.items()):
            if name != handler.spec.command:
                continue  # aliases are listed with their command
            description = translate(handler.description or NO_DESCRIPTION, language)
            line = f"{handler.usage} - {description}"
            if handler.spec.aliases:
                line += " " + translate(ALSO, language, aliases="/" + ", /".join(handler.spec.aliases))
            lines.append(line)
        if any(p.name == "chat" for p in ctx.bot.plugins):
            lines.append(translate(CHAT_NOTE, language))
        await ctx.reply("\n".join(lines))

    @on_command("start")
    async def start(self, ctx: Context) -> None:
        """Say hello and explain how to use the bot."""
        name = ctx.bot.settings.name if ctx.bot.settings else "botkit"
        language = language_for(ctx.incoming.author, ctx.bot.settings)
        await ctx.reply(translate(GREETING, language, name=name))
