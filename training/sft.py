"""Supervised fine-tuning on dialogues: loss on the assistant's tokens only; full or LoRA.

Dialogues are rendered with the tokenizer's chat template; its ``{% generation %}`` markers give the
assistant-token mask, so the template the backend prompts with is exactly the one trained on. With LoRA
the adapters are merged into the base weights on export, so the output is a plain model directory.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botkit.training.config import to_dict
from botkit.training.corpora import DataConfig, DataError, iter_dialogues
from botkit.training.loop import LoopConfig
from botkit.training.packing import TokenBlocks, encode_dialogue, pack_dialogues


@dataclass
class LoraConfig:
    """LoRA adapters (through peft).

    Attributes:
        enabled: train adapters instead of all weights.
        r: adapter rank.
        alpha: scaling numerator (the update is scaled by alpha / r).
        dropout: dropout on the adapter input.
        target_modules: module names to adapt (empty = peft's default for the architecture).
    """

    enabled: bool = False
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=list)


@dataclass
class SFTConfig:
    """SFT stage settings.

    Attributes:
        output_dir: where the fine-tuned model, metrics, plot and checkpoints go.
        init_from: the model directory to fine-tune (e.g. the pretraining stage's output).
        data: dialogue sources and the validation split.
        lora: LoRA settings (off = full fine-tuning).
        context_length: block size for packing (0 = the model's context length).
        train: the loop settings.
    """

    output_dir: Path = Path("out/sft")
    init_from: Path = Path("out/pretrain")
    data: DataConfig = field(default_factory=DataConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    context_length: int = 0
    train: LoopConfig = field(default_factory=LoopConfig)


def dialogue_blocks(data: DataConfig, tokenizer, split: str, block_size: int) -> TokenBlocks:
    """Encode and pack the dialogues of one split."""
    encoded = (encode_dialogue(tokenizer, m) for m in iter_dialogues(data, split))  # type: ignore[arg-type]
    return pack_dialogues(encoded, block_size, tokenizer.pad_token_id)


def run_sft(cfg: SFTConfig, stop_at: int | None = None) -> dict[str, Any]:
    """Run the SFT stage; returns the run summary.

    Raises:
        DataError: no dialogues.
        OutputError: the output directory cannot be written.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from botkit.training import runner
    from botkit.training.modeling import context_length_of
    from botkit.training.pretrain import load_tokenizer

    dist = runner.start(cfg.output_dir, cfg.train)
    tokenizer = load_tokenizer(cfg.init_from)
    torch.manual_seed(cfg.train.seed)
    model = AutoModelForCausalLM.from_pretrained(
        str(cfg.init_from), dtype=torch.float32, local_files_only=True
    )
    block = cfg.context_length or context_length_of(model)
    train = dialogue_blocks(cfg.data, tokenizer, "train", block)
    if len(train) == 0:
        raise DataError(f"empty corpus: no dialogues found in {[str(p) for p in cfg.data.dialogue_files]}")
    val = dialogue_blocks(cfg.data, tokenizer, "validation", block)
    export = None
    if cfg.lora.enabled:
        model, export = _with_lora(model, cfg.lora)
    return runner.train_and_export(
        stage="sft",
        model=model,
        tokenizer=tokenizer,
        train=train,
        val=val,
        loop=cfg.train,
        out_dir=cfg.output_dir,
        dist=dist,
        config=to_dict(cfg),
        export=export,
        stop_at=stop_at,
    )


def _with_lora(model, lora: LoraConfig):
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    peft_cfg = PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=lora.target_modules or None,
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():
        # peft (0.21) still reads transformers' deprecated ``is_gradient_checkpointing``; not ours to fix.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        wrapped = get_peft_model(model, peft_cfg)

    def export(m):
        # merge_and_unload folds B @ A into the base weights: a plain model the backend can load.
        return m.merge_and_unload()

    return wrapped, export
