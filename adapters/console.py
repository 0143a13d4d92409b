"""The terminal as a platform: ``botkit chat`` goes through the same dispatcher and plugins.

On a TTY it is an interactive chat that prints the reply as it streams. Otherwise it reads one message
per line from stdin and prints one line per message (a reply's own line breaks become `` | ``; several
replies to one message are joined the same way; a message with no reply prints an empty line), then
exits at end of input — so ``echo hello | botkit chat`` works in scripts.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, BinaryIO, Self, TextIO

from botkit.message import Conversation, Incoming, Message, Reply, StreamingReply, User

if TYPE_CHECKING:
    from botkit.config import Settings
    from botkit.types import Dispatcher

PROMPT = "you> "
BOT_PREFIX = "bot> "
SEPARATOR = " | "


class ConsoleAdapter:
    """Reads messages from a terminal or a pipe and writes replies back.

    Args:
        stdin: binary input (bytes are decoded as UTF-8 with ``surrogateescape`` so invalid input
            reaches the bot's input check instead of crashing the reader).
        stdout: text output.
        interactive: force TTY behaviour on or off (default: ``stdin.isatty()``).
    """

    name = "console"

    def __init__(
        self,
        stdin: BinaryIO | None = None,
        stdout: TextIO | None = None,
        *,
        interactive: bool | None = None,
    ) -> None:
        self.stdin = stdin if stdin is not None else sys.stdin.buffer
        self.stdout = stdout if stdout is not None else sys.stdout
        self.interactive = self.stdin.isatty() if interactive is None else interactive
        self.user = User("local", "you")
        self.conversation = Conversation("terminal", self.name, "private", "terminal")
        self._collected: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._counter = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The terminal adapter on this process's stdin and stdout (it has no settings of its own)."""
        return cls()

    async def start(self, dispatcher: Dispatcher) -> None:
        """Start reading in the background; :meth:`wait` returns at end of input."""
        self._task = asyncio.create_task(self.serve(dispatcher))

    async def wait(self) -> None:
        """Wait until the input is exhausted (or the user quits)."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def serve(self, dispatcher: Dispatcher) -> None:
        """The read-dispatch-print loop."""
        if self.interactive:
            self._write("Chatting with botkit. /help lists commands; Ctrl-D quits.\n")
        while True:
            if self.interactive:
                self._write(PROMPT)
            raw = await asyncio.to_thread(self.stdin.readline)
            if not raw:
                if self.interactive:
                    self._write("\n")
                return
            text = raw.rstrip(b"\r\n").decode("utf-8", errors="surrogateescape")
            self._counter += 1
            message = Message(
                platform=self.name,
                conversation=self.conversation,
                author=self.user,
                text=text,
                id=str(self._counter),
            )
            self._collected = []
            await dispatcher.handle(message, self)
            if not self.interactive:
                self._write(SEPARATOR.join(self._collected) + "\n")

    async def send(self, to: Incoming, reply: Reply | StreamingReply) -> None:
        """Print ``reply`` (as it streams, on a TTY) and collect it for the one-line-per-message output."""
        await self._show(reply)

    async def send_to(
        self, conversation_id: str, reply: Reply | StreamingReply, *, thread_id: str | None = None
    ) -> None:
        """Print an unprompted reply: the terminal is the console's one conversation (its messages have
        no ids, so None is returned)."""
        await self._show(reply)

    async def _show(self, reply: Reply | StreamingReply) -> None:
        if isinstance(reply, StreamingReply):
            if self.interactive:
                self._write(BOT_PREFIX)
            shown = 0
            async for text in reply:
                if self.interactive:
                    self._write(text[shown:])
                    shown = len(text)
            final = reply.text
            if self.interactive:
                self._write("\n")
        else:
            final = reply.text
            if self.interactive:
                self._write(f"{BOT_PREFIX}{final}\n")
        buttons = [b.label for row in getattr(reply, "buttons", ()) for b in row]
        if buttons and self.interactive:
            self._write(f"     [{'] ['.join(buttons)}]\n")
        self._collected.append(_one_line(final))

    def _write(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()


def _one_line(text: str) -> str:
    return SEPARATOR.join(line for line in text.strip().splitlines() if line.strip())
