"""The seeds of ``botkit train eval-gan`` aggregated, the verdict rule applied, and the report written.

The verdict rule compares quality at matched diversity. For each seed, each model's sweep is a curve of
quality against diversity (one point per temperature), read by linear interpolation between its
points. On ``GRID_POINTS`` evenly spaced diversity values spanning the range every curve of every seed
covers, the GAN's quality minus the MLE arm's is averaged over the seeds. Its uncertainty ``se`` is the
larger of the seeds' standard error (sd / sqrt(seeds), with two seeds or more) and, for unigram F1, the
replies' own standard error of the difference (from each F1's standard error, averaged over the seeds).
A point is *above* when the mean difference exceeds ``MARGIN`` x se, *below* when it is under -MARGIN x
se, else *level*. The verdict: every point above, "dominates"; every point below, "falls below"; every
point level, "matches"; some above and none below, "above in part"; some below and none above, "below in
part"; both, "crosses"; no diversity range common to all curves, "no overlap". BLEU has no per-reply
standard error, so with one seed its call is "undecided". The headline pairs
unigram F1 with distinct-2; BLEU-2 with 1 - self-BLEU-4 is given beside it by the same rule (BLEU-2:
the replies of a small model share too few 4-grams with the references for BLEU-4 to tell models apart).
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

GRID_POINTS = 5
MARGIN = 2.0
MEASURES = ("unigram_f1", "unigram_f1_se", "bleu", "bleu_2", "distinct_1", "distinct_2", "self_bleu",
            "discriminator_accuracy", "repetition_rate", "mean_words")  # fmt: skip
AXES: dict[str, tuple[str, Callable[[dict[str, Any]], float], str]] = {
    "f1_at_distinct2": ("unigram_f1", lambda r: float(r["distinct_2"]), "distinct-2"),
    "bleu_at_self_bleu": ("bleu_2", lambda r: 1.0 - float(r["self_bleu"]), "1 - self-BLEU-4"),
}


def mean_sd(values: list[float]) -> dict[str, float]:
    """Mean and sample standard deviation (0 with one value)."""
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per model: bits per byte and, per temperature, every measure as mean and sd over the seeds."""
    out: dict[str, Any] = {}
    for name in runs[0]["models"]:
        per_seed = [r["models"][name] for r in runs]
        sweep = []
        for i, row in enumerate(per_seed[0]["sweep"]):
            cell: dict[str, Any] = {"temperature": row["temperature"]}
            for key in MEASURES:
                cell[key] = mean_sd([float(m["sweep"][i][key]) for m in per_seed])
            sweep.append(cell)
        out[name] = {"bits_per_byte": mean_sd([m["bits_per_byte"] for m in per_seed]), "sweep": sweep}
    return out


def _interp(points: list[tuple[float, float]], x: float) -> float:
    """Piecewise-linear value at ``x`` of points sorted by their first coordinate (x within range)."""
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if x0 <= x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[0][1] if x <= points[0][0] else points[-1][1]


def verdict(
    runs: list[dict[str, Any]], axes: str = "f1_at_distinct2", a: str = "gan", b: str = "mle"
) -> dict[str, Any]:
    """Model ``a``'s quality minus ``b``'s at matched diversity, and the call (see the module docstring)."""
    quality, diversity, x_label = AXES[axes]

    def curve(run: dict[str, Any], name: str, key: str) -> list[tuple[float, float]]:
        return sorted((diversity(r), float(r[key])) for r in run["models"][name]["sweep"])

    curves = [(curve(r, a, quality), curve(r, b, quality)) for r in runs]
    lo = max(c[0][0] for pair in curves for c in pair)
    hi = min(c[-1][0] for pair in curves for c in pair)
    base = {"quality": quality, "diversity": x_label, "a": a, "b": b, "margin": MARGIN}
    if not lo < hi:
        return base | {"call": "no overlap", "range": [lo, hi], "points": []}
    seeds = len(runs)
    if seeds < 2 and quality != "unigram_f1":
        # one seed and no per-reply standard error (BLEU is a corpus figure): no noise to judge by
        return base | {"call": "undecided (one seed, no spread)", "range": [lo, hi], "points": []}
    points = []
    for k in range(GRID_POINTS):
        x = lo + (hi - lo) * k / (GRID_POINTS - 1)
        diffs = [_interp(ca, x) - _interp(cb, x) for ca, cb in curves]
        se = statistics.stdev(diffs) / math.sqrt(seeds) if seeds > 1 else 0.0
        if quality == "unigram_f1":
            ses = [
                _interp(curve(r, a, "unigram_f1_se"), x) ** 2 + _interp(curve(r, b, "unigram_f1_se"), x) ** 2
                for r in runs
            ]
            se = max(se, math.sqrt(statistics.fmean(ses) / seeds))
        d = statistics.fmean(diffs)
        call = "above" if d > MARGIN * se else "below" if d < -MARGIN * se else "level"
        qa = statistics.fmean(_interp(ca, x) for ca, _ in curves)
        qb = statistics.fmean(_interp(cb, x) for _, cb in curves)
        points.append({"x": x, a: qa, b: qb, "difference": d, "se": se, "call": call})
    calls = {p["call"] for p in points}
    if calls == {"above"}:
        overall = "dominates"
    elif calls == {"below"}:
        overall = "falls below"
    elif calls == {"level"}:
        overall = "matches"
    elif "above" in calls and "below" in calls:
        overall = "crosses"
    else:
        overall = "above in part" if "above" in calls else "below in part"
    return base | {"call": overall, "range": [lo, hi], "points": points}


def write_report(result: dict[str, Any], out: Path) -> dict[str, Any]:
    """Add the aggregate and the verdicts to ``result``; write ``eval_gan.json``, ``.md`` and ``.png``."""
    out.mkdir(parents=True, exist_ok=True)
    runs = result["runs"]
    result["aggregate"] = aggregate(runs)
    result["verdict"] = {name: verdict(runs, name) for name in AXES}
    bpb = [r["models"]["gan"]["bits_per_byte"] - r["models"]["mle"]["bits_per_byte"] for r in runs]
    result["verdict"]["bits_per_byte_gan_minus_mle"] = mean_sd(bpb)
    result["verdict"]["words"] = plain_words(result)
    (out / "eval_gan.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    from botkit.training.gan.evaluate_plot import plot, to_markdown

    (out / "eval_gan.md").write_text(to_markdown(result))
    plot(result, out / "eval_gan.png")
    return result


CALL_WORDS = {
    "dominates": "the GAN curve lies above the continued-MLE curve across the whole common range",
    "falls below": "the GAN curve falls below the continued-MLE curve across the whole common range",
    "matches": "the GAN curve matches the continued-MLE curve: no difference beyond the noise anywhere",
    "above in part": "the GAN curve is above the continued-MLE curve in part of the range, level elsewhere",
    "below in part": "the GAN curve is below the continued-MLE curve in part of the range, level elsewhere",
    "crosses": "the curves cross: the GAN is above in part of the range and below in another",
    "no overlap": "the curves share no diversity range, so they cannot be compared at matched diversity",
}


def plain_words(result: dict[str, Any]) -> str:
    """The verdict in a few sentences, every figure in it taken from ``result``."""
    v = result["verdict"]
    seeds = len(result["runs"])
    head = v["f1_at_distinct2"]
    side = v["bleu_at_self_bleu"]
    bpb = v["bits_per_byte_gan_minus_mle"]
    agg = result["aggregate"]
    words = [
        f"Unigram F1 at matched distinct-2 ({seeds} seed{'s' if seeds != 1 else ''}): "
        f"{CALL_WORDS[head['call']]} ({_diffs(head)}).",
        f"BLEU-2 at matched self-BLEU-4, by the same rule: {side['call']} ({_diffs(side)}).",
        f"Held-out bits per byte: GAN {agg['gan']['bits_per_byte']['mean']:.4f}, continued MLE "
        f"{agg['mle']['bits_per_byte']['mean']:.4f} (GAN minus MLE {bpb['mean']:+.4f} ± {bpb['sd']:.4f} sd "
        "over seeds; lower is better).",
    ]
    acc = [(c["temperature"], c["discriminator_accuracy"]["mean"]) for c in agg["gan"]["sweep"]]
    acc_mle = [c["discriminator_accuracy"]["mean"] for c in agg["mle"]["sweep"]]
    pairs = ", ".join(f"T={t:g}: {g:.1%} vs {m:.1%}" for (t, g), m in zip(acc, acc_mle, strict=True))
    words.append(f"A fresh discriminator tells GAN vs MLE replies from human ones with accuracy {pairs}.")
    return " ".join(words)


def _diffs(v: dict[str, Any]) -> str:
    if not v["points"]:
        return f"range {v['range'][0]:.3f} to {v['range'][1]:.3f}"
    d = [p["difference"] for p in v["points"]]
    return (
        f"{v['quality']} difference GAN minus MLE from {min(d):+.4f} to {max(d):+.4f} over "
        f"{v['diversity']} {v['range'][0]:.3f} to {v['range'][1]:.3f}, margin {v['margin']:g} x se"
    )
