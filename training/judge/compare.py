"""``botkit train compare``: models side by side on the same held-out text, in ``compare.json``,
``compare.md`` and ``compare.png``.

Per model and per held-out set (``data.py``: chitchat conversations, the other dialogues): bits per byte
and perplexity per word of the assistant's text, replies to the held-out contexts (sampled as botkit
serves the model, seeded) with their unigram F1, distinct-1/2, repetition and copy rates, and the
discriminator test; then replies to twenty fixed prompts and the latency of one reply on this machine.
The human references get the same reply measures, as the mark to aim at.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botkit.training.config import DataConfig
from botkit.training.judge import measures
from botkit.training.judge.data import JUDGE_DATA, HeldOut, Messages, load_held_out, reply_cases
from botkit.training.judge.discriminator_test import discriminator_accuracy

PROMPTS = [
    "Hello!",
    "What can you do?",
    "Tell me a joke.",
    "How are you today?",
    "What is botkit?",
    "How do I start over?",
    "What did you do this weekend?",
    "Do you like music?",
    "What's your favorite food?",
    "Can you recommend a good book?",
    "你好",
    "你是谁？",
    "有哪些命令？",
    "今天天气怎么样？",
    "给我讲个笑话。",
    "你喜欢什么音乐？",
    "你会说中文吗？",
    "周末你做了什么？",
    "怎么重新开始对话？",
    "谢谢你！",
]
"""Twenty fixed prompts, ten English and ten Chinese, each the first turn of a conversation."""

log = logging.getLogger(__name__)

SET_TITLES = {
    "chitchat": "held-out chitchat",
    "dialogues": "held-out dialogues (persona, chatterbot)",
    "chinese": "held-out Chinese dialogues (the Chinese part of the set above)",
}


@dataclass
class CompareOptions:
    """What ``botkit train compare`` measures, and how much.

    Attributes:
        models: model directories, the first the baseline the others are set beside.
        out: where the report goes.
        dialogues: most dialogues per held-out set (0: all of the test half).
        replies_per_dialogue: (context, reference) pairs drawn from each dialogue for the reply measures.
        max_new_tokens: longest reply.
        seed: sampling seeds (request ``i`` uses ``seed + i``) and the discriminator's folds.
        latency_runs: timed replies per model (after one untimed).
        threads: torch threads (0: torch's default).
        data: the sources whose validation split is held out (``data.JUDGE_DATA``).
    """

    models: list[Path]
    out: Path
    dialogues: int = 60
    replies_per_dialogue: int = 3
    max_new_tokens: int = 40
    seed: int = 0
    latency_runs: int = 3
    threads: int = 0
    data: DataConfig = field(default_factory=lambda: JUDGE_DATA)


def run_compare(opts: CompareOptions) -> dict[str, Any]:
    """Measure every model and write the report; returns what ``compare.json`` holds."""
    import torch

    from botkit.model.loader import load_model

    if opts.threads:
        torch.set_num_threads(opts.threads)
    started = time.perf_counter()
    opts.out.mkdir(parents=True, exist_ok=True)
    held = load_held_out(opts.data)
    sets = {name: d[: opts.dialogues] if opts.dialogues else d for name, d in held.sets("test").items()}
    cases = {name: reply_cases(d, opts.replies_per_dialogue) for name, d in sets.items()}
    result: dict[str, Any] = {
        "settings": _settings(opts, held, sets, cases, torch.get_num_threads()),
        "human": {name: human_quality([r for _, r in c], held) for name, c in cases.items()},
        "models": {},
        "prompts": PROMPTS,
    }
    for name, path in zip(_names(opts.models), opts.models, strict=True):
        lm = load_model(path, device="cpu", dtype="float32")
        result["models"][name] = measure_model(lm, sets, cases, held, opts)
        result["models"][name]["path"] = str(path)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    (opts.out / "compare.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (opts.out / "compare.md").write_text(to_markdown(result))
    plot(result, opts.out / "compare.png")
    return result


def human_quality(references: list[str], held: HeldOut) -> dict[str, Any]:
    """The reply measures of the human references themselves (F1 against themselves means nothing)."""
    out: dict[str, Any] = measures.reply_quality(references, references, held.training_utterances)
    del out["unigram_f1"], out["unigram_f1_se"]
    return out


def measure_model(
    lm: Any,
    sets: dict[str, list[Messages]],
    cases: dict[str, list[tuple[Messages, str]]],
    held: HeldOut,
    opts: CompareOptions,
) -> dict[str, Any]:
    """Every measure of one loaded model (a ``LoadedModel``) on the held-out sets and the prompts."""
    params = measures.generation_defaults(lm, opts.max_new_tokens)
    out: dict[str, Any] = {
        "parameters": sum(p.numel() for p in lm.model.parameters()),
        "context_window": lm.context_window,
        "sampling": params.to_dict(),
    }
    for name, dialogues in sets.items():
        contexts = [c for c, _ in cases[name]]
        refs = [r for _, r in cases[name]]
        log.info(
            "%s: %s: bits of %d dialogues, %d replies", lm.path.name, name, len(dialogues), len(contexts)
        )
        replies = measures.generate_replies(lm, contexts, params, opts.seed)
        entry: dict[str, Any] = {"dialogues": len(dialogues)}
        entry.update(measures.assistant_bits(lm, dialogues).summary())
        entry.update(measures.reply_quality(refs, replies, held.training_utterances))
        keys = [json.dumps(c, ensure_ascii=False) for c in contexts]
        entry["discriminator"] = (
            discriminator_accuracy(keys, refs, replies, seed=opts.seed).to_dict()
            if len(set(keys)) >= 2
            else None
        )
        entry["examples"] = [
            {"user": c[-1]["content"], "reference": r, "reply": y}
            for c, r, y in zip(contexts[:6], refs, replies, strict=False)
        ]
        out[name] = entry
    log.info("%s: fixed prompts and latency", lm.path.name)
    prompts = [[{"role": "user", "content": p}] for p in PROMPTS]
    out["prompt_replies"] = measures.generate_replies(lm, prompts, params, opts.seed)
    out["latency"] = measures.latency(lm, runs=opts.latency_runs)
    return out


def _settings(
    opts: CompareOptions,
    held: HeldOut,
    sets: dict[str, list[Messages]],
    cases: dict[str, list[tuple[Messages, str]]],
    threads: int,
) -> dict[str, Any]:
    data = opts.data
    return {
        "split": {
            "sources": data.model_dump(
                mode="json",
                include={
                    "dialogue_files",
                    "chatterbot_languages",
                    "chatterbot_exclude",
                    "chitchat",
                    "chitchat_files",
                },
            ),
            "validation_fraction": data.validation_fraction,
            "split_seed": data.split_seed,
            "rule": "training/split.py group split (normalised last prompt and reply); held-out halved "
            "by the same rule with split_seed + 1 into tune and test; these figures: test half",
        },
        "dialogues": {name: len(d) for name, d in sets.items()},
        "reply_cases": {name: len(c) for name, c in cases.items()},
        "training_utterances": len(held.training_utterances),
        "max_new_tokens": opts.max_new_tokens,
        "replies_per_dialogue": opts.replies_per_dialogue,
        "seed": opts.seed,
        "machine": f"{_cpu_name()}, {os.cpu_count()} CPUs",
        "load_average_at_start": round(os.getloadavg()[0], 2),  # other work on the CPUs slows latency
        "torch_threads": threads,
    }


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _names(paths: list[Path]) -> list[str]:
    names: list[str] = []
    for p in paths:
        base = Path(p).resolve().name or str(p)
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


ROWS = [
    ("bits_per_byte", "bits per byte (assistant text)"),
    ("perplexity_per_word", "perplexity per word"),
    ("unigram_f1", "unigram F1 vs reference"),
    ("unigram_f1_se", "its standard error"),
    ("distinct_1", "distinct-1"),
    ("distinct_2", "distinct-2"),
    ("repetition_rate", "repetition rate"),
    ("copy_rate", "copies of a training utterance"),
    ("mean_words", "mean reply length (words)"),
]


def to_markdown(result: dict[str, Any]) -> str:
    """The comparison as Markdown: one table per held-out set, the prompts side by side, latency."""
    models = result["models"]
    names = list(models)
    s = result["settings"]
    lines = ["# Model comparison", "", "| model | parameters | context | path |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {n} | {m['parameters']:,} | {m['context_window']} | `{m['path']}` |" for n, m in models.items()
    ]
    lines += [
        "",
        f"Held-out split: {s['split']['rule']}. Dialogues {s['dialogues']}, reply contexts "
        f"{s['reply_cases']}; sampling as each model is served (`sampling` in compare.json), seed "
        f"{s['seed']}; {s['machine']}, {s['torch_threads']} torch threads, load average "
        f"{s['load_average_at_start']} at start; {result.get('wall_s')} s.",
    ]
    head = "| measure | " + " | ".join(names) + " | human |"
    rule = "| --- |" + " --- |" * (len(names) + 1)
    for set_name, title in SET_TITLES.items():
        lines += ["", f"## {title}", "", head, rule]
        human = result["human"].get(set_name, {})
        for key, label in ROWS:
            cells = [_fmt(models[n].get(set_name, {}).get(key)) for n in names]
            lines.append(
                f"| {label} | " + " | ".join(cells) + f" | {_fmt(human.get(key)) if key in human else ''} |"
            )
        cells = []
        for n in names:
            d = models[n].get(set_name, {}).get("discriminator")
            cells.append(f"{d['accuracy']:.1%} ± {d['ci95']:.1%}" if d else "")
        lines.append("| discriminator accuracy (50% = human-like) | " + " | ".join(cells) + " | 50% |")
        if len(names) > 1:
            base = models[names[0]].get(set_name, {}).get("bits_per_byte")
            ratios = [
                _fmt(models[n][set_name]["bits_per_byte"] / base)
                if base and models[n].get(set_name, {}).get("bits_per_byte")
                else ""
                for n in names
            ]
            lines.append(f"| bits per byte / {names[0]}'s | " + " | ".join(ratios) + " | |")
    lines += [
        "",
        "## Latency (one reply, botkit's engine, greedy)",
        "",
        "| model | time to first token (s) | tokens/s | reply tokens |",
        "| --- | --- | --- | --- |",
    ]
    for n in names:
        lat = models[n]["latency"]
        lines.append(f"| {n} | {lat['ttft_s']:.3f} | {lat['tokens_per_s']:.1f} | {lat['reply_tokens']} |")
    lines += [
        "",
        "## Fixed prompts",
        "",
        "| prompt | " + " | ".join(names) + " |",
        "| --- |" + " --- |" * len(names),
    ]
    for i, p in enumerate(result["prompts"]):
        lines.append(
            f"| {_cell(p)} | " + " | ".join(_cell(models[n]["prompt_replies"][i]) for n in names) + " |"
        )
    return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "(empty)"


def plot(result: dict[str, Any], path: Path) -> None:
    """Bars per model: bits per byte, discriminator accuracy, unigram F1 and distinct-2, latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    models = result["models"]
    names = list(models)
    sets = list(SET_TITLES)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    x = np.arange(len(sets))
    width = 0.8 / max(1, len(names))

    def bars(ax: Any, key: str, title: str, pick: Any = None) -> None:
        for i, n in enumerate(names):
            vals = [(pick or (lambda e: e.get(key)))(models[n].get(s, {})) or 0 for s in sets]
            ax.bar(x + i * width, vals, width, label=n)
        ax.set_xticks(x + width * (len(names) - 1) / 2, sets)
        ax.set_title(title)

    bars(axes[0, 0], "bits_per_byte", "bits per byte of the assistant's text (lower is better)")
    bars(
        axes[0, 1],
        "",
        "discriminator accuracy (0.5 = human-like)",
        lambda e: (e.get("discriminator") or {}).get("accuracy"),
    )
    axes[0, 1].axhline(0.5, color="grey", linestyle="--", linewidth=1)
    bars(axes[1, 0], "unigram_f1", "unigram F1 against the reference")
    lat = axes[1, 1]
    lat.bar(names, [models[n]["latency"]["tokens_per_s"] for n in names])
    lat.set_title("decoding speed, tokens/s (one reply, this CPU)")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
