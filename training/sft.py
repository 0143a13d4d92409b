"""Supervised fine-tuning on dialogues: loss on the assistant's tokens only; full or LoRA.

Dialogues are rendered with the tokenizer's chat template; its ``{% generation %}`` markers give the
assistant-token mask, so the template the backend prompts with is exactly the one trained on. They are
shuffled (seeded by ``train.seed``) and packed into blocks in which each dialogue has its own positions
and attends only to itself, as when it is served alone. With LoRA
the adapters are merged into the base weights on export, so the output is a plain model directory.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

from botkit.model.chat_format import TURN_START
from botkit.training.config import DataConfig, LoraConfig, SFTConfig
from botkit.training.corpora import Split, iter_dialogues
from botkit.training.packing import (
    TokenBlocks,
    encode_dialogue,
    pack_dialogues,
    shuffled,
    split_long_dialogue,
)
from botkit.training.records import DataError


def dialogue_blocks(
    data: DataConfig, tokenizer: Any, split: Split, block_size: int, shuffle_seed: int | None = None
) -> TokenBlocks:
    """Encode and pack the dialogues of one split, in a seeded random order when ``shuffle_seed`` is set.

    Shuffling first keeps the paraphrases that sit together in a file out of one block; the blocks'
    segments keep each dialogue's attention to itself either way. A dialogue longer than a block (a
    chitchat conversation is about 1,000 tokens on average) is cut into windows of whole turns.
    """
    dialogues: Iterable[list[dict[str, str]]] = iter_dialogues(data, split)
    if shuffle_seed is not None:
        dialogues = shuffled(dialogues, shuffle_seed)
    turn_start = tokenizer.convert_tokens_to_ids(TURN_START)
    encoded = (
        window
        for m in dialogues
        for window in split_long_dialogue(
            *encode_dialogue(tokenizer, m), turn_start, len(m), block_size, m[0]["role"] == "system"
        )
    )
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
    train = dialogue_blocks(cfg.data, tokenizer, "train", block, shuffle_seed=cfg.train.seed)
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
        config=cfg.model_dump(mode="json"),
        export=export,
        stop_at=stop_at,
    )


def _with_lora(model: Any, lora: LoraConfig) -> tuple[Any, Callable[[Any], Any]]:
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

    def export(m: Any) -> Any:
        # merge_and_unload folds B @ A into the base weights: a plain model the backend can load.
        return m.merge_and_unload()

    return wrapped, export
