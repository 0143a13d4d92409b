"""The compression stage against its baselines, on one model, with one calibration and one evaluation.

For each method and bit width: compress the model (the learned codec ``vq``; round-to-nearest ``rtn`` with
groups of 128 and per output channel; GPTQ, botkit's own implementation of Frantar et al. 2022; and the
float original stored as it is), write the checkpoint, load it as botkit's backend does, and measure
bits per weight (everything stored, over every weight), the weights file's size on disk, held-out
perplexity on assistant tokens, the load time and greedy generation speed at batch 1 (best of 3). One
JSON line per method and bit width, then one per codec row and baseline of its bit width run beside it: the
codec's perplexity over the baseline's with a 95 % paired bootstrap interval over the held-out dialogues
(differences of a fraction of a percent between methods are common here, and this says which are real),
then a bits-per-weight against perplexity plot.

The codec's rows include its end-to-end tuning (codes fixed; codebooks, scales and norms trained on
the calibration dialogues to match the float model's predictions); ``--tuned-baselines`` adds GPTQ and
RTN rows given the same tuning ("gptq ... + tuned"), for a fair comparison beside the plain ones.

    python bench/vae_compression.py                          # the shipped model, its evaluation set
    python bench/vae_compression.py --model DIR --plot out.png --threads 2
    python bench/vae_compression.py --only float vq --bits 4 3   # some rows only
    python bench/vae_compression.py --plot-from a.jsonl b.jsonl  # one plot from runs made apart
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from botkit.model.loader import default_model_dir, load_model
from botkit.training.compress import checkpoint
from botkit.training.compress.calibration import hessians
from botkit.training.compress.stage import calibration_dialogues, compress, tuning_batches, wants_tuning
from botkit.training.config import VAEConfig
from botkit.training.corpora import iter_dialogues
from botkit.training.evaluate import dialogue_nll

METHODS = [("float", 0, 0)]
METHODS += [("rtn", b, g) for b in (8, 4, 3) for g in (128, 0)]
METHODS += [("gptq", b, g) for b in (4, 3, 2) for g in (128, 0)]
METHODS += [("vq", b, 0) for b in (4, 3, 2)]
PROMPT = [{"role": "user", "content": "Hello! What can you do?"}]


def measure(
    directory: Path, held_out: list[list[dict[str, str]]], new_tokens: int
) -> tuple[dict[str, Any], list[tuple[float, int]]]:
    """Load time, held-out perplexity and batch-1 greedy tokens/s of the model in ``directory``, and each
    held-out dialogue's (summed NLL, tokens) for the paired comparisons."""
    t0 = time.perf_counter()
    lm = load_model(directory, device="cpu", dtype="float32")
    load_s = time.perf_counter() - t0
    per_dialogue = [dialogue_nll(lm.model, lm.tokenizer, [d]) for d in held_out]
    nll, count = sum(x for x, _ in per_dialogue), sum(c for _, c in per_dialogue)
    ids = lm.tokenizer.apply_chat_template(PROMPT, add_generation_prompt=True, return_tensors="pt")
    ids = ids["input_ids"] if not isinstance(ids, torch.Tensor) else ids
    gen_s = math.inf
    with torch.no_grad():
        for _ in range(3):  # the best of three: the machine is shared, and noise only ever slows a run
            t0 = time.perf_counter()
            lm.model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
            gen_s = min(gen_s, time.perf_counter() - t0)
    return {
        "perplexity": round(math.exp(nll / count), 2),
        "load_s": round(load_s, 3),
        "tokens_per_s": round(new_tokens / gen_s, 1),
        "ready_line": lm.describe(),
    }, per_dialogue


def paired_ratio(
    a: list[tuple[float, int]], b: list[tuple[float, int]], resamples: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """Perplexity of method ``a`` over method ``b`` on the same dialogues ((summed NLL, tokens) each), with
    a 95 % percentile interval from resampling dialogues with replacement (paired: both methods' NLLs of a
    dialogue move together, so the interval reflects their difference, not each one's spread)."""
    import numpy as np

    if [c for _, c in a] != [c for _, c in b]:
        raise ValueError("the two methods were scored on different tokens; pairing needs the same")
    diff = np.array([x for x, _ in a]) - np.array([x for x, _ in b])
    tokens = np.array([c for _, c in a])
    idx = np.random.default_rng(seed).integers(0, len(diff), size=(resamples, len(diff)))
    boot = np.exp(diff[idx].sum(axis=1) / tokens[idx].sum(axis=1))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    ratio = math.exp(diff.sum() / tokens.sum())
    return {"ppl_ratio": round(ratio, 4), "ci95": [round(float(lo), 4), round(float(hi), 4)]}


def plot(rows: list[dict[str, Any]], path: Path, title: str) -> None:
    """Perplexity against bits per weight, one line per method, the float original as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for family, style in [("rtn g128", "s--"), ("rtn per-channel", "s:"), ("gptq g128", "o--"),
                          ("gptq per-channel", "o:"), ("gptq g128 + tuned", "^--"),
                          ("gptq per-channel + tuned", "^:"), ("vq", "D-")]:  # fmt: skip
        pts = sorted((r["bits_per_weight"], r["perplexity"]) for r in rows if r["family"] == family)
        if pts:
            ax.plot(*zip(*pts, strict=True), style, label=family)
    base = next(r for r in rows if r["method"] == "float")
    ax.axhline(base["perplexity"], color="grey", ls="--", lw=1, label=f"float32 ({base['perplexity']:.1f})")
    ax.set_xlabel("bits per weight (codes + codebooks + scales + uncompressed, over all weights)")
    ax.set_ylabel("held-out perplexity (assistant tokens)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_dir())
    parser.add_argument("--plot", type=Path, default=Path("bench/vae_compression.png"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--only", nargs="*", default=None, help="methods to run, e.g. float vq gptq")
    parser.add_argument("--bits", nargs="*", type=int, default=None, help="bit widths to run, e.g. 4 3")
    parser.add_argument(
        "--tune-steps", type=int, default=None, help="end-to-end tuning steps (default [vae]'s)"
    )
    parser.add_argument("--tuned-baselines", action="store_true", help="also GPTQ/RTN rows with the tuning")
    parser.add_argument("--held-out", type=int, default=0, help="score only the first N held-out dialogues")
    parser.add_argument(
        "--plot-from", nargs="*", type=Path, help="only draw the plot from these runs' JSON lines, and stop"
    )
    args = parser.parse_args()
    if args.plot_from:  # rows of runs made apart (say, the baselines and the codec in two processes)
        lines = [json.loads(x) for f in args.plot_from for x in f.read_text().splitlines() if x.strip()]
        count = next((r["held_out"] for r in lines if "held_out" in r), "?")
        plot([r for r in lines if "method" in r], args.plot, f"{args.model.name}: {count} held-out dialogues")
        return
    torch.set_num_threads(args.threads)
    base = VAEConfig(model_dir=args.model)
    if args.tune_steps is not None:
        base = base.model_copy(update={"tune_steps": args.tune_steps})
    held_out = list(iter_dialogues(base.calibration, "validation"))[: args.held_out or None]
    original = load_model(args.model, device="cpu", dtype="float32")
    t0 = time.perf_counter()
    dialogues = calibration_dialogues(base)
    hs = hessians(original.model, original.tokenizer, dialogues)
    tuning = tuning_batches(original.tokenizer, dialogues, base)
    print(json.dumps({"calibration_s": round(time.perf_counter() - t0, 1), "held_out": len(held_out)}))
    methods = [(m, b, g, False) for m, b, g in METHODS]
    if args.tuned_baselines:
        methods += [(m, b, g, True) for m, b, g in METHODS if m in ("gptq", "rtn") and b <= 4]
    rows, scored = [], []  # scored[i]: rows[i]'s bit width and per-dialogue NLLs
    with tempfile.TemporaryDirectory() as tmp:
        for method, bits, group, tuned in methods:
            if (args.only and method not in args.only) or (args.bits and bits and bits not in args.bits):
                continue
            update = {"method": method, "bits": bits or 8, "group_size": group, "tune_baselines": tuned}
            cfg = base.model_copy(update=update)
            t0 = time.perf_counter()
            stored, manifest = compress(original.model, hs, cfg, tuning if wants_tuning(cfg) else None)
            compress_s = time.perf_counter() - t0
            out = Path(tmp) / f"{method}-{bits}-{group}-{int(tuned)}"
            manifest = checkpoint.write(stored, manifest, args.model, out)
            family = (
                method if method in ("vq", "float") else f"{method} {f'g{group}' if group else 'per-channel'}"
            ) + (" + tuned" if tuned else "")
            row = {
                "method": manifest["method"],
                "family": family,
                "bits_per_weight": round(manifest["bits_per_weight"], 3),
                "breakdown": {k: round(v, 4) for k, v in manifest["breakdown_bits_per_weight"].items()},
                "size_on_disk_bytes": manifest["size_on_disk_bytes"],
                "original_size_on_disk_bytes": manifest["original_size_on_disk_bytes"],
                "compress_s": round(compress_s, 1),
                "tune_steps": cfg.tune_steps if wants_tuning(cfg) else 0,
            }
            measured, per_dialogue = measure(out, held_out, args.new_tokens)
            row |= measured
            scored.append((bits, per_dialogue))
            rows.append(row)
            print(json.dumps(row), flush=True)
    codecs = [(r, s) for r, s in zip(rows, scored, strict=True) if r["family"] == "vq"]
    baselines = [(r, s) for r, s in zip(rows, scored, strict=True) if r["family"] not in ("vq", "float")]
    for (row, (bits, nll)), (other, (other_bits, other_nll)) in itertools.product(codecs, baselines):
        if bits == other_bits:  # the codec against each baseline of its bit width in this run
            cmp = paired_ratio(nll, other_nll)
            name = f"{row['method']} / {other['method']}"
            print(json.dumps({"comparison": name, **cmp, "dialogues": len(held_out)}), flush=True)
    if any(r["method"] == "float" for r in rows) and not args.only:
        plot(rows, args.plot, f"{args.model.name}: {len(held_out)} held-out dialogues")


if __name__ == "__main__":
    main()
