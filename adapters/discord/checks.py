"""What the Discord adapter's settings must hold: checked when the adapter is built, before anything runs."""

from __future__ import annotations

from botkit.config import ConfigError
from botkit.platform_settings import DiscordSettings

_HEX = frozenset("0123456789abcdefABCDEF")


def check_settings(settings: DiscordSettings) -> None:
    """Refuse settings the adapter cannot run with, in one line naming the setting and its variable.

    Raises:
        ConfigError: the token is missing, or the application id or public key is malformed.
    """
    if settings.token is None or not settings.token.get_secret_value():
        raise ConfigError("discord: set discord.token (or BOTKIT_DISCORD__TOKEN)")
    if settings.application_id is not None and not settings.application_id.isdigit():
        raise ConfigError(
            "discord: discord.application_id must be the numeric application id "
            "(BOTKIT_DISCORD__APPLICATION_ID)"
        )
    key = settings.public_key
    if key is not None and (len(key) != 64 or not set(key) <= _HEX):
        raise ConfigError(
            "discord: discord.public_key must be the application's public key, 64 hex digits "
            "(BOTKIT_DISCORD__PUBLIC_KEY)"
        )
    if settings.interactions_port is not None and key is None:
        raise ConfigError(
            "discord: discord.interactions_port needs discord.public_key to verify requests "
            "(or BOTKIT_DISCORD__PUBLIC_KEY)"
        )
