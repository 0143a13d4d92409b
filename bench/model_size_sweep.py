"""Model-size sweep for the default model: which width, depth, context and vocabulary to train.

Each candidate is pretrained on the same slice of the default model's data (the fortunes text and the first
``--conversations`` Chit-Chat Challenge conversations) for the same wall-clock budget on this machine, with
a whole cosine schedule: a short timing probe first measures the candidate's seconds per step, and
``max_steps`` is set so that the schedule ends when the budget does. The score is bits per byte of the
slice's held-out chitchat conversations (the pretraining validation split of the chitchat part, by the
same group split as fine-tuning), so vocabularies are compared fairly. One JSON line per candidate, then
a line naming the best; ``--plot`` draws bits per byte against parameters.

    .venv/bin/python bench/model_size_sweep.py --minutes 3 --plot bench/model_size_sweep.png

A short budget favours small models (a larger one would pull ahead with more time), so the choice is the
lowest bits per byte or, among the candidates within ``--tie`` (0.01) of it, the one with the most
parameters: differences that small are within what the short budget can tell apart, and the real run is
about twenty times longer. ``--from FILE`` applies the rule to recorded lines without training again.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FORTUNES = ROOT / "training" / "data" / "pretrain"

CANDIDATES: list[dict[str, Any]] = [
    {"vocab": 6000, "hidden": 256, "layers": 4, "heads": 4, "context": 256},  # the shipped model's shape
    {"vocab": 8000, "hidden": 256, "layers": 6, "heads": 4, "context": 256},
    {"vocab": 8000, "hidden": 384, "layers": 6, "heads": 6, "context": 256},
    {"vocab": 8000, "hidden": 256, "layers": 6, "heads": 4, "context": 512},
    {"vocab": 12000, "hidden": 256, "layers": 6, "heads": 4, "context": 256},
]
TOKENS_PER_STEP = 4096  # micro-batch x context: the same tokens per step for every candidate


def name_of(c: dict[str, Any]) -> str:
    """A candidate's short name, e.g. ``v8k-h384-L6-c256``."""
    return f"v{c['vocab'] // 1000}k-h{c['hidden']}-L{c['layers']}-c{c['context']}"


def write_slice(out: Path, conversations: int) -> Path:
    """The first ``conversations`` conversations of the installed chitchat dataset, in its own format."""
    from botkit.training.importers import chitchat_dataset_file

    data = json.loads(chitchat_dataset_file().read_text(encoding="utf-8"))
    keys = sorted(data)[:conversations]
    path = out / "chitchat_slice.json"
    path.write_text(json.dumps({k: data[k] for k in keys}), encoding="utf-8")
    return path


def seconds_per_step(cfg: Any, tokenizer: Any, micro: int) -> float:
    """Time a few optimizer steps of a fresh model of ``cfg`` on random tokens (after one warm-up)."""
    import torch

    from botkit.training.modeling import build_model

    model = build_model(cfg, tokenizer)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, len(tokenizer), (micro, cfg.context_length))
    times = []
    for _ in range(4):
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
    return sorted(times[1:])[1]  # the median of three, the first (allocation) dropped


def bits_per_byte(model_dir: Path, docs: list[str]) -> float:
    """Bits per UTF-8 byte of ``docs``, each read from its separator on in windows of the model's context."""
    import torch
    import torch.nn.functional as F

    from botkit.training.evaluate import load_model

    model, tok = load_model(model_dir)
    model.eval()
    ctx = model.config.max_position_embeddings
    bits, nbytes = 0.0, 0
    with torch.no_grad():
        for doc in docs:
            ids = [tok.bos_token_id, *tok(doc, add_special_tokens=False)["input_ids"]]
            nbytes += len(doc.encode("utf-8"))
            for start in range(0, len(ids) - 1, ctx):
                window = torch.tensor([ids[start : start + ctx + 1]])
                logits = model(input_ids=window[:, :-1]).logits
                nll = F.cross_entropy(logits[0].float(), window[0, 1:], reduction="sum")
                bits += float(nll) / math.log(2)
    return bits / nbytes


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Train and score every candidate; returns their records."""
    import torch

    from botkit.training.config import DataConfig, LoopConfig, ModelConfig, PretrainConfig, TokenizerConfig
    from botkit.training.corpora import iter_documents
    from botkit.training.pretrain import load_tokenizer, run_pretrain
    from botkit.training.tokenizer import train_tokenizer

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chat = write_slice(out, args.conversations)
    data = DataConfig(text_files=[FORTUNES], chitchat_files=[chat], validation_fraction=0.08, split_seed=0)
    held_out = list(iter_documents(DataConfig(chitchat_files=[chat], validation_fraction=0.08), "validation"))
    records = []
    for cand in CANDIDATES[: args.limit or None]:
        name = name_of(cand)
        tok_dir = out / f"tokenizer-{cand['vocab']}"
        if not (tok_dir / "tokenizer.json").is_file():
            train_tokenizer(TokenizerConfig(output_dir=tok_dir, data=data, vocab_size=cand["vocab"]))
        tokenizer = load_tokenizer(tok_dir)
        model = ModelConfig(
            hidden_size=cand["hidden"],
            num_layers=cand["layers"],
            num_heads=cand["heads"],
            context_length=cand["context"],
        )
        micro = TOKENS_PER_STEP // cand["context"]
        step_s = seconds_per_step(model, tokenizer, micro)
        steps = max(20, int(args.minutes * 60 / step_s))
        loop = LoopConfig(
            max_steps=steps,
            micro_batch_size=micro,
            learning_rate=2e-3 * 256 / cand["hidden"],
            warmup_steps=max(5, steps // 20),
            min_lr_ratio=0.1,
            eval_every=0,
            eval_batches=8,
            checkpoint_every=0,
            num_threads=args.threads,
            progress=True,
            resume=False,
        )
        t0 = time.perf_counter()
        cfg = PretrainConfig(output_dir=out / name, tokenizer=tok_dir, data=data, model=model, train=loop)
        run_pretrain(cfg)
        minutes = (time.perf_counter() - t0) / 60
        n_params = _params(out / name)
        rec = {
            "candidate": name,
            **cand,
            "parameters": n_params,
            "seconds_per_step": round(step_s, 3),
            "steps": steps,
            "tokens_seen": steps * TOKENS_PER_STEP,
            "train_minutes": round(minutes, 2),
            "heldout_chitchat_bits_per_byte": round(bits_per_byte(out / name, held_out), 4),
        }
        print(json.dumps(rec), flush=True)
        records.append(rec)
    return records


def _params(model_dir: Path) -> int:
    from botkit.training.evaluate import load_model

    model, _ = load_model(model_dir)
    return sum(p.numel() for p in model.parameters())


def choose(records: list[dict[str, Any]], tie: float) -> dict[str, Any]:
    """The module's rule: the largest candidate within ``tie`` bits per byte of the best."""
    best = min(r["heldout_chitchat_bits_per_byte"] for r in records)
    close = [r for r in records if r["heldout_chitchat_bits_per_byte"] <= best + tie]
    return max(close, key=lambda r: r["parameters"])


def plot(records: list[dict[str, Any]], path: Path) -> None:
    """Bits per byte against parameters, one labelled point per candidate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in records:
        ax.scatter(r["parameters"] / 1e6, r["heldout_chitchat_bits_per_byte"])
        ax.annotate(r["candidate"], (r["parameters"] / 1e6, r["heldout_chitchat_bits_per_byte"]), fontsize=8)
    ax.set_xlabel("parameters (millions)")
    ax.set_ylabel("held-out chitchat bits per byte")
    ax.set_title(f"equal wall time per candidate ({records[0]['train_minutes']:.1f} min)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=3.0, help="wall-clock budget per candidate")
    p.add_argument("--conversations", type=int, default=1500, help="chitchat conversations in the slice")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--limit", type=int, default=0, help="only the first N candidates (0: all)")
    p.add_argument("--out", default="runs/size-sweep")
    p.add_argument("--plot", type=Path, default=None)
    p.add_argument("--tie", type=float, default=0.01, help="bits per byte within which the larger wins")
    p.add_argument("--from", dest="recorded", type=Path, help="choose from these recorded JSON lines")
    args = p.parse_args()
    if args.recorded:
        lines = [json.loads(x) for x in args.recorded.read_text().splitlines() if x.strip()]
        records = [r for r in lines if "candidate" in r]
        for r in records:
            print(json.dumps(r), flush=True)
    else:
        records = run(args)
    best = choose(records, args.tie)
    lowest = min(records, key=lambda r: r["heldout_chitchat_bits_per_byte"])["candidate"]
    print(json.dumps({"best": best["candidate"], "lowest": lowest, "tie": args.tie}), flush=True)
    if args.plot:
        plot(records, args.plot)


if __name__ == "__main__":
    main()
