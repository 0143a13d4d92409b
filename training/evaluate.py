"""Evaluation stage: held-out perplexity and reply quality, written as ``eval.json`` and ``eval.md``.

Dialogue perplexity counts the assistant's tokens only (the tokens SFT trains on), measured on the
validation split of the same dialogue sources, beside two baselines: other models (e.g. the pretrained
model before SFT) and an add-one unigram model fit on the training split. Replies are generated greedily
for the held-out dialogues' last user turn and for fixed prompts.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from botkit.training import textmetrics as tm
from botkit.training.config import EvalConfig
from botkit.training.corpora import iter_dialogues, iter_text
from botkit.training.modeling import context_length_of
from botkit.training.outputs import check_writable, mark_complete
from botkit.training.packing import IGNORE, encode_dialogue
from botkit.training.records import DataError, write_jsonl


def load_model(model_dir: Path) -> tuple[Any, Any]:
    """Model (eval mode, float32) and tokenizer from a local directory, offline."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, local_files_only=True)
    return model.eval(), tok


def dialogue_nll(model: Any, tokenizer: Any, dialogues: list[list[dict[str, str]]]) -> tuple[float, int]:
    """Summed NLL over assistant tokens of ``dialogues`` (each cut to the context), and the count."""
    import torch
    import torch.nn.functional as F

    ctx = context_length_of(model)
    total, count = 0.0, 0
    with torch.no_grad():
        for messages in dialogues:
            ids_np, labels_np = encode_dialogue(tokenizer, messages)
            ids = torch.tensor(ids_np[:ctx])[None]
            logits = model(input_ids=ids).logits[0, :-1]
            target = torch.tensor(labels_np[:ctx])[1:]
            if (target != IGNORE).any():
                total += float(F.cross_entropy(logits, target, ignore_index=IGNORE, reduction="sum"))
                count += int((target != IGNORE).sum())
    return total, count


def reply(model: Any, tokenizer: Any, messages: list[dict[str, str]], cfg: EvalConfig) -> str:
    """Greedy reply to ``messages`` (ending with a user turn)."""
    import torch

    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=cfg.max_new_tokens,
            do_sample=False,
            repetition_penalty=cfg.repetition_penalty,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    return str(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)).strip()


def score(
    model: Any, tokenizer: Any, dialogues: list[list[dict[str, str]]], cfg: EvalConfig, n_replies: int
) -> dict[str, Any]:
    """Perplexity and reply metrics of ``model`` on ``dialogues``."""
    nll, n = dialogue_nll(model, tokenizer, dialogues)
    out: dict[str, Any] = {"dialogues": len(dialogues), "assistant_tokens": n}
    out["perplexity"] = math.exp(nll / n) if n else None
    cases = []
    for messages in dialogues[:n_replies]:
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        context = messages[:last]
        if not context or context[-1]["role"] != "user":
            continue
        cases.append((context, messages[last]["content"], reply(model, tokenizer, context, cfg)))
    if cases:
        replies = [c[2] for c in cases]
        out["unigram_f1"] = float(np.mean([tm.unigram_f1(r, ref) for _, ref, r in cases]))
        out["distinct_1"] = tm.distinct_n(replies, 1)
        out["distinct_2"] = tm.distinct_n(replies, 2)
        out["repetition_rate"] = float(np.mean([tm.repetition_rate(r) for r in replies]))
        out["replies_scored"] = len(cases)
        out["examples"] = [
            {"user": c[-1]["content"], "reference": ref, "reply": r} for c, ref, r in cases[:8]
        ]
    return out


def run_eval(cfg: EvalConfig) -> dict[str, Any]:
    """Run the evaluation stage; returns what it writes to ``eval.json``.

    Raises:
        DataError: no held-out dialogues or text to evaluate on.
    """
    import torch

    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    out_dir = check_writable(cfg.output_dir or cfg.model_dir)
    model, tok = load_model(cfg.model_dir)
    held_out = list(iter_dialogues(cfg.data, "validation"))
    if cfg.max_dialogues:
        held_out = held_out[: cfg.max_dialogues]
    texts = list(iter_text(cfg.data, "validation"))
    if not held_out and not texts:
        trained = sum(1 for _ in iter_dialogues(cfg.data, "train"))
        if trained:
            raise DataError(
                f"nothing to evaluate: none of the {trained} dialogues is held out, as each shares its "
                "normalised last prompt or reply with a training dialogue (the split keeps paraphrases "
                "in training); add dialogues unlike the others (training/README.md, validation split)"
            )
        raise DataError("nothing to evaluate: the validation split has no dialogues and no text")
    result: dict[str, Any] = {"model": str(cfg.model_dir)}
    if cfg.weights_dtype != "float32":
        result["weights"] = _round_weights(model, tok, held_out, cfg.weights_dtype)
    if held_out:
        result["dialogue"] = score(model, tok, held_out, cfg, cfg.max_replies)
        subset = held_out[: cfg.subset_size]
        result["subset"] = score(model, tok, subset, cfg, len(subset))
        write_jsonl(out_dir / "heldout_subset.jsonl", ({"messages": m} for m in subset))
        train_ids = (_assistant_ids(tok, m) for m in iter_dialogues(cfg.data, "train"))
        result["baselines"] = {
            "unigram": tm.unigram_perplexity(train_ids, (_assistant_ids(tok, m) for m in held_out), len(tok))
        }
        for b in cfg.baselines:
            bm, bt = load_model(b)
            nll, n = dialogue_nll(bm, bt, held_out)
            result["baselines"][Path(b).name] = math.exp(nll / n) if n else None
    if texts:
        result["text_perplexity"] = _text_perplexity(model, tok, texts)
    result["samples"] = [{"prompt": p, "reply": reply(model, tok, [{"role": "user", "content": p}], cfg)}
                         for p in cfg.prompts]  # fmt: skip
    (out_dir / "eval.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    (out_dir / "eval.md").write_text(to_markdown(result))
    if cfg.output_dir is not None and cfg.output_dir != cfg.model_dir:
        mark_complete(out_dir, "eval")
    return result


def _round_weights(model: Any, tok: Any, held_out: list[list[dict[str, str]]], dtype: str) -> dict[str, Any]:
    """Round ``model``'s weights to ``dtype`` in place (kept as float32 values, as the shipped file loads
    on CPU); returns the held-out perplexity before and after, the rounding's measured cost."""
    import torch

    before = dialogue_nll(model, tok, held_out) if held_out else (0.0, 0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(getattr(torch, dtype)).float())
    after = dialogue_nll(model, tok, held_out) if held_out else (0.0, 0)
    ppl = [math.exp(nll / n) if n else None for nll, n in (before, after)]
    change = ppl[1] / ppl[0] - 1 if ppl[0] and ppl[1] else None
    return {"dtype": dtype, "perplexity_float32": ppl[0], "perplexity_rounded": ppl[1], "change": change}


def _assistant_ids(tok: Any, messages: list[dict[str, str]]) -> list[int]:
    # Next-token targets as the model sees them: the first token has no context and is not scored.
    _, labels = encode_dialogue(tok, messages)
    return [int(t) for t in labels[1:] if t != IGNORE]


def _text_perplexity(model: Any, tok: Any, texts: list[str]) -> float:
    import torch
    import torch.nn.functional as F

    ctx = context_length_of(model)
    total, n = 0.0, 0
    with torch.no_grad():
        for t in texts:
            ids = torch.tensor(tok(t, add_special_tokens=False)["input_ids"][:ctx])[None]
            if ids.shape[1] < 2:
                continue
            logits = model(input_ids=ids).logits[0, :-1]
            total += float(F.cross_entropy(logits, ids[0, 1:], reduction="sum"))
            n += ids.shape[1] - 1
    return math.exp(total / n) if n else float("nan")


def to_markdown(result: dict[str, Any]) -> str:
    """The evaluation as a Markdown report."""
    lines = [f"# Evaluation of `{result['model']}`", ""]
    d = result.get("dialogue")
    if d:
        lines += ["| measure | value |", "| --- | --- |"]
        for k in ("dialogues", "assistant_tokens", "perplexity", "unigram_f1", "distinct_1", "distinct_2",
                  "repetition_rate", "replies_scored"):  # fmt: skip
            if k in d:
                v = d[k]
                lines.append(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
        for name, ppl in result.get("baselines", {}).items():
            lines.append(f"| perplexity of baseline `{name}` | {ppl:.4g} |")
    if "text_perplexity" in result:
        lines.append(f"| held-out text perplexity | {result['text_perplexity']:.4g} |")
    lines += ["", "## Replies to fixed prompts", ""]
    for s in result.get("samples", []):
        lines.append(f"- **{s['prompt']}** → {s['reply']!r}")
    if d and d.get("examples"):
        lines += ["", "## Held-out examples", "", "| user | reference | reply |", "| --- | --- | --- |"]
        for e in d["examples"]:
            cells = [e[k].replace("|", "\\|").replace("\n", " ") for k in ("user", "reference", "reply")]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
