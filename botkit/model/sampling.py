"""Per-row sampling for a batch: each request keeps its own temperature, top-k, top-p and penalty."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from botkit.types import SamplingParams


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: torch.Tensor) -> torch.Tensor:
    """CTRL-style penalty on tokens already in the row (``seen`` is a [B, V] bool mask).

    Positive logits are divided and negative ones multiplied, so the penalty always lowers the odds.
    """
    factor = penalty[:, None].expand_as(logits)
    penalised = torch.where(logits > 0, logits / factor, logits * factor)
    return torch.where(seen, penalised, logits)


def sample_next(
    logits: torch.Tensor,
    params: Sequence[SamplingParams],
    generators: Sequence[torch.Generator | None],
) -> torch.Tensor:
    """Pick one token per row of ``logits`` [B, V] (float32) and return them as [B] ints."""
    batch, vocab = logits.shape
    device = logits.device
    temperature = torch.tensor([p.temperature for p in params], device=device, dtype=logits.dtype)
    greedy = temperature <= 0
    choice = logits.argmax(dim=-1)
    if bool(greedy.all()):
        return choice

    scaled = logits / temperature.clamp(min=1e-5)[:, None]
    # One descending sort serves both top-k and top-p. When every row has a top-k, only the largest k
    # are needed: topk over a 150k vocabulary is far cheaper than a full sort of it.
    k_max = max(p.top_k for p in params)
    if all(p.top_k > 0 for p in params) and k_max < vocab:
        sorted_logits, sorted_idx = scaled.topk(k_max, dim=-1)  # [B, k_max], descending
    else:
        sorted_logits, sorted_idx = scaled.sort(dim=-1, descending=True)  # [B, V]
    width = sorted_logits.shape[-1]
    ranks = torch.arange(width, device=device)[None, :]
    top_k = torch.tensor([p.top_k if p.top_k > 0 else vocab for p in params], device=device)
    drop = ranks >= top_k[:, None]
    probs = sorted_logits.masked_fill(drop, float("-inf")).softmax(dim=-1)
    top_p = torch.tensor([p.top_p for p in params], device=device, dtype=probs.dtype)
    # Keep the smallest prefix whose mass reaches top_p (the first token always stays).
    drop |= (probs.cumsum(dim=-1) - probs) >= top_p[:, None]
    probs = sorted_logits.masked_fill(drop, float("-inf")).softmax(dim=-1)

    picked = torch.empty(batch, dtype=torch.long, device=device)
    unseeded = [i for i, g in enumerate(generators) if g is None]
    if unseeded:
        rows = torch.tensor(unseeded, device=device)
        picked[rows] = torch.multinomial(probs[rows], 1).squeeze(-1)
    for i, gen in enumerate(generators):
        if gen is not None:
            # A seeded request gets the same reply whatever batch it lands in: it draws from its own
            # top-k slice only, so its random stream does not depend on how wide its companions made the
            # candidate list (multinomial consumes one random number per candidate).
            own = params[i].top_k if 0 < params[i].top_k < vocab else vocab
            picked[i] = torch.multinomial(probs[i, :own], 1, generator=gen).squeeze(-1)
    sampled = sorted_idx.gather(-1, picked[:, None]).squeeze(-1)
    return torch.where(greedy, choice, sampled)
