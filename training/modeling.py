"""Building the causal LM a stage trains: from scratch (Llama- or GPT-2-style) or from a local checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botkit.training.config import ModelConfig


def build_model(cfg: ModelConfig, tokenizer: Any) -> Any:
    """A fresh model sized by ``cfg`` for ``tokenizer``'s vocabulary, or the checkpoint ``cfg.init_from``.

    Raises:
        FileNotFoundError: ``init_from`` is not a model directory.
    """
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    if cfg.init_from is not None:
        if not (Path(cfg.init_from) / "config.json").is_file():
            raise FileNotFoundError(f"init_from {cfg.init_from} is not a model directory (no config.json)")
        model = AutoModelForCausalLM.from_pretrained(cfg.init_from, dtype="float32")
        if model.get_input_embeddings().num_embeddings < len(tokenizer):
            model.resize_token_embeddings(len(tokenizer))
        return model
    if cfg.hidden_size % cfg.num_heads:
        raise ValueError(f"hidden_size {cfg.hidden_size} does not divide by num_heads {cfg.num_heads}")
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if cfg.architecture == "llama":
        # 8/3 x hidden keeps SwiGLU's three matrices at the parameter count of a 4 x GELU MLP.
        inter = cfg.intermediate_size or 64 * ((8 * cfg.hidden_size // 3 + 63) // 64)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=cfg.hidden_size,
            intermediate_size=inter,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            num_key_value_heads=cfg.num_heads,
            max_position_embeddings=cfg.context_length,
            attention_dropout=cfg.dropout,
            tie_word_embeddings=cfg.tie_embeddings,
            **ids,
        )
    else:
        config = GPT2Config(
            vocab_size=len(tokenizer),
            n_embd=cfg.hidden_size,
            n_layer=cfg.num_layers,
            n_head=cfg.num_heads,
            n_inner=cfg.intermediate_size or None,
            n_positions=cfg.context_length,
            resid_pdrop=cfg.dropout,
            embd_pdrop=cfg.dropout,
            attn_pdrop=cfg.dropout,
            tie_word_embeddings=cfg.tie_embeddings,
            **ids,
        )
    return AutoModelForCausalLM.from_config(config)


def context_length_of(model: Any) -> int:
    """Positions ``model`` can attend over, whatever its architecture calls it."""
    c = model.config
    return int(getattr(c, "max_position_embeddings", None) or getattr(c, "n_positions", 0) or 512)


def save_model(model: Any, tokenizer: Any, out_dir: Path) -> None:
    """Save a trained model and its tokenizer as a directory ``AutoModelForCausalLM`` loads offline."""
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(out_dir)
    tokenizer.model_max_length = context_length_of(model)
    tokenizer.save_pretrained(out_dir)
    portable_tokenizer_config(Path(out_dir))


def portable_tokenizer_config(model_dir: Path) -> None:
    """Make ``tokenizer_config.json`` load the same way wherever the directory goes.

    transformers 5 records the class as ``TokenizersBackend`` (unknown to 4.x) and notes how the
    tokenizer was last loaded (``local_files_only``, ``is_local``), which would follow the model around.
    """
    import json

    path = model_dir / "tokenizer_config.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["tokenizer_class"] = "PreTrainedTokenizerFast"
    for key in ("local_files_only", "is_local"):
        data.pop(key, None)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
