"""Settings of the chat platforms: one base with the names every platform shares, one subclass per platform.

A setting that means the same on every platform has the same name on every platform (``group_mode``,
``edited_messages``, ``stream_edit_interval_s``); a subclass adds only what its
platform differs in. :mod:`botkit.config` puts them in ``Settings`` as ``[telegram]``, ``[discord]``,
``[slack]`` and ``[web]``; each adapter's ``from_settings`` reads its own section and raises
:class:`~botkit.config.ConfigError` when something it needs is missing or malformed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class PlatformSettings(BaseModel):
    """What every platform adapter reads: how eager the bot is, how it streams, what it accepts.

    Unknown keys are an error (as in every config section), so a typo does not pass silently.
    """

    model_config = ConfigDict(extra="forbid")

    group_mode: Literal["addressed", "all"] = Field(
        "addressed",
        description='"addressed": in groups answer only mentions, replies and commands; "all": everything',
    )
    edited_messages: Literal["ignore", "handle"] = Field(
        "ignore", description='"ignore" edited messages, or "handle" them as new ones'
    )
    stream_edit_interval_s: float = Field(
        1.0, ge=0.0, description="least time between two edits of a streamed reply"
    )


class TelegramSettings(PlatformSettings):
    """Telegram (python-telegram-bot)."""

    token: SecretStr | None = Field(None, description="bot token from @BotFather")
    mode: Literal["polling", "webhook"] = Field(
        "polling", description='"polling" (getUpdates) or "webhook" (Telegram posts to you)'
    )
    webhook_url: str | None = Field(
        None, description="public HTTPS URL Telegram posts updates to (webhook mode)"
    )
    webhook_listen: str = Field("127.0.0.1", description="address the webhook server binds")
    webhook_port: int = Field(8443, description="port the webhook server binds")
    webhook_path: str = Field("/telegram", description="URL path of the webhook")
    secret_token: SecretStr | None = Field(
        None, description="X-Telegram-Bot-Api-Secret-Token required on webhook posts"
    )
    base_url: str | None = Field(None, description="Bot API server, e.g. a local one or a test fake")
    poll_timeout_s: int = Field(30, ge=0, le=50, description="long-polling wait per getUpdates call")
    flood_limits: bool = Field(True, description="throttle to Telegram's limits (30 msg/s, 20/min per group)")


class DiscordSettings(PlatformSettings):
    """Discord (discord.py)."""

    token: SecretStr | None = Field(None, description="bot token from the Developer Portal")
    command_prefix: str = Field("!", description='prefix commands: "!help" is handled as /help')
    application_id: str | None = Field(
        None, description="application id, for slash commands (read from the API when unset)"
    )
    public_key: str | None = Field(
        None, description="application public key (hex), to verify signed HTTP interactions"
    )
    api_base: str | None = Field(None, description="REST API base, e.g. a test fake")
    register_commands: bool = Field(True, description="bulk-overwrite global slash commands at start")
    escape_markdown: bool = Field(True, description="escape markdown in replies (False: model's markdown)")
    guild_ready_timeout_s: float = Field(2.0, gt=0, description="wait for GUILD_CREATEs before ready")
    ready_timeout_s: float = Field(60.0, gt=0, description="start() fails if not connected by then")
    interactions_port: int | None = Field(None, description="serve signed HTTP interactions on this port")
    interactions_listen: str = Field("127.0.0.1", description="address the HTTP interactions endpoint binds")
    interactions_path: str = Field("/interactions", description="URL path of the HTTP interactions endpoint")


class SlackSettings(PlatformSettings):
    """Slack (slack-bolt)."""

    bot_token: SecretStr | None = Field(None, description="xoxb- bot token")
    signing_secret: SecretStr | None = Field(
        None, description="signing secret that verifies Events API requests"
    )
    app_token: SecretStr | None = Field(None, description="xapp- token for Socket Mode")
    mode: Literal["http", "socket"] = Field(
        "http", description='"http" (Events API) or "socket" (Socket Mode)'
    )
    listen: str = Field("127.0.0.1", description="address the Events API server binds")
    port: int = Field(3000, description="port the Events API server binds")
    path: str = Field("/slack/events", description="URL path of the Events API endpoint")
    api_base: str | None = Field(None, description="Web API base, e.g. a test fake")
    rate_limit_retries: int = Field(10, ge=0, description="times an HTTP 429 is waited out before giving up")
    dm_threads: bool = Field(False, description="also answer top-level DMs in a thread (channels always are)")
    typing_delay_s: float = Field(1.0, ge=0, description='post a "…" typing placeholder after this; 0: never')


class WebSettings(PlatformSettings):
    """The web chat widget (Starlette served by uvicorn): one script tag on any page opens a chat."""

    listen: str = Field("127.0.0.1", description="address the widget's server binds")
    port: int = Field(8080, ge=0, le=65535, description="port the widget's server binds (0: any free port)")
    secret: SecretStr | None = Field(
        None,
        description="signs visitors' cookies (required; a long random string, kept stable across restarts)",
    )
    identity_secret: SecretStr | None = Field(
        None,
        description="shared with your site: data-user-hash = HMAC-SHA256(identity_secret, user id), hex; "
        "unset: only anonymous visitors",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description='sites whose pages may open the chat ("https://shop.example.com"; "*": any); the '
        "server's own pages always may",
    )
    max_frame_bytes: int = Field(
        8192, ge=256, description="largest frame a visitor may send; larger: an error frame"
    )
    history_frames: int = Field(
        200, ge=10, description="frames kept per conversation, replayed to a visitor who reconnects"
    )
    stream_edit_interval_s: float = Field(
        0.0, ge=0.0, description="least time between two frames of a streamed reply (0: every delta at once)"
    )
