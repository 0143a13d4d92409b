"""``botkit train tune-generation``: sampling defaults chosen on held-out dialogues, not guessed.

The grid: temperature 0.5 / 0.7 / 0.9 x top-p 0.9 / 1.0 x repetition penalty 1.0 / 1.15 / 1.3 (top-k stays
at botkit's 40), each setting replying to the same contexts of the *tuning* half of the held-out split
(``data.py``; ``botkit train compare`` reports on the other half) with the same seeds.

The rule: a setting qualifies when its mean repetition rate is at most the human references' on the same
contexts and its distinct-2 at least ``min_distinct2_ratio`` (0.75) times theirs, so that it neither
stutters nor repeats itself more than people do; among those, the highest unigram F1 against the
references wins. When none qualifies, the one that misses the two bounds by least (the sum of its
shortfalls) wins, and the report says so. ``--write`` puts the choice in the model's
``generation_config.json`` (``do_sample``, ``temperature``, ``top_p``, ``top_k``, ``repetition_penalty``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from botkit.training.config import DataConfig
from botkit.training.judge import measures
from botkit.training.judge.data import JUDGE_DATA, load_held_out, reply_cases
from botkit.types import SamplingParams

GRID = {"temperature": (0.5, 0.7, 0.9), "top_p": (0.9, 1.0), "repetition_penalty": (1.0, 1.15, 1.3)}


@dataclass
class TuneOptions:
    """What ``botkit train tune-generation`` searches (fields as in ``CompareOptions``).

    Attributes:
        model: the model directory.
        min_distinct2_ratio: the distinct-2 bound, as a share of the human references'.
        write: write the choice into the model's ``generation_config.json``.
        out: where to write the grid and the choice as JSON (None: nowhere).
    """

    model: Path
    dialogues: int = 60
    max_new_tokens: int = 40
    seed: int = 0
    threads: int = 0
    min_distinct2_ratio: float = 0.75
    write: bool = False
    out: Path | None = None
    data: DataConfig = field(default_factory=lambda: JUDGE_DATA)
    grid: dict[str, tuple[float, ...]] = field(default_factory=lambda: dict(GRID))


def run_tune(opts: TuneOptions) -> dict[str, Any]:
    """Score every setting of the grid and choose one by the module's rule; returns the report."""
    import torch

    from botkit.model.loader import load_model

    if opts.threads:
        torch.set_num_threads(opts.threads)
    held = load_held_out(opts.data)
    cases = []
    for dialogues in held.sets("tune").values():
        cases += reply_cases(dialogues[: opts.dialogues] if opts.dialogues else dialogues, 2)
    if not cases:
        raise ValueError("the tuning half of the held-out split has no dialogue with a reply to score")
    contexts, refs = [c for c, _ in cases], [r for _, r in cases]
    human = measures.reply_quality(refs, refs, held.training_utterances)
    del human["unigram_f1"], human["unigram_f1_se"]  # the references against themselves: meaningless
    lm = load_model(opts.model, device="cpu", dtype="float32")
    rows = []
    names = list(opts.grid)
    for values in itertools.product(*(opts.grid[n] for n in names)):
        setting = dict(zip(names, values, strict=True))
        params = replace(SamplingParams(max_new_tokens=opts.max_new_tokens), **setting)
        replies = measures.generate_replies(lm, contexts, params, opts.seed)
        rows.append({"setting": setting, **measures.reply_quality(refs, replies, held.training_utterances)})
    chosen, why = choose(rows, human, opts.min_distinct2_ratio)
    report = {
        "model": str(opts.model),
        "contexts": len(cases),
        "human": human,
        "grid": rows,
        "chosen": chosen["setting"],
        "chosen_scores": chosen,
        "why": why,
    }
    if opts.out is not None:
        opts.out.parent.mkdir(parents=True, exist_ok=True)
        opts.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if opts.write:
        write_generation_config(opts.model, chosen["setting"])
    return report


def choose(rows: list[dict[str, Any]], human: dict[str, Any], ratio: float) -> tuple[dict[str, Any], str]:
    """The winning row by the module's rule, and the reason in words."""
    max_rep, min_d2 = human["repetition_rate"], ratio * human["distinct_2"]
    ok = [r for r in rows if r["repetition_rate"] <= max_rep and r["distinct_2"] >= min_d2]
    bounds = f"repetition <= {max_rep:.3f} (human), distinct-2 >= {min_d2:.3f} ({ratio:g} x human)"
    if ok:
        best = max(ok, key=lambda r: r["unigram_f1"])
        return best, f"highest unigram F1 {best['unigram_f1']:.4f} of {len(ok)} settings with {bounds}"

    def shortfall(r: dict[str, Any]) -> float:
        return max(0.0, r["repetition_rate"] - max_rep) + max(0.0, min_d2 - r["distinct_2"])

    best = min(rows, key=lambda r: (shortfall(r), -r["unigram_f1"]))
    return best, f"no setting meets {bounds}; this one misses them by least ({shortfall(best):.4f})"


def write_generation_config(model_dir: Path, setting: dict[str, float]) -> None:
    """Merge ``setting`` (and ``do_sample``) into ``model_dir/generation_config.json``."""
    path = Path(model_dir) / "generation_config.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data.update({"do_sample": True, "top_k": SamplingParams.top_k, **setting})
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
