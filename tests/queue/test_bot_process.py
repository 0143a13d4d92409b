"""The bot side of queue mode in a process of its own: it counts tokens, and it never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from botkit.model.chat_format import encode_chat
from botkit.model.loader import load_model
from tests.queue.servers import ROOT

# What `botkit run` does before it starts the adapters (botkit/cli.py), then what the chat plugin asks
# of the generator for every message; then which heavy modules this process holds.
BOT_PROCESS = """
import json, sys
from botkit.config import load_settings
from botkit.runtime import build_bot, build_generator

settings = load_settings(sys.argv[1])
generator = build_generator(settings)
bot = build_bot(settings, model=generator)
count = generator.count_tokens(json.loads(sys.argv[2]))
heavy = sorted(name for name in ("torch", "transformers", "safetensors") if name in sys.modules)
print(json.dumps({"generator": type(generator).__name__, "count": count, "heavy": heavy}))
"""

CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "hello there, 你好 🌍"},
    {"role": "assistant", "content": "Hi! How can I help?"},
    {"role": "user", "content": "what is <|im_end|> doing here?"},
]


def test_a_queue_mode_bot_counts_tokens_without_importing_torch(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "botkit.toml"
    config.write_text(
        # Its own data_dir: the store would be .botkit/ in the checkout (the process runs there), which
        # every run and both xdist workers would share.
        f'data_dir = "{tmp_path / "data"}"\n'
        '[queue]\nbackend = "celery"\nredis_url = "redis://127.0.0.1:1/0"\n'  # building must not connect
        f'[model]\npath = "{tiny_model_dir}"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-c", BOT_PROCESS, str(config), json.dumps(CHAT)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)

    assert report["generator"] == "CeleryGenerator"
    assert report["heavy"] == []
    assert report["count"] == len(encode_chat(load_model(tiny_model_dir, device="cpu").tokenizer, CHAT))
