"""How much faster a queue-mode bot starts, and how much less memory it holds, without torch.

Each run starts a fresh Python process that does what ``botkit run`` does with ``[queue] backend =
"celery"`` before it serves (settings, the generator, the bot and its plugins), then counts the tokens of
one conversation, as the chat plugin does for every message. Two sides, alternating, in the same run:

- ``queue_bot``: botkit as it is: the count comes from ``ChatTokenizer`` (tokenizers and jinja2 only);
- ``with_torch``: the same bot counting the way it used to, through the in-process model's module
  (which imports torch) and transformers' ``AutoTokenizer``.

Start-up is the wall time from launching the process to its exit after the count; memory is the
process's peak resident set (``wait4``). Prints one JSON line with the medians of ``--repeats`` runs and
the ratios.

    python bench/bot_startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from botkit.model.loader import default_model_dir

ROOT = Path(__file__).resolve().parents[1]

BOT = """
import json, sys
from botkit.config import load_settings
from botkit.runtime import build_bot, build_generator

settings = load_settings(sys.argv[1])
generator = build_generator(settings)
bot = build_bot(settings, model=generator)
chat = [{"role": "user", "content": "Hello! How do I reset my password?"}]
if sys.argv[2] == "with_torch":
    import botkit.model.local  # what the bot imported before to reach encode_chat
    from transformers import AutoTokenizer
    from botkit.model.chat_format import encode_chat
    count = len(encode_chat(AutoTokenizer.from_pretrained(settings.model.path), chat))
else:
    count = generator.count_tokens(chat)
heavy = sorted(name for name in ("torch", "transformers") if name in sys.modules)
print(json.dumps({"count": count, "heavy": heavy}))
"""


def run_once(config: Path, side: str) -> dict[str, Any]:
    """One bot process: its wall time, peak RSS and what it reported."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", BOT, str(config), side], cwd=ROOT, env=env, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"the {side} bot process failed with status {proc.returncode}")
    report: dict[str, Any] = json.loads(out)
    return {"startup_s": elapsed, "max_rss_mb": usage.ru_maxrss / 1024, **report}  # ru_maxrss: KiB


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "startup_s": round(statistics.median(r["startup_s"] for r in runs), 3),
        "max_rss_mb": round(statistics.median(r["max_rss_mb"] for r in runs), 1),
        "heavy_modules": runs[0]["heavy"],
        "prompt_tokens": runs[0]["count"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="runs per side; the median is kept")
    parser.add_argument("--model", help="model dir whose tokenizer the bot reads (default: the shipped one)")
    args = parser.parse_args()
    model = args.model or default_model_dir()
    if model is None:
        raise SystemExit("no model directory: pass --model DIR")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "botkit.toml"
        # Port 1: nobody listens, and building the bot must not connect (it connects on its first request).
        config.write_text(
            f'[queue]\nbackend = "celery"\nredis_url = "redis://127.0.0.1:1/0"\n[model]\npath = "{model}"\n',
            encoding="utf-8",
        )
        sides: dict[str, list[dict[str, Any]]] = {"queue_bot": [], "with_torch": []}
        run_once(config, "queue_bot")  # warm the file cache for both sides alike
        run_once(config, "with_torch")
        for _ in range(args.repeats):  # alternating, so a busy moment of the machine hits both sides
            for side, runs in sides.items():
                runs.append(run_once(config, side))
    queue_bot, with_torch = summarise(sides["queue_bot"]), summarise(sides["with_torch"])
    if queue_bot["prompt_tokens"] != with_torch["prompt_tokens"]:
        raise SystemExit(f"the two sides count differently: {queue_bot} / {with_torch}")
    report = {
        "bench": "bot_startup",
        "repeats": args.repeats,
        "model": str(model),
        "queue_bot": queue_bot,
        "with_torch": with_torch,
        "startup_speedup": round(with_torch["startup_s"] / queue_bot["startup_s"], 2),
        "memory_ratio": round(with_torch["max_rss_mb"] / queue_bot["max_rss_mb"], 2),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
