"""The discriminator: P(human) of a reply given its context, at every reply position.

The backbone is causal (a transformer decoder taken from a causal LM, or an LSTM), so the score read at
reply position ``t`` depends on the context and the reply's first ``t`` tokens only: one forward pass
scores every prefix of a reply, which is what partial-sequence credit (REGS, Li et al. 2017) needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn


class TransformerBackbone(nn.Module):
    """The decoder stack of a Hugging Face causal LM (its LM head dropped): hidden states ``(B, T, H)``."""

    def __init__(self, causal_lm: Any) -> None:
        super().__init__()
        self.body = causal_lm.base_model  # LlamaModel, GPT2Model, ...: every architecture names it so
        self.hidden_size = int(causal_lm.config.hidden_size)

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        return self.body(input_ids=ids, attention_mask=attention).last_hidden_state  # type: ignore[no-any-return]


class LSTMBackbone(nn.Module):
    """An embedding and a one-layer LSTM: hidden states ``(B, T, H)`` (for the synthetic-oracle runs)."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding_size)
        self.lstm = nn.LSTM(embedding_size, hidden_size, batch_first=True)
        self.hidden_size = hidden_size

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(ids))  # right padding: a real token never sees padding before it
        return out  # type: ignore[no-any-return]


class Discriminator(nn.Module):
    """A linear head on a causal backbone; ``forward`` gives the logit of "human" at every position.

    Args:
        backbone: a module mapping ``(ids, attention)`` to hidden states, with a ``hidden_size``.
    """

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(int(backbone.hidden_size), 1)

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        hidden = self.backbone(ids, attention)  # (B, T, H)
        return self.head(hidden.float()).squeeze(-1)  # type: ignore[no-any-return]  # (B, T)


def discriminator_from_model_dir(model_dir: Path) -> Discriminator:
    """A discriminator whose backbone starts from the weights of the causal LM in ``model_dir``."""
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32, local_files_only=True)
    return Discriminator(TransformerBackbone(lm))


def fresh_discriminator(model_cfg: Any, tokenizer: Any) -> Discriminator:
    """A discriminator on a freshly initialised small transformer sized by ``model_cfg``."""
    from botkit.training.modeling import build_model

    return Discriminator(TransformerBackbone(build_model(model_cfg, tokenizer)))


def check_same_tokenizer(generator_tok: Any, generator_dir: Path, disc_tok: Any, disc_dir: Path) -> None:
    """Refuse a discriminator that reads token ids differently from the generator.

    Raises:
        ValueError: the two vocabularies differ (naming both directories, sizes and an example token).
    """
    a, b = generator_tok.get_vocab(), disc_tok.get_vocab()
    if a == b:
        return
    differ = sorted(set(a.items()) ^ set(b.items()))
    example = differ[0][0] if differ else "?"
    raise ValueError(
        f"the discriminator's tokenizer ({disc_dir}, {len(b)} tokens) is not the generator's "
        f"({generator_dir}, {len(a)} tokens; e.g. {example!r} differs): the discriminator would read "
        "the generator's token ids as other words; start it from a model with the same tokenizer"
    )
