"""Token counting on the bot side without the model weights, and without torch or transformers.

The tokenizer comes from the local model directory when there is one, else from the files every worker
publishes to Redis at start-up. It is loaded once, on first use, as a
:class:`~botkit.model.chat_format.ChatTokenizer` (``tokenizers`` and ``jinja2`` only).
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from botkit.errors import NO_WORKER, ModelBusy
from botkit.model.chat_format import ChatTokenizer
from botkit.queue.protocol import MODEL_INFO_KEY
from botkit.types import ChatTurn


class TokenCounter:
    """Counts prompt tokens with the workers' tokenizer and reports their context window.

    Args:
        redis_url: where workers publish the model info.
        model_dir: a local model directory to read instead (None: use Redis).
        connect_timeout_s: how long Redis may take to answer before the model counts as busy.
    """

    def __init__(self, redis_url: str, model_dir: str | Path | None, *, connect_timeout_s: float = 1.0):
        self._redis_url = redis_url
        self._model_dir = Path(model_dir) if model_dir is not None else None
        self._connect_timeout_s = connect_timeout_s
        self._lock = threading.Lock()
        self._tokenizer: ChatTokenizer | None = None
        self._context_window = 0

    def count(self, messages: Sequence[ChatTurn]) -> int:
        """Prompt length of ``messages`` with the chat template, as the worker will encode it."""
        return len(self._load().encode_chat(messages))

    def context_window(self) -> int:
        """The model's context window in tokens."""
        self._load()
        return self._context_window

    def _load(self) -> ChatTokenizer:
        with self._lock:
            if self._tokenizer is None:
                directory = self._model_dir or self._fetch_from_workers()
                self._tokenizer, self._context_window = _read_tokenizer(directory)
            return self._tokenizer

    def _fetch_from_workers(self) -> Path:
        import redis

        client = redis.Redis.from_url(
            self._redis_url, decode_responses=True, socket_connect_timeout=self._connect_timeout_s
        )
        try:
            info: dict[str, str] = client.hgetall(MODEL_INFO_KEY)  # type: ignore[assignment]  # decoded
        except redis.RedisError as exc:
            raise ModelBusy() from exc
        finally:
            client.close()
        if not info:
            raise ModelBusy(NO_WORKER)
        directory = Path(tempfile.mkdtemp(prefix="botkit-tokenizer-"))
        for field, content in info.items():
            if field.startswith("file:"):
                (directory / Path(field[5:]).name).write_text(content, encoding="utf-8")
        (directory / "context_window").write_text(info.get("context_window", "2048"), encoding="utf-8")
        return directory


def _read_tokenizer(directory: Path) -> tuple[ChatTokenizer, int]:
    """The tokenizer in ``directory`` and the context window (from config.json or the worker's note)."""
    import json

    tokenizer = ChatTokenizer.from_dir(directory)
    window = 2048
    if (directory / "context_window").is_file():
        window = int((directory / "context_window").read_text(encoding="utf-8"))
    elif (directory / "config.json").is_file():
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            if isinstance(config.get(name), int) and config[name] > 0:
                window = config[name]
                break
    return tokenizer, window
