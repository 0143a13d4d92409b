"""What the server keeps of each web conversation: its numbered frames (for replay), its open sockets, the
buttons it may press, and whether the bot is typing. Everything is bounded and lives in this process.

Every frame the bot (or the visitor) adds to the conversation gets the next sequence number and is kept,
up to ``web.history_frames`` of them; a widget that reconnects says the last number it saw and gets the
rest (:meth:`ConversationLog.attach`), so a message sent while its socket was down arrives when it comes
back. ``epoch`` names one life of the log: after a restart the numbers start again, and a widget that
brings another epoch's number is sent everything kept instead of nothing.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict, deque
from typing import Any

Frame = dict[str, Any]

MAX_BUTTONS = 500  # pressable buttons remembered per conversation (older ones answer "no longer available")
MAX_CONVERSATIONS = 10_000  # logs kept in memory; the least recently used one without a socket goes first
MAX_PENDING = 1_000  # frames waiting for one slow socket before it is closed (it reconnects and replays)
STREAM_PARTS = ("start", "delta")  # frames of a streamed reply that its "end" frame makes redundant


class Listener:
    """One open socket's queue of frames to send, in order; :meth:`get` waits for the next one."""

    def __init__(self, limit: int = MAX_PENDING) -> None:
        self._frames: deque[Frame] = deque()
        self._ready = asyncio.Event()
        self._limit = limit
        self.overflowed = False

    def put(self, frame: Frame) -> None:
        """Queue ``frame``; past the limit the socket is marked overflowed rather than memory growing."""
        if len(self._frames) >= self._limit:
            self.overflowed = True
        else:
            self._frames.append(frame)
        self._ready.set()

    async def get(self) -> Frame | None:
        """The next frame, or None once the socket overflowed and should be closed."""
        while not self._frames and not self.overflowed:
            self._ready.clear()
            await self._ready.wait()
        return None if self.overflowed else self._frames.popleft()


class ConversationLog:
    """One conversation's numbered frames, sockets, buttons and typing state.

    Args:
        conversation_id: the part of the store key after ``web:``.
        keep: how many sequenced frames are kept for replay.
    """

    def __init__(self, conversation_id: str, keep: int) -> None:
        self.conversation_id = conversation_id
        self.epoch = secrets.token_hex(4)
        self.seq = 0
        self.typing = False
        self.listeners: set[Listener] = set()
        self._frames: deque[Frame] = deque()
        self._keep = keep
        self._trimmed = 0  # the highest sequence number dropped for room (replay cannot give it)
        self._buttons: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self._ids = 0

    def new_message_id(self) -> str:
        """A fresh id for a message of this conversation (stable across replays)."""
        self._ids += 1
        return f"m{self._ids}"

    def publish(self, frame: Frame) -> Frame:
        """Number ``frame``, keep it for replay and send it to every open socket; returns it numbered."""
        self.seq += 1
        numbered = {**frame, "seq": self.seq}
        self._frames.append(numbered)
        if len(self._frames) > self._keep:
            self._trimmed = self._frames.popleft()["seq"]
        for listener in self.listeners:
            listener.put(numbered)
        return numbered

    def announce(self, frame: Frame) -> None:
        """Send ``frame`` to the open sockets only: it is true now and means nothing later (typing)."""
        for listener in self.listeners:
            listener.put(frame)

    def set_typing(self, typing: bool) -> None:
        """Show or hide the bot's typing indicator on every open socket (and on those that connect)."""
        if typing != self.typing:
            self.typing = typing
            self.announce({"type": "typing", "on": typing})

    def compact(self, message_id: str) -> None:
        """Drop a finished stream's start and delta frames: its end frame holds the whole text."""
        kept = [f for f in self._frames if not (f["type"] in STREAM_PARTS and f.get("id") == message_id)]
        self._frames = deque(kept)

    def attach(self, listener: Listener, last_seq: int, epoch: str) -> list[Frame]:
        """Register ``listener``; returns the kept frames it has not seen (all of them for another epoch).

        Call :meth:`Listener.put` with them before any await, so nothing published meanwhile overtakes them.
        """
        self.listeners.add(listener)
        seen = last_seq if epoch == self.epoch else 0
        return [f for f in self._frames if f["seq"] > seen]

    def missed(self, last_seq: int, epoch: str) -> bool:
        """Whether frames after ``last_seq`` were dropped before the widget could get them (a gap)."""
        seen = last_seq if epoch == self.epoch else 0
        return seen < self._trimmed

    def detach(self, listener: Listener) -> None:
        """Forget a socket that closed."""
        self.listeners.discard(listener)

    def button_token(self, data: str, message_id: str) -> str:
        """A token the widget sends back for a button with ``data`` (the data itself stays here)."""
        token = f"b{len(self._buttons)}-{secrets.token_hex(4)}"
        self._buttons[token] = (data, message_id)
        if len(self._buttons) > MAX_BUTTONS:
            self._buttons.popitem(last=False)
        return token

    def button(self, token: str) -> tuple[str, str] | None:
        """The data and message id of the button named ``token``, or None when unknown or forgotten."""
        return self._buttons.get(token)


class Conversations:
    """The logs of every conversation this process has seen, the least recently used dropped past a bound.

    Args:
        keep: frames kept per conversation (``web.history_frames``).
        limit: logs kept; one with an open socket is never dropped.
    """

    def __init__(self, keep: int, limit: int = MAX_CONVERSATIONS) -> None:
        self._logs: OrderedDict[str, ConversationLog] = OrderedDict()
        self._keep = keep
        self._limit = limit

    def __len__(self) -> int:
        return len(self._logs)

    def get(self, conversation_id: str) -> ConversationLog:
        """The log of ``conversation_id``, made when new."""
        log = self._logs.get(conversation_id)
        if log is None:
            log = self._logs[conversation_id] = ConversationLog(conversation_id, self._keep)
            self._evict()
        else:
            self._logs.move_to_end(conversation_id)
        return log

    def _evict(self) -> None:
        idle = (key for key, log in self._logs.items() if not log.listeners)
        while len(self._logs) > self._limit:
            victim = next(idle, None)
            if victim is None:
                return
            del self._logs[victim]
            idle = (key for key, log in self._logs.items() if not log.listeners)
