"""Pretraining stage: causal-LM training on plain text, from scratch or continued from a checkpoint.

The corpus is streamed through the tokenizer into ``data/train.bin`` and ``data/validation.bin`` (raw
``uint32`` token ids) in the output directory once, then memory-mapped and cut into blocks of
``model.context_length`` tokens.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botkit.training.config import PretrainConfig
from botkit.training.corpora import iter_documents
from botkit.training.modeling import build_model, context_length_of
from botkit.training.packing import TokenBlocks, blocks_from_token_file, encode_documents, write_token_file
from botkit.training.records import DataError


def load_tokenizer(path: Path | None, fallback: Path | None = None) -> Any:
    """The tokenizer at ``path`` (or ``fallback``), offline.

    Raises:
        FileNotFoundError: neither is a tokenizer directory.
    """
    from transformers import AutoTokenizer

    where = path or fallback
    if where is None or not Path(where).is_dir():
        raise FileNotFoundError(
            f"tokenizer directory not found: {where} (run `botkit train tokenizer` first)"
        )
    return AutoTokenizer.from_pretrained(str(where), local_files_only=True)


def tokenize_corpus(cfg: PretrainConfig, tokenizer: Any, data_dir: Path) -> dict[str, int]:
    """Tokenize both splits into ``data_dir`` unless a manifest says it is done for this config."""
    manifest = data_dir / "manifest.json"
    key = json.dumps({"data": cfg.data.model_dump(mode="json"), "vocab": len(tokenizer)}, sort_keys=True)
    if manifest.is_file():
        saved = json.loads(manifest.read_text())
        if saved.get("key") == key:
            return {split: int(n) for split, n in saved["tokens"].items()}
    counts = {}
    for split in ("train", "validation"):
        chunks = encode_documents(iter_documents(cfg.data, split), tokenizer)
        counts[split] = write_token_file(chunks, data_dir / f"{split}.bin")
    if counts["train"] == 0:
        files = [str(p) for p in [*cfg.data.text_files, *cfg.data.dialogue_files]]
        raise DataError(f"empty corpus: no text found in {files}")
    manifest.write_text(json.dumps({"key": key, "tokens": counts}) + "\n")
    return counts


def run_pretrain(cfg: PretrainConfig, stop_at: int | None = None) -> dict[str, Any]:
    """Run the pretraining stage; returns the run summary.

    Raises:
        DataError: an empty corpus or one shorter than a block.
        OutputError: the output directory cannot be written.
    """
    import torch

    from botkit.training import runner
    from botkit.training.distributed import barrier

    dist = runner.start(cfg.output_dir, cfg.train)
    tokenizer = load_tokenizer(cfg.tokenizer, cfg.model.init_from)
    data_dir = cfg.output_dir / "data"
    if dist.is_main:
        data_dir.mkdir(parents=True, exist_ok=True)
        tokenize_corpus(cfg, tokenizer, data_dir)
    barrier(dist)
    torch.manual_seed(cfg.train.seed)  # same initial weights on every rank and every run
    model = build_model(cfg.model, tokenizer)
    block = _block_size(cfg, model)
    train = blocks_from_token_file(data_dir / "train.bin", block)
    if len(train) == 0:
        raise DataError(
            f"corpus too short: fewer than {block} tokens in {[str(p) for p in cfg.data.text_files]}"
        )
    val: TokenBlocks | None = blocks_from_token_file(data_dir / "validation.bin", block)
    return runner.train_and_export(
        stage="pretrain",
        model=model,
        tokenizer=tokenizer,
        train=train,
        val=val,
        loop=cfg.train,
        out_dir=cfg.output_dir,
        dist=dist,
        config=cfg.model_dump(mode="json"),
        stop_at=stop_at,
    )


def _block_size(cfg: PretrainConfig, model: Any) -> int:
    return cfg.model.context_length if cfg.model.init_from is None else context_length_of(model)
