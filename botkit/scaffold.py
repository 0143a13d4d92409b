"""``botkit init DIR``: a commented starter config, an example plugin and a test for it; with
``--preset NAME``, the preset's persona and safety rules merged into the config (see :mod:`botkit.presets`)
and, for a preset with a knowledge base, the example shop's documents in ``DIR/kb/``."""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path

from botkit import presets
from botkit.types import SamplingParams

KB_FOLDER = "kb"

# The sampling values shown are SamplingParams' defaults, filled in below so that they are written once.
# They stay comments: a value set in the file would override the model's generation_config.json.
STARTER_CONFIG = """# botkit configuration. Every key can also be set from the environment:
# BOTKIT_<KEY>, nested sections with "__", e.g. BOTKIT_MODEL__PATH=/models/mine
# Unknown keys are an error, so typos do not pass silently.

name = "mybot"
data_dir = ".botkit"                # the SQLite store lives here
plugins = ["plugins.example"]       # import paths: "pkg.module" or "pkg.module:Class"
plugin_dirs = []                    # more folders to import plugins from; this file's folder always is
discover_plugins = true             # also load installed packages' botkit.plugins entry points
admins = []                         # "platform:user_id" allowed to run admin-only commands
adapters = []                       # what `botkit run` starts: "telegram", "discord", "slack"

[model]
# path = "/path/to/model"           # a local Hugging Face model directory; default: the shipped model
device = "auto"                     # auto | cpu | cuda | cuda:1
dtype = "auto"                      # auto (bf16 on CUDA, float32 on CPU) | float32 | bfloat16
# Sampling: the model's generation_config.json chooses, else these defaults; a value set here wins.
# max_new_tokens = {sampling.max_new_tokens}
# temperature = {sampling.temperature}
# top_p = {sampling.top_p}

[chat]
system_prompt = "You are a friendly assistant in a chat app. Answer briefly."

[rate_limit]
messages = 20                       # per user ...
per_seconds = 60                    # ... per this many seconds

[queue]
backend = "local"                   # local (in-process) | celery (GPU workers behind Redis)
redis_url = "redis://127.0.0.1:6379/0"

[telegram]
# token: set BOTKIT_TELEGRAM__TOKEN rather than writing it here
mode = "polling"                    # polling | webhook

[discord]
# token: set BOTKIT_DISCORD__TOKEN
command_prefix = "!"

[slack]
# bot_token / signing_secret: set BOTKIT_SLACK__BOT_TOKEN and BOTKIT_SLACK__SIGNING_SECRET
mode = "http"                       # http (Events API) | socket (Socket Mode)
""".format(sampling=SamplingParams())

EXAMPLE_PLUGIN = '''"""An example plugin: a command with an argument, a pattern, and a button."""

from botkit.context import Context
from botkit.message import Button
from botkit.plugin import Plugin, on_command, on_event, on_message


class Example(Plugin):
    """Shows the three kinds of handler."""

    @on_command("roll")
    async def roll(self, ctx: Context, sides: int = 6) -> None:
        """Roll a die: /roll 20."""
        import random

        await ctx.reply(f"You rolled {random.randint(1, sides)} (d{sides}).")

    @on_message(r"\\b(thanks|thank you)\\b", priority=10)
    async def thanks(self, ctx: Context) -> None:
        """Answer thanks without asking the model."""
        await ctx.reply("You're welcome!", buttons=[[Button("Roll a die", data="roll")]])

    @on_event("button")
    async def pressed(self, ctx: Context) -> None:
        """Handle the button above."""
        if ctx.event and ctx.event.data == "roll":
            await ctx.reply("Send /roll to roll a die.")
'''

EXAMPLE_TEST = '''"""Tests of the example plugin: send as a user, assert on the reply. Run them with `pytest`.

botkit's pytest plugin runs these async tests without any configuration, and makes this folder (the one
holding botkit.toml) importable, as `botkit chat` does.
"""

import re

from botkit import Bot
from botkit.testing import BotTester
from plugins.example import Example


async def test_roll_stays_on_the_die() -> None:
    async with BotTester(Bot([Example()])) as bot:
        await bot.send("/roll 20")
        reply = bot.assert_reply(re.compile(r"^You rolled \\d+ \\(d20\\)\\.$"))
        assert 1 <= int(reply.text.split()[2]) <= 20


async def test_thanks_offers_a_button() -> None:
    async with BotTester(Bot([Example()])) as bot:
        await bot.send("thank you")
        bot.assert_reply("You're welcome!")
        await bot.press("roll")
        bot.assert_reply("Send /roll to roll a die.")
'''


def starter_config(preset: str | None = None) -> str:
    """The starter ``botkit.toml`` text, with ``preset`` merged in when given.

    Raises:
        UnknownPresetError: no preset has that name (the message lists them).
    """
    if preset is None:
        return STARTER_CONFIG
    note = f"Preset {preset}: {presets.summary(preset)}"
    return presets.merge_config(STARTER_CONFIG, presets.text(preset), note=note)


def write_starter(directory: str | Path, *, force: bool = False, preset: str | None = None) -> list[Path]:
    """Write ``botkit.toml``, ``plugins/example.py`` and ``tests/test_example.py`` into ``directory``.

    With ``preset``, the config carries the preset's tables; a preset with a ``[kb]`` table also gets the
    example knowledge base copied into ``directory/kb/`` (load it with ``botkit kb add kb``).

    Returns:
        The files written.

    Raises:
        FileExistsError: if a file would be overwritten and ``force`` is False; nothing is written then.
        UnknownPresetError: no preset has that name; nothing is written.
    """
    root = Path(directory)
    config = starter_config(preset)  # first: an unknown preset must leave the folder untouched
    texts = {
        root / "botkit.toml": config,
        root / "plugins" / "__init__.py": "",
        root / "plugins" / "example.py": EXAMPLE_PLUGIN,
        root / "tests" / "test_example.py": EXAMPLE_TEST,
    }
    files = {path: text.encode("utf-8") for path, text in texts.items()}
    if preset is not None and "kb" in presets.values(preset):
        files.update(_copies(presets.example_kb(), root / KB_FOLDER))
    clashes = [p for p in files if p.exists() and p.read_bytes() != files[p]]
    if clashes and not force:
        raise FileExistsError(f"{clashes[0]} already exists (use --force to overwrite)")
    for path, data in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return list(files)


def _copies(folder: Traversable, target: Path) -> dict[Path, bytes]:
    """Every file under ``folder`` (a resource folder of the installed package), by its path in ``target``."""
    found: dict[Path, bytes] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.startswith((".", "__")):  # __pycache__, .DS_Store: not part of the example
            continue
        if entry.is_dir():
            found.update(_copies(entry, target / entry.name))
        else:
            found[target / entry.name] = entry.read_bytes()
    return found
