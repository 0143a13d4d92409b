"""Every platform's missing or malformed settings: one line naming the setting and its variable.

``botkit run`` prints a :class:`~botkit.config.ConfigError` as ``botkit run: <message>`` and exits 2, so
the message must be a single line that says what to set, never a traceback; the shared names
(``group_mode``, ``stream_edit_interval_s``) mean the same on every platform.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from botkit.adapters.discord import DiscordAdapter
from botkit.adapters.slack import SlackAdapter
from botkit.adapters.telegram import TelegramAdapter
from botkit.config import ConfigError, Settings
from botkit.platform_settings import DiscordSettings, PlatformSettings, SlackSettings, TelegramSettings

PUBLIC_KEY = "ab" * 32  # 64 hex digits, the shape of an Ed25519 public key


def refusal(build: object, settings: Settings) -> str:
    """The one-line message ``from_settings`` raises for ``settings``."""
    with pytest.raises(ConfigError) as refused:
        build.from_settings(settings)  # type: ignore[attr-defined]
    message = str(refused.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("adapter", "settings", "expected"),
    [
        (TelegramAdapter, Settings(), "telegram: set telegram.token (or BOTKIT_TELEGRAM__TOKEN)"),
        (DiscordAdapter, Settings(), "discord: set discord.token (or BOTKIT_DISCORD__TOKEN)"),
        (SlackAdapter, Settings(), "slack: set slack.bot_token (or BOTKIT_SLACK__BOT_TOKEN)"),
    ],
    ids=["telegram", "discord", "slack"],
)
def test_a_missing_token_is_one_line(adapter: object, settings: Settings, expected: str) -> None:
    assert refusal(adapter, settings) == expected


@pytest.mark.parametrize(
    ("adapter", "section", "names"),
    [
        (TelegramAdapter, {"telegram": {"token": "no-colon-here"}}, "BOTKIT_TELEGRAM__TOKEN"),
        (
            TelegramAdapter,
            {"telegram": {"token": "123:abc", "mode": "webhook"}},
            "BOTKIT_TELEGRAM__WEBHOOK_URL",
        ),
        (
            DiscordAdapter,
            {"discord": {"token": "t", "public_key": "not hex at all"}},
            "BOTKIT_DISCORD__PUBLIC_KEY",
        ),
        (DiscordAdapter, {"discord": {"token": "t", "public_key": "abcd"}}, "BOTKIT_DISCORD__PUBLIC_KEY"),
        (
            DiscordAdapter,
            {"discord": {"token": "t", "application_id": "my-app"}},
            "BOTKIT_DISCORD__APPLICATION_ID",
        ),
        (
            DiscordAdapter,
            {"discord": {"token": "t", "interactions_port": 8080}},
            "BOTKIT_DISCORD__PUBLIC_KEY",
        ),
        (SlackAdapter, {"slack": {"bot_token": "xoxp-a-user-token"}}, "BOTKIT_SLACK__BOT_TOKEN"),
        (SlackAdapter, {"slack": {"bot_token": "xoxb-1"}}, "BOTKIT_SLACK__SIGNING_SECRET"),
        (SlackAdapter, {"slack": {"bot_token": "xoxb-1", "mode": "socket"}}, "BOTKIT_SLACK__APP_TOKEN"),
        (
            SlackAdapter,
            {"slack": {"bot_token": "xoxb-1", "mode": "socket", "app_token": "xoxb-2"}},
            "BOTKIT_SLACK__APP_TOKEN",
        ),
    ],
    ids=[
        "telegram-token-shape",
        "telegram-webhook-without-url",
        "discord-public-key-not-hex",
        "discord-public-key-short",
        "discord-application-id",
        "discord-interactions-without-key",
        "slack-user-token",
        "slack-http-without-secret",
        "slack-socket-without-app-token",
        "slack-app-token-kind",
    ],
)
def test_a_malformed_or_incomplete_section_is_one_line(
    adapter: object, section: dict[str, dict[str, object]], names: str
) -> None:
    message = refusal(adapter, Settings(**section))  # type: ignore[arg-type]
    platform = next(iter(section))
    assert message.startswith(f"{platform}: ")
    assert names in message
    for value in section[platform].values():  # a secret that is merely mistyped is never echoed
        if isinstance(value, str) and value not in ("webhook", "socket") and len(value) > 4:
            assert value not in message


def test_settings_read_from_the_environment_are_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOTKIT_DISCORD__TOKEN", "a-token")
    monkeypatch.setenv("BOTKIT_DISCORD__PUBLIC_KEY", "zz" * 32)
    assert "discord.public_key" in refusal(DiscordAdapter, Settings())
    monkeypatch.setenv("BOTKIT_DISCORD__PUBLIC_KEY", PUBLIC_KEY)
    adapter = DiscordAdapter.from_settings(Settings())
    assert adapter.settings.public_key == PUBLIC_KEY


def test_good_sections_build_adapters() -> None:
    telegram = TelegramAdapter.from_settings(Settings(telegram={"token": "123:abc-DEF_g"}))  # type: ignore[arg-type]
    slack = SlackAdapter.from_settings(
        Settings(slack={"bot_token": "xoxb-1", "signing_secret": "s"})  # type: ignore[arg-type]
    )
    discord = DiscordAdapter.from_settings(Settings(discord={"token": "t", "public_key": PUBLIC_KEY}))  # type: ignore[arg-type]
    assert (telegram.name, slack.name, discord.name) == ("telegram", "slack", "discord")


@pytest.mark.parametrize("section", [TelegramSettings, DiscordSettings, SlackSettings])
def test_every_platform_shares_the_base_names(section: type[PlatformSettings]) -> None:
    shared = set(PlatformSettings.model_fields)
    assert shared == {"group_mode", "edited_messages", "stream_edit_interval_s"}
    assert shared <= set(section.model_fields)
    assert section.model_fields["stream_edit_interval_s"].default == 1.0
    with pytest.raises(ValidationError):  # the old names are typos now, not silently ignored settings
        section.model_validate({"edit_interval_s": 0.5})
    with pytest.raises(ValidationError):
        section.model_validate({"supported_attachments": ["image"]})
