"""What the Slack adapter's settings must hold: checked when the adapter is built, before anything runs."""

from __future__ import annotations

from botkit.config import ConfigError
from botkit.platform_settings import SlackSettings


def check_settings(settings: SlackSettings) -> None:
    """Refuse settings the adapter cannot run with, in one line naming the setting and its variable.

    Raises:
        ConfigError: a token the mode needs is missing, or a token is not of its kind.
    """
    s = settings
    if s.bot_token is None or not s.bot_token.get_secret_value():
        raise ConfigError("slack: set slack.bot_token (or BOTKIT_SLACK__BOT_TOKEN)")
    if not s.bot_token.get_secret_value().startswith("xoxb-"):
        raise ConfigError("slack: slack.bot_token must be the xoxb- bot token (BOTKIT_SLACK__BOT_TOKEN)")
    if s.mode == "http" and (s.signing_secret is None or not s.signing_secret.get_secret_value()):
        raise ConfigError("slack: http mode needs slack.signing_secret (or BOTKIT_SLACK__SIGNING_SECRET)")
    if s.mode == "socket" and (s.app_token is None or not s.app_token.get_secret_value()):
        raise ConfigError("slack: socket mode needs slack.app_token (or BOTKIT_SLACK__APP_TOKEN)")
    if s.app_token is not None and not s.app_token.get_secret_value().startswith("xapp-"):
        raise ConfigError(
            "slack: slack.app_token must be the xapp- app-level token (BOTKIT_SLACK__APP_TOKEN)"
        )
