"""Configuration: one TOML file plus ``BOTKIT_`` environment overrides (nested with ``__``).

Precedence, highest first: keyword arguments, environment (``BOTKIT_MODEL__PATH=...``), the TOML file,
the defaults below. Each concern has its own model; adapters read their own section.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from botkit.platform_settings import DiscordSettings, SlackSettings, TelegramSettings, WebSettings
from botkit.types import MODEL_SAMPLING_FIELDS, SamplingParams

CONFIG_ENV = "BOTKIT_CONFIG"
DEFAULT_CONFIG_NAME = "botkit.toml"

# Said in each sampling field's description (and so in the README's reference table).
_FROM_MODEL = "; unset: the model's generation_config.json, else this default"


class Section(BaseModel):
    """Base for config sections: unknown keys are an error, so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid")


class ModelSettings(Section):
    """The dialogue model and how replies are sampled.

    Each sampling field left unset here (file, environment) comes from the model directory's
    ``generation_config.json`` where that sets it, else from :class:`SamplingParams`' defaults: a value set
    here wins, per field. :meth:`sampling_params` marks the unset ones; the backend that holds the model
    fills them in (:mod:`botkit.model.generation_defaults`).
    """

    path: Path | None = Field(None, description="local model directory; None uses the shipped default model")
    device: str = Field("auto", description='"auto" (CUDA if present, else CPU), "cpu", "cuda", "cuda:1"...')
    dtype: str = Field("auto", description='"auto" (bf16 on CUDA, float32 on CPU), "float32", "bfloat16"...')
    max_new_tokens: int = Field(
        SamplingParams.max_new_tokens, ge=1, description=f"longest reply, in tokens{_FROM_MODEL}"
    )
    temperature: float = Field(
        SamplingParams.temperature,
        ge=0.0,
        description=f"sampling temperature; 0 picks the likeliest token (do_sample false: 0){_FROM_MODEL}",
    )
    top_p: float = Field(
        SamplingParams.top_p,
        gt=0.0,
        le=1.0,
        description=f"nucleus sampling: keep this much probability mass{_FROM_MODEL}",
    )
    top_k: int = Field(
        SamplingParams.top_k,
        ge=0,
        description=f"sample among the k likeliest tokens (0: no limit){_FROM_MODEL}",
    )
    repetition_penalty: float = Field(
        SamplingParams.repetition_penalty,
        ge=1.0,
        description=f"lower the odds of tokens already used{_FROM_MODEL}",
    )
    seed: int | None = Field(None, description="fixed sampling seed (reproducible replies, for tests)")
    max_batch: int = Field(32, ge=1, description="most requests generated together in one batch")
    engine: Literal["auto", "botkit", "transformers"] = Field(
        "auto",
        description='batch engine: "botkit" (own scheduler), "transformers" (its continuous batching), '
        '"auto" (botkit on CPU; on GPU the faster of the two, timed at start-up)',
    )
    timeout_s: float = Field(120.0, gt=0, description="a reply taking longer is cut off with a notice")

    def sampling_params(self) -> SamplingParams:
        """How each reply is sampled, from this section; ``from_model`` names the sampling fields set
        neither in the file nor in the environment, which the model's ``generation_config.json`` may
        supply (``model_fields_set`` tells which were set, even to the default's value)."""
        return SamplingParams(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            repetition_penalty=self.repetition_penalty,
            seed=self.seed,
            from_model=frozenset(MODEL_SAMPLING_FIELDS) - self.model_fields_set,
        )


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
    max_attachment_bytes: int = Field(
        20 * 1024 * 1024, ge=1, description="largest attachment a plugin may download (Telegram's own cap)"
    )


class QueueSettings(Section):
    """Where generation runs: in this process, or on Celery workers behind Redis."""

    backend: Literal["local", "celery"] = Field(
        "local", description='where replies are generated: "local" (in this process) or "celery" (workers)'
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description=(
            "broker and stream transport (env BOTKIT_QUEUE__REDIS_URL; BOTKIT_REDIS_URL also works): "
            "redis://USER:PASSWORD@HOST:PORT/DB for Redis's ACL user (keep the password in the environment, "
            "not in this file); rediss:// for TLS (?ssl_ca_certs=FILE names the CA)"
        ),
    )
    inference_queue: str = Field("botkit.inference", description="Celery queue the inference workers consume")
    jobs_queue: str = Field("botkit.jobs", description="Celery queue for plugins' ordinary background jobs")
    visibility_timeout_s: int = Field(
        180,
        ge=1,
        description=(
            "Celery redelivers a task unacknowledged this long; sized to the longest generation "
            "(model.timeout_s + queue_grace_s + 30 s) so a running reply is never handed out twice. A "
            "crashed worker's requests do not wait for it: the waiting bot re-queues them once the worker's "
            "heartbeat stops (heartbeat_ttl_s); this only covers requests nobody waits on any more"
        ),
    )
    restore_interval_s: int = Field(10, ge=1, description="how often workers look for unacknowledged tasks")
    stream_interval_ms: int = Field(50, ge=0, description="coalesce streamed text for this long (0: no wait)")
    stream_chars: int = Field(64, ge=1, description="publish sooner once this many characters are waiting")
    connect_timeout_s: float = Field(1.0, gt=0, description="Redis down for this long means 'busy'")
    lock_ttl_s: int = Field(
        10,
        ge=1,
        description="a generation's lock lapses this long after its worker stopped refreshing it (a dead "
        "worker's lock is taken over sooner, once its heartbeat is gone)",
    )
    heartbeat_ttl_s: float = Field(
        3.0,
        gt=0,
        description="a worker that has not renewed its heartbeat for this long counts as dead and the bot "
        "re-queues the requests it was generating (renewed every third of it)",
    )
    result_ttl_s: int = Field(3600, ge=1, description="how long replies are kept for duplicate requests")
    queue_grace_s: float = Field(
        30.0, ge=0, description="extra wait for a free worker beyond model.timeout_s"
    )

    @field_validator("redis_url")
    @classmethod
    def _valid_redis_url(cls, url: str) -> str:
        return _check_redis_url(url)


REDIS_TLS_KEYS = ("ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
REDIS_CERT_REQS = ("required", "optional", "none", "cert_required", "cert_optional", "cert_none")


def _check_redis_url(url: str) -> str:
    """A URL redis-py, kombu and Celery all read the same way; the error never repeats the URL (it may
    hold a password)."""
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError("must start with redis://, rediss:// (TLS) or unix://")
    query = dict(parse_qsl(parts.query))
    tls_keys = sorted(k for k in query if k in REDIS_TLS_KEYS)
    if tls_keys and parts.scheme != "rediss":
        raise ValueError(f"{', '.join(tls_keys)} needs TLS: start the URL with rediss://")
    if query.get("ssl_cert_reqs", "required").lower() not in REDIS_CERT_REQS:
        raise ValueError("ssl_cert_reqs must be required, optional or none")
    return url


class KBSettings(Section):
    """The knowledge base (:mod:`botkit.kb`): retrieval and how answers are made from it."""

    model_dir: Path | None = Field(
        None, description="sentence-transformers model folder; None: the all-MiniLM-L6-v2 weights shipped"
    )
    threshold: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="under this confidence the bot says it is unsure and offers a person; 0.5 is the "
        "threshold that `botkit kb calibrate` chose on held-out questions (the example shop's val questions "
        "for the shipped calibration)",
    )
    top_k: int = Field(3, ge=1, description="passages retrieved per question")
    rephrase: bool = Field(
        False, description="let the dialogue model rephrase or join passages (FAQ answers stay verbatim)"
    )
    max_query_chars: int = Field(1000, ge=1, description="longer questions are refused with a reason")
    max_file_mb: float = Field(20.0, gt=0, description="larger files are refused by `botkit kb add`")
    chunk_words: int = Field(
        180, ge=20, description="longest chunk in words (the embedding model reads about 200 words)"
    )
    bm25_weight: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        description="BM25's weight in the fused ranking (convex: w * BM25 / best + (1 - w) * cosine); "
        "chosen on the example shop's val questions",
    )
    fusion: Literal["learned", "convex", "rrf"] = Field(
        "learned",
        description="how fused search joins dense and lexical evidence: weights fitted on held-out "
        "questions (learned, see `botkit kb calibrate`), their scores (convex) or ranks (rrf)",
    )
    dense_languages: list[str] = Field(
        ["en"], description="languages the embedding model reads; other questions are ranked by BM25 alone"
    )


class DeskSettings(Section):
    """The support desk (:mod:`botkit.desk`): handoff to people, tickets and ratings."""

    enabled: bool = Field(False, description="answer from the knowledge base and hand off to people")
    unsure_before_handoff: int = Field(
        2, ge=1, description="after this many unsure or unhelpful answers the bot offers a person itself"
    )
    agents_slack_channel: str | None = Field(
        None, description="Slack channel id where agents get one thread per handed-off conversation"
    )
    ask_rating: bool = Field(True, description="ask the user for a rating after a person resolves")
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="serve the desk's Prometheus metrics at http://0.0.0.0:PORT/metrics; None: off",
    )


class ConsoleSettings(Section):
    """The agents' and admins' web console (``plugins = ["botkit.console"]``; needs the ``web`` extra)."""

    enabled: bool = Field(
        False, description="serve the console even where the botkit.console plugin was found, not listed"
    )
    listen: str = Field("127.0.0.1", description="address the console binds (behind HTTPS to expose it)")
    port: int = Field(8081, ge=0, le=65535, description="port the console binds (0: any free port)")
    session_ttl_s: int = Field(8 * 3600, ge=60, description="a login lasts this long, then signs in again")
    login_attempts: int = Field(5, ge=1, description="failed logins allowed per user name and per address")
    login_window_s: float = Field(60.0, gt=0, description="the window those attempts are counted over")
    secure_cookies: bool = Field(
        False, description="mark the session cookie Secure (set it when the console is served over HTTPS)"
    )


# A text in several languages: {en = "...", zh = "..."}; a reply picks the user's language, else the
# configured one, else English, else the first entry (see botkit.safety.rules.pick_text).
LocalText = dict[str, str]


def _valid_patterns(patterns: list[str]) -> list[str]:
    """Each regex must compile: a bad one is named in the config error, not found at the first message."""
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad regex {pattern!r}: {exc}") from None
    return patterns


def _valid_words(words: list[str]) -> list[str]:
    blank = [w for w in words if not w.strip()]
    if blank:
        raise ValueError("a word or phrase is empty (it would match every message)")
    return words


def _valid_text(text: LocalText) -> LocalText:
    empty = sorted(lang for lang, value in text.items() if not value.strip())
    if empty:
        raise ValueError(f"the text for {', '.join(empty)} is empty")
    return text


class KeywordRule(Section):
    """What a rule looks for: English words match whole words, Chinese ones anywhere; case and width
    (full-width letters) do not matter. ``ignore`` phrases are cut out of the message first, so that
    "suicide squad" or "跳楼价" does not trigger a rule listing "suicide" or "跳楼"."""

    words: list[str] = Field(default_factory=list, description="words or phrases that trigger the rule")
    patterns: list[str] = Field(
        default_factory=list, description="regular expressions (case-insensitive) that trigger the rule"
    )
    ignore: list[str] = Field(
        default_factory=list, description="phrases that never count (known false positives)"
    )

    _check_words = field_validator("words", "ignore")(_valid_words)
    _check_patterns = field_validator("patterns")(_valid_patterns)


class TopicRule(KeywordRule):
    """A topic the bot refuses: its words, and the refusal sent instead of an answer."""

    name: str = Field(..., min_length=1, description="the topic, for logs")
    reply: LocalText = Field(..., min_length=1, description="the refusal, per language")

    _check_reply = field_validator("reply")(_valid_text)


class EmergencyRule(KeywordRule):
    """Words of danger (self-harm, a medical emergency): an emergency message comes first."""

    reply: LocalText = Field(
        default_factory=dict, description="the emergency message per language; empty: botkit's own"
    )
    then: Literal["stop", "continue", "handoff"] = Field(
        "stop", description="after the message: stop, let the bot answer too, or hand off to a person"
    )

    _check_reply = field_validator("reply")(_valid_text)


class SafetySettings(Section):
    """Safety rules of a preset (:mod:`botkit.safety`): disclaimers, refused topics, emergency words.

    Checked in this order on each message: emergency words, the disclaimer (once per conversation),
    refused topics, handoff words; then the message goes on to the plugins.
    """

    enabled: bool = Field(False, description="apply the rules below to every message")
    disclaimer: LocalText = Field(
        default_factory=dict, description="shown once at the start of each conversation, per language"
    )
    emergency: EmergencyRule = Field(default_factory=EmergencyRule)
    refuse: list[TopicRule] = Field(default_factory=list, description="topics refused ([[safety.refuse]])")
    handoff: KeywordRule = Field(
        default_factory=KeywordRule, description="words that hand the conversation to a person at once"
    )

    _check_disclaimer = field_validator("disclaimer")(_valid_text)


class Settings(BaseSettings):
    """All of botkit's configuration. See ``botkit init`` for a commented starter file."""

    model_config = SettingsConfigDict(
        env_prefix="BOTKIT_", env_nested_delimiter="__", extra="forbid", toml_file=None
    )

    name: str = Field("botkit", description="the bot's name, used in greetings")
    data_dir: Path = Field(Path(".botkit"), description="where the SQLite store and other state live")
    plugins: list[str] = Field(default_factory=list, description='import paths: "pkg.mod" or "pkg.mod:Class"')
    plugin_dirs: list[Path] = Field(
        default_factory=list,
        description="more folders to import plugins from, relative to the config file (its own always is)",
    )
    discover_plugins: bool = Field(True, description="also load the botkit.plugins entry-point group")
    disabled_plugins: list[str] = Field(default_factory=list, description="plugin names not to load")
    admins: list[str] = Field(default_factory=list, description='"platform:user_id" allowed admin commands')
    adapters: list[str] = Field(default_factory=list, description="adapters `botkit run` starts")
    store: Literal["database", "sqlite", "memory"] = Field(
        "database",
        description='where conversations live: "database" (database_url) or "memory" ("sqlite" = "database")',
    )
    database_url: str | None = Field(
        None,
        description='SQLAlchemy URL ("postgresql+psycopg://host/db"); None: SQLite under data_dir',
    )
    log_level: str = Field("INFO", description="logging level for `botkit run`")
    language: str = Field(
        "en", description="language of botkit's own texts when the platform does not tell the user's (en, zh)"
    )
    model: ModelSettings = Field(default_factory=ModelSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    kb: KBSettings = Field(default_factory=KBSettings)
    desk: DeskSettings = Field(default_factory=DeskSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    _config_file: Path | None = PrivateAttr(None)

    @property
    def config_file(self) -> Path | None:
        """The file these settings were read from (None: defaults and environment only)."""
        return self._config_file

    def plugin_search_path(self) -> list[Path]:
        """Folders that plugin import paths are looked up in, before the installed packages.

        The config file's own folder (the working directory when there is none), so that a ``botkit init``
        project's ``plugins.example`` imports, then each of ``plugin_dirs`` resolved against it.
        """
        base = self._config_file.parent if self._config_file is not None else Path.cwd()
        return [base, *((base / folder).resolve() for folder in self.plugin_dirs)]


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
    try:
        settings = Settings.model_validate(_layered(chosen, overrides))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in exc.errors()
        )
        where = f"config file {chosen}" if chosen else "configuration"
        raise ConfigError(f"{where} is invalid: {problems}") from exc
    settings._config_file = chosen.resolve() if chosen is not None else None
    return settings


def _layered(toml_file: Path | None, overrides: dict[str, Any]) -> dict[str, Any]:
    """The raw values of each source, merged key by key: overrides over environment over the file.

    Built here per call (rather than by ``settings_customise_sources``, which only sees the class) so
    that the file's path reaches the TOML source as an argument, not through module state.
    """
    layers: list[dict[str, Any]] = []
    if toml_file is not None:
        layers.append(TomlConfigSettingsSource(Settings, toml_file=toml_file)())
    layers += [EnvSettingsSource(Settings)(), overrides]
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _merge(merged, layer)
    return merged


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``; nested sections merge field by field (``[model]`` in the file, one env var)."""
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        merged[key] = _merge(below, value) if isinstance(below, dict) and isinstance(value, dict) else value
    return merged
