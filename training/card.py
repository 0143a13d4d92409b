"""The model card of a shipped model, filled from the run's own records (never typed by hand)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botkit.training.config import PipelineConfig


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def comparison_section(dst: Path) -> str:
    """The shipped ``compare.md`` (``botkit train compare`` run by the pipeline) with its headings one level
    down, to sit under a heading of the card; empty when the run made no comparison."""
    path = dst / "compare.md"
    if not path.is_file():
        return "(this run made no comparison: its config has no `compare_with`)"
    lines = path.read_text(encoding="utf-8").splitlines()
    body = [("#" + line if line.startswith("#") else line) for line in lines[1:]]  # drop its title
    return "\n".join(body).strip()


def sampling_section(dst: Path) -> str:
    """The sampling defaults the run chose (``tune.json``) in a sentence, or what the model falls back to."""
    tune = _read(dst / "tune.json")
    if not tune:
        return "This run did not tune the sampling settings; botkit's defaults apply (`botkit/types.py`)."
    chosen = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in tune["chosen"].items())
    return (
        f"Sampling defaults, chosen on {tune['contexts']} contexts of the held-out tuning half by "
        f"`botkit train tune-generation` and stored in `generation_config.json` (botkit reads them from "
        f"there): **{chosen}** ({tune['why']})."
    )


def sweep_section(path: Path | None) -> str:
    """The model-size sweep (``bench/model_size_sweep.py``'s JSON lines) as a table."""
    if path is None or not path.is_file():
        return "(no sweep recorded for this recipe)"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    cands = [r for r in rows if "candidate" in r]
    best = next((r["best"] for r in rows if "best" in r), None)
    out = [
        "| candidate | vocabulary | hidden | layers | context | parameters | steps in the budget | "
        "held-out chitchat bits/byte |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in cands:
        mark = "**" if r["candidate"] == best else ""
        bpb = f"{mark}{r['heldout_chitchat_bits_per_byte']:.3f}{mark}"
        out.append(
            f"| {mark}{r['candidate']}{mark} | {r['vocab']} | {r['hidden']} | {r['layers']} | {r['context']} "
            f"| {r['parameters'] / 1e6:.2f} M | {r['steps']} | {bpb} |"
        )
    return "\n".join(out)


def card_fields(cfg: PipelineConfig, dst: Path) -> dict[str, str]:
    """Figures for the card template: sizes, steps, wall times and evaluation results."""
    pre = _read(cfg.pretrain.output_dir / "run.json").get("summary", {})
    sft = _read(cfg.sft.output_dir / "run.json").get("summary", {})
    ev = _read(dst / "eval.json")
    times = _read(cfg.output_dir / "pipeline.json")
    model_cfg = _read(dst / "config.json")
    d = ev.get("dialogue", {})
    weights = ev.get("weights", {})
    base = ev.get("baselines", {})
    pretrain_ppl = next((v for k, v in base.items() if k != "unigram"), None)
    size_mb = (
        (dst / "model.safetensors").stat().st_size / 2**20 if (dst / "model.safetensors").is_file() else 0
    )

    def f(x: Any, spec: str = ".3g") -> str:
        return "n/a" if x is None else format(x, spec)

    samples = "\n".join(f"| {s['prompt']} | {s['reply'].replace('|', '/').replace(chr(10), ' ')} |"
                        for s in ev.get("samples", []))  # fmt: skip
    return {
        "parameters": f"{pre.get('parameters', 0) / 1e6:.2f} M",
        "size_mb": f"{size_mb:.1f}",
        "architecture": model_cfg.get("model_type", "?"),
        "hidden_size": str(model_cfg.get("hidden_size", "?")),
        "layers": str(model_cfg.get("num_hidden_layers", "?")),
        "heads": str(model_cfg.get("num_attention_heads", "?")),
        "context": str(model_cfg.get("max_position_embeddings", "?")),
        "vocab": str(model_cfg.get("vocab_size", "?")),
        "pretrain_steps": str(pre.get("steps", "?")),
        "pretrain_tokens": f"{pre.get('tokens', 0) / 1e6:.2f} M",
        "pretrain_blocks": str(pre.get("train_blocks", "?")),
        "pretrain_val_ppl": f(pre.get("val_ppl"), ".1f"),
        "pretrain_tokens_per_s": f(pre.get("tokens_per_s"), ".0f"),
        "sft_steps": str(sft.get("steps", "?")),
        "sft_tokens": f"{sft.get('tokens', 0) / 1e6:.2f} M",
        "sft_blocks": str(sft.get("train_blocks", "?")),
        "sft_val_ppl": f(sft.get("val_ppl"), ".1f"),
        "wall_tokenizer": f(times.get("tokenizer"), ".0f"),
        "wall_pretrain": f(times.get("pretrain"), ".0f"),
        "wall_sft": f(times.get("sft"), ".0f"),
        "wall_eval": f(times.get("eval"), ".0f"),
        "wall_compare": f(times.get("compare"), ".0f"),
        "wall_total_min": f(sum(v for v in times.values()) / 60, ".1f"),
        "eval_dialogues": str(d.get("dialogues", "?")),
        "eval_tokens": str(d.get("assistant_tokens", "?")),
        "ppl_sft": f(d.get("perplexity"), ".1f"),
        "ppl_pretrain": f(pretrain_ppl, ".1f"),
        "ppl_unigram": f(base.get("unigram"), ".1f"),
        "unigram_f1": f(d.get("unigram_f1")),
        "distinct_1": f(d.get("distinct_1")),
        "distinct_2": f(d.get("distinct_2")),
        "repetition_rate": f(d.get("repetition_rate")),
        "replies_scored": str(d.get("replies_scored", "?")),
        "text_ppl": f(ev.get("text_perplexity"), ".1f"),
        "samples": samples,
        "weights_dtype": str(weights.get("dtype", "float32")),
        "ppl_float32": f(weights.get("perplexity_float32"), ".2f"),
        "ppl_rounded": f(weights.get("perplexity_rounded"), ".2f"),
        "rounding_change": f(100 * weights["change"], "+.2f") if weights.get("change") is not None else "n/a",
        "comparison": comparison_section(dst),
        "sampling": sampling_section(dst),
        "sweep": sweep_section(cfg.sweep_file),
    }


def write_card(cfg: PipelineConfig, template_path: Path, dst: Path) -> Path:
    """Fill the Markdown template at ``template_path`` from the run and write it as ``dst/README.md``."""
    template = template_path.read_text(encoding="utf-8")
    out = dst / "README.md"
    out.write_text(template.format(**card_fields(cfg, dst)), encoding="utf-8")
    return out
