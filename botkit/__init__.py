"""botkit: chat bots on Telegram, Discord and Slack, backed by your own dialogue model."""

from botkit.app import Bot
from botkit.context import Context
from botkit.message import Attachment, Button, Conversation, Event, Message, Reply, StreamingReply, User
from botkit.plugin import Plugin, on_command, on_event, on_message
from botkit.types import ChatTurn, Generation, SamplingParams

__version__ = "0.1.0"

__all__ = [
    "Attachment",
    "Bot",
    "Button",
    "ChatTurn",
    "Context",
    "Conversation",
    "Event",
    "Generation",
    "Message",
    "Plugin",
    "Reply",
    "SamplingParams",
    "StreamingReply",
    "User",
    "__version__",
    "on_command",
    "on_event",
    "on_message",
]
