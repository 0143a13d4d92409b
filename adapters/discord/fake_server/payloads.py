"""The objects the fake Discord hands out: users' messages, interactions, READY and the guild."""

from __future__ import annotations

import time
from typing import Any

from botkit.adapters.discord.fake_server.records import SentMessage
from botkit.adapters.discord.fake_server.state import _ServerState


class _PayloadsMixin(_ServerState):
    """Builds Discord objects from the fake's state, and records interactions the REST side accepts."""

    def make_message(
        self, content: str, *, dm: bool = False, mention: bool = False, **extra: Any
    ) -> dict[str, Any]:
        """A MESSAGE_CREATE ``d`` object from a user, in the guild channel or the DM channel."""
        author = {"id": self.user_id, "username": "alice", "discriminator": "0", "avatar": None}
        message: dict[str, Any] = {
            "id": self.new_id(),
            "type": 0,
            "channel_id": self.dm_channel_id if dm else self.channel_id,
            "author": author,
            "content": f"<@{self.bot_user['id']}> {content}" if mention else content,
            "timestamp": "2026-01-01T00:00:00.000000+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [self.bot_user] if mention else [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "flags": 0,
        }
        if not dm:
            message["guild_id"] = self.guild_id
            message["member"] = {
                "roles": [],
                "joined_at": "2026-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
            }
        message.update(extra)
        return message

    def make_interaction(self, kind: int, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
        """An interaction object (2: slash command, 3: component, 5: modal) from the test user.

        Its ``locale`` is "en-US" unless ``extra`` says otherwise (``locale="zh-CN"``).
        """
        interaction: dict[str, Any] = {
            "id": self.new_id(),
            "application_id": self.application_id,
            "type": kind,
            "data": data,
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "member": {
                "user": {"id": self.user_id, "username": "alice", "discriminator": "0", "avatar": None},
                "roles": [],
                "permissions": "0",
                "joined_at": "2026-01-01T00:00:00+00:00",
            },
            "token": "interaction-token-" + self.new_id(),
            "version": 1,
            "locale": "en-US",  # the user's client language; Discord sends it on every interaction but PING
            "guild_locale": "en-US",
        }
        interaction.update(extra)
        return interaction

    def register_interaction(
        self, interaction: dict[str, Any], *, acked_over_http: int | None = None
    ) -> None:
        """Make the REST side accept callbacks and webhooks for ``interaction`` (done by ``dispatch``).

        For an interaction POSTed to the bot's HTTP endpoint the acknowledgement is the HTTP answer, which
        this fake does not see: pass its type as ``acked_over_http`` so follow-ups are accepted at once.
        """
        if "token" not in interaction:
            return
        token = str(interaction["token"])
        self.interactions[token] = interaction
        if acked_over_http is not None:
            self._acknowledge(interaction, {"type": acked_over_http})

    def _acknowledge(self, interaction: dict[str, Any], body: dict[str, Any]) -> None:
        token = str(interaction["token"])
        self.callbacks[str(interaction["id"])] = {**body, "at": time.monotonic()}
        if body["type"] in (4, 5):  # the "original response": a message, or a "thinking..." one
            data = body.get("data") or {}
            self.messages[f"original:{token}"] = SentMessage(
                self.new_id(),
                str(interaction.get("channel_id", "")),
                data.get("content", ""),
                data.get("components") or [],
                data.get("allowed_mentions"),
                [],
                token,
            )

    def _ready_frame_data(self) -> dict[str, Any]:
        if self._ready is not None:
            return self._ready
        return {
            "v": 10,
            "user": self.bot_user,
            "session_id": self._session,
            "resume_gateway_url": self.gateway_url,
            "guilds": [{"id": self.guild_id, "unavailable": True}],
            "application": {"id": self.application_id, "flags": 0},
            "shard": [0, 1],
        }

    def _thread(self) -> dict[str, Any]:
        metadata = {"archived": False, "auto_archive_duration": 1440, "locked": False,
                    "archive_timestamp": "2026-01-01T00:00:00+00:00"}  # fmt: skip
        return {"id": self.thread_id, "type": 11, "name": "a thread", "guild_id": self.guild_id,
                "parent_id": self.channel_id, "owner_id": self.user_id, "thread_metadata": metadata,
                "message_count": 0, "member_count": 1, "rate_limit_per_user": 0, "flags": 0}  # fmt: skip

    def _guild(self) -> dict[str, Any]:
        channel = {
            "id": self.channel_id,
            "type": 0,
            "name": "general",
            "position": 0,
            "guild_id": self.guild_id,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }
        return {
            "id": self.guild_id,
            "name": "Fake guild",
            "unavailable": False,
            "owner_id": self.user_id,
            "channels": [channel],
            "threads": [self._thread()],
            "roles": [],
            "members": [],
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": 2,
            "large": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "afk_timeout": 300,
            "system_channel_flags": 0,
            "voice_states": [],
            "presences": [],
            "icon": None,
            "joined_at": "2026-01-01T00:00:00+00:00",
        }
