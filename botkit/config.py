"""Configuration: one TOML file plus ``BOTKIT_`` environment overrides (nested with ``__``).

Precedence, highest first: keyword arguments, environment (``BOTKIT_MODEL__PATH=...``), the TOML file,
the defaults below. Each concern has its own model; adapters read their own section.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV = "BOTKIT_CONFIG"
DEFAULT_CONFIG_NAME = "botkit.toml"


class Section(BaseModel):
    """Base for config sections: unknown keys are an error, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class ModelSettings(Section):
    """The dialogue model and how replies are sampled."""

    path: Path | None = Field(None, description="local model directory; None uses the shipped default model")
    device: str = Field("auto", description='"auto" (CUDA if present, else CPU), "cpu", "cuda", "cuda:1"...')
    dtype: str = Field("auto", description='"auto" (bf16 on CUDA, float32 on CPU), "float32", "bfloat16"...')
    max_new_tokens: int = Field(96, ge=1, description="longest reply, in tokens")
    temperature: float = Field(0.7, ge=0.0, description="sampling temperature; 0 picks the likeliest token")
    top_p: float = Field(0.9, gt=0.0, le=1.0, description="nucleus sampling: keep this much probability mass")
    top_k: int = Field(40, ge=0, description="sample among the k likeliest tokens (0: no limit)")
    repetition_penalty: float = Field(1.15, ge=1.0, description="lower the odds of tokens already used")
    seed: int | None = Field(None, description="fixed sampling seed (reproducible replies, for tests)")
    max_batch: int = Field(32, ge=1, description="most requests generated together in one batch")
    engine: Literal["auto", "botkit", "transformers"] = Field(
        "auto",
        description='batch engine: "botkit" (own scheduler), "transformers" (its continuous batching), '
        '"auto" (botkit on CPU; on GPU the faster of the two, timed at start-up)',
    )
    timeout_s: float = Field(120.0, gt=0, description="a reply taking longer is cut off with a notice")


class ChatSettings(Section):
    """The built-in chat plugin."""

    system_prompt: str = Field(
        "You are botkit, a friendly assistant in a chat app. Answer briefly and helpfully.",
        description="the persona: sent to the model before the conversation",
    )
    history_turns: int = Field(40, ge=0, description="most turns read from the store before trimming")


class RateLimitSettings(Section):
    """Per-user rate limit: ``messages`` per ``per_seconds``."""

    enabled: bool = Field(True, description="limit how fast each user may send (off for `botkit chat`)")
    messages: int = Field(20, ge=1, description="messages allowed per user per window")
    per_seconds: float = Field(60.0, gt=0, description="the window, in seconds")


class LimitSettings(Section):
    """Input limits."""

    max_input_chars: int = Field(4000, ge=1, description="longer messages get a polite refusal")


class QueueSettings(Section):
    """Where generation runs: in this process, or on Celery workers behind Redis."""

    backend: Literal["local", "celery"] = Field(
        "local", description='where replies are generated: "local" (in this process) or "celery" (workers)'
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="broker and stream transport (env BOTKIT_QUEUE__REDIS_URL; BOTKIT_REDIS_URL also works)",
    )
    inference_queue: str = Field("botkit.inference", description="Celery queue the inference workers consume")
    jobs_queue: str = Field("botkit.jobs", description="Celery queue for plugins' ordinary background jobs")
    visibility_timeout_s: int = Field(
        60,
        ge=1,
        description=(
            "a task unacknowledged this long is redelivered to another worker (a crashed worker's "
            "requests are retried after it); keep below model.timeout_s + queue_grace_s. Shorter than a "
            "long reply is safe: the copy waits on the running worker's lock instead of generating again"
        ),
    )
    restore_interval_s: int = Field(10, ge=1, description="how often workers look for unacknowledged tasks")
    stream_interval_ms: int = Field(50, ge=0, description="coalesce streamed text for this long (0: no wait)")
    stream_chars: int = Field(64, ge=1, description="publish sooner once this many characters are waiting")
    connect_timeout_s: float = Field(1.0, gt=0, description="Redis down for this long means 'busy'")
    lock_ttl_s: int = Field(
        10, ge=1, description="a generation whose worker went silent this long is retried"
    )
    result_ttl_s: int = Field(3600, ge=1, description="how long replies are kept for duplicate requests")
    queue_grace_s: float = Field(
        30.0, ge=0, description="extra wait for a free worker beyond model.timeout_s"
    )


class TelegramSettings(Section):
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
    group_mode: Literal["addressed", "all"] = Field(
        "addressed", description='"addressed": in groups answer only mentions, replies and commands; "all"'
    )
    edited_messages: Literal["ignore", "handle"] = Field(
        "ignore", description='"ignore" edited messages, or "handle" them as new ones'
    )
    poll_timeout_s: int = Field(30, ge=0, le=50, description="long-polling wait per getUpdates call")
    edit_interval_s: float = Field(1.0, ge=0, description="least time between edits of a streamed reply")
    supported_attachments: list[str] = Field(
        default_factory=list, description='kinds plugins handle ("image", "file"...); others get a notice'
    )
    flood_limits: bool = Field(True, description="throttle to Telegram's limits (30 msg/s, 20/min per group)")


class DiscordSettings(Section):
    """Discord (discord.py)."""

    token: SecretStr | None = Field(None, description="bot token from the Developer Portal")
    command_prefix: str = Field("!", description='prefix commands: "!help" is handled as /help')
    application_id: str | None = Field(
        None, description="application id, for slash commands (read from the API when unset)"
    )
    public_key: str | None = Field(
        None, description="application public key, to verify signed HTTP interactions"
    )
    api_base: str | None = Field(None, description="REST API base, e.g. a test fake")
    group_mode: Literal["addressed", "all"] = Field(
        "addressed", description='"addressed": in servers answer only mentions, replies and commands; "all"'
    )
    edited_messages: Literal["ignore", "handle"] = Field(
        "ignore", description='"ignore" edited messages, or "handle" them as new ones'
    )
    register_commands: bool = Field(True, description="bulk-overwrite global slash commands at start")
    escape_markdown: bool = Field(True, description="escape markdown in replies (False: model's markdown)")
    stream_edit_interval_s: float = Field(1.0, ge=0.0, description="least time between streaming edits")
    supported_attachments: list[str] = Field(
        default_factory=list, description='kinds passed on, e.g. "image"'
    )
    guild_ready_timeout_s: float = Field(2.0, gt=0, description="wait for GUILD_CREATEs before ready")
    ready_timeout_s: float = Field(60.0, gt=0, description="start() fails if not connected by then")
    interactions_port: int | None = Field(None, description="serve signed HTTP interactions on this port")
    interactions_listen: str = Field("127.0.0.1", description="address the HTTP interactions endpoint binds")
    interactions_path: str = Field("/interactions", description="URL path of the HTTP interactions endpoint")


class SlackSettings(Section):
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
    group_mode: Literal["addressed", "all"] = Field(
        "addressed", description='"addressed": in channels answer only mentions and commands; "all"'
    )
    edited_messages: Literal["ignore", "handle"] = Field(
        "ignore", description='"ignore" edited messages, or "handle" them as new ones'
    )
    stream_interval_s: float = Field(
        1.0, ge=0, description="least time between two edits of a streamed reply"
    )
    rate_limit_retries: int = Field(10, ge=0, description="times an HTTP 429 is waited out before giving up")
    dm_threads: bool = Field(False, description="also answer top-level DMs in a thread (channels always are)")
    typing_delay_s: float = Field(1.0, ge=0, description='post a "…" typing placeholder after this; 0: never')
    attachment_kinds: list[str] = Field(
        default_factory=list,
        description='attachment kinds plugins handle ("image", "file"...); others get a notice',
    )


class Settings(BaseSettings):
    """All of botkit's configuration. See ``botkit init`` for a commented starter file."""

    model_config = SettingsConfigDict(
        env_prefix="BOTKIT_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    name: str = Field("botkit", description="the bot's name, used in greetings")
    data_dir: Path = Field(Path(".botkit"), description="where the SQLite store and other state live")
    plugins: list[str] = Field(default_factory=list, description='import paths: "pkg.mod" or "pkg.mod:Class"')
    discover_plugins: bool = Field(True, description="also load the botkit.plugins entry-point group")
    disabled_plugins: list[str] = Field(default_factory=list, description="plugin names not to load")
    admins: list[str] = Field(default_factory=list, description='"platform:user_id" allowed admin commands')
    adapters: list[str] = Field(default_factory=list, description="adapters `botkit run` starts")
    store: Literal["sqlite", "memory"] = Field("sqlite", description="where conversations are kept")
    log_level: str = Field("INFO", description="logging level for `botkit run`")
    model: ModelSettings = Field(default_factory=ModelSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = _CONFIG_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)


_CONFIG_FILE: dict[str, Path | None] = {"path": None}


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid."""


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``path`` (or ``$BOTKIT_CONFIG``, or ``./botkit.toml`` if present) plus env.

    Raises:
        ConfigError: with the file name and the offending keys when the file is invalid.
    """
    from pydantic import ValidationError

    chosen = Path(path) if path else Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None
    if chosen is None and Path(DEFAULT_CONFIG_NAME).is_file():
        chosen = Path(DEFAULT_CONFIG_NAME)
    if chosen is not None:
        if not chosen.is_file():
            raise ConfigError(f"config file {chosen} does not exist")
        try:
            tomllib.loads(chosen.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {chosen} is not valid TOML: {exc}") from exc
    _CONFIG_FILE["path"] = chosen
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        where = f"config file {chosen}" if chosen else "configuration"
        raise ConfigError(f"{where} is invalid: {problems}") from exc
    finally:
        _CONFIG_FILE["path"] = None
