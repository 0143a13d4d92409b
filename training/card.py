"""The model card of a shipped model, filled from the run's own records (never typed by hand)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botkit.training.config import PipelineConfig


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def card_fields(cfg: PipelineConfig, dst: Path) -> dict[str, str]:
    """Figures for the card template: sizes, steps, wall times and evaluation results."""
    pre = _read(cfg.pretrain.output_dir / "run.json").get("summary", {})
    sft = _read(cfg.sft.output_dir / "run.json").get("summary", {})
    ev = _read(dst / "eval.json")
    times = _read(cfg.output_dir / "pipeline.json")
    model_cfg = _read(dst / "config.json")
    d = ev.get("dialogue", {})
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
    }


def write_card(cfg: PipelineConfig, template_path: Path, dst: Path) -> Path:
    """Fill the Markdown template at ``template_path`` from the run and write it as ``dst/README.md``."""
    template = template_path.read_text(encoding="utf-8")
    out = dst / "README.md"
    out.write_text(template.format(**card_fields(cfg, dst)), encoding="utf-8")
    return out
