"""Build a tiny, randomly initialised Llama-style chat model on disk, for tests.

The model is real (config, safetensors weights, a byte-level BPE tokenizer with botkit's chat template),
so tests exercise the same loading and generation code as a trained model; it just talks nonsense.
"""

from __future__ import annotations

from pathlib import Path

from botkit.model.chat_format import train_chat_tokenizer

SENTENCES = [
    "hello there, how are you today?",
    "I am a small test model and I talk nonsense.",
    "botkit builds chat bots for Telegram, Discord and Slack.",
    "The quick brown fox jumps over the lazy dog.",
    "你好，今天过得怎么样？",
    "我是一个小模型。",
    "emoji are fine too 🙂 👍",
    "Use /help to list the commands and /reset to start over.",
]


def make_tiny_model(
    directory: str | Path,
    *,
    vocab_size: int = 512,
    hidden_size: int = 32,
    layers: int = 2,
    heads: int = 2,
    context_window: int = 256,
    seed: int = 0,
) -> Path:
    """Write a tiny chat model to ``directory`` and return its path.

    Args:
        directory: created if missing; an existing model there is overwritten.
        vocab_size: BPE vocabulary size (the trainer may stop short of it on the tiny corpus).
        hidden_size, layers, heads: the transformer's size.
        context_window: ``max_position_embeddings``.
        seed: torch seed for the random weights.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = train_chat_tokenizer(
        SENTENCES * 4, vocab_size, min_frequency=1, model_max_length=context_window
    )
    tokenizer.save_pretrained(out)

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=context_window,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    return out
