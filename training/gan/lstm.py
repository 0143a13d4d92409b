"""The LSTM generator option and the synthetic oracle of the SeqGAN experiment (Yu et al. 2017).

The oracle is a randomly initialised LSTM (parameters drawn from N(0, 1), as SeqGAN's): it *is* the data
distribution, so the oracle's negative log-likelihood of a generator's samples measures their quality
exactly. Built here from a seed; the original repository's oracle file is not used.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

START = 0  # the start token every sequence is conditioned on; it is also an ordinary vocabulary entry


class LSTMGenerator(nn.Module):
    """An embedding, a one-layer LSTM and a linear output: a causal LM with the calls the stage makes.

    ``forward`` returns an object with ``.logits`` and ``generate`` samples, so the stage's updates treat
    it and a Hugging Face model alike.
    """

    def __init__(self, vocab_size: int, embedding_size: int = 32, hidden_size: int = 32) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size, embedding_size)
        self.lstm = nn.LSTM(embedding_size, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> Any:
        hidden, _ = self.lstm(self.embed(input_ids))
        return SimpleNamespace(logits=self.out(hidden))  # (B, T, V)

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        **_: Any,
    ) -> torch.Tensor:
        """Sample ``max_new_tokens`` after ``input_ids`` (B, P) with the torch RNG; returns (B, P + N)."""
        hidden, state = self.lstm(self.embed(input_ids))
        logits = self.out(hidden[:, -1])
        out = [input_ids]
        for _ in range(max_new_tokens):
            # Inverse-CDF sampling: the same distribution as torch.multinomial, 4x faster over 5,000 words.
            cdf = F.softmax(logits / temperature, dim=-1).cumsum(-1)  # (B, V)
            u = torch.rand(len(cdf), 1, device=cdf.device) * cdf[:, -1:]
            tok = torch.searchsorted(cdf, u).clamp_(max=self.vocab_size - 1)  # (B, 1)
            out.append(tok)
            hidden, state = self.lstm(self.embed(tok), state)
            logits = self.out(hidden[:, -1])
        return torch.cat(out, dim=1)


def make_oracle(vocab_size: int, embedding_size: int, hidden_size: int, seed: int) -> LSTMGenerator:
    """The oracle: an LSTM whose every parameter is drawn from N(0, 1) with ``seed``; frozen."""
    gen = torch.Generator().manual_seed(seed)
    oracle = LSTMGenerator(vocab_size, embedding_size, hidden_size)
    with torch.no_grad():
        for p in oracle.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return oracle.requires_grad_(False).eval()


def sample_sequences(
    model: LSTMGenerator, n: int, length: int, batch_size: int = 500, temperature: float = 1.0
) -> torch.Tensor:
    """``n`` sequences of ``length`` tokens (start token excluded), ``(n, length)``."""
    parts = []
    for i in range(0, n, batch_size):
        start = torch.full((min(batch_size, n - i), 1), START, dtype=torch.long)
        parts.append(model.generate(start, max_new_tokens=length, temperature=temperature)[:, 1:])
    return torch.cat(parts)


def nll_per_token(model: LSTMGenerator, sequences: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """``model``'s negative log-likelihood of each sequence, per token, ``(n,)``."""
    return _per_sequence(model, sequences, batch_size, entropy=False)


def entropy_per_token(model: LSTMGenerator, sequences: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """Mean entropy of ``model``'s next-token distributions along each sequence, per token, ``(n,)``.

    On the model's own samples this and :func:`nll_per_token` estimate the same number, the entropy
    rate of the model's distribution: a check that the NLL measure is computed right.
    """
    return _per_sequence(model, sequences, batch_size, entropy=True)


@torch.no_grad()
def _per_sequence(
    model: LSTMGenerator, sequences: torch.Tensor, batch_size: int, entropy: bool
) -> torch.Tensor:
    out = []
    for chunk in sequences.split(batch_size):  # (b, L, V) log-probs at a time, not all n at once
        ids = torch.cat([torch.full((len(chunk), 1), START, dtype=torch.long), chunk], dim=1)
        logp = F.log_softmax(model(ids[:, :-1]).logits, dim=-1)
        if entropy:
            out.append(-(logp.exp() * logp).sum(-1).mean(dim=1))
        else:
            out.append(-logp.gather(-1, ids[:, 1:, None]).squeeze(-1).mean(dim=1))
    return torch.cat(out)
