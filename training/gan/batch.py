"""(context, reply) pairs from dialogues, and the padded token batches every update of the stage reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from botkit.training.config import DataConfig, GANConfig
from botkit.training.corpora import Split, _fingerprint, iter_dialogues
from botkit.training.packing import IGNORE, encode_dialogue
from botkit.training.records import DataError


@dataclass
class Pair:
    """One assistant turn: the dialogue before it, its context tokens and the human reply's tokens."""

    messages: list[dict[str, str]]
    context: list[int]
    reply: list[int]


@dataclass
class Batch:
    """Right-padded sequences ``context + reply``; all tensors ``(B, T)``.

    Right padding keeps every real token at its natural position, so neither a transformer nor an LSTM
    needs position ids, and causal models never see the padding of a token's own row before it.
    """

    ids: torch.Tensor
    attention: torch.Tensor
    reply: torch.Tensor  # bool: the token at t belongs to the reply

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.ids.to(device), self.attention.to(device), self.reply.to(device))

    @property
    def last(self) -> torch.Tensor:
        """Index of each row's last reply token, ``(B,)``."""
        t = torch.arange(self.ids.size(1), device=self.ids.device)
        return torch.where(self.reply, t, -1).max(dim=1).values


def make_batch(rows: Sequence[tuple[Sequence[int], Sequence[int]]], pad_id: int) -> Batch:
    """Pad ``(context, reply)`` token lists on the right into one batch (a reply must not be empty)."""
    width = max(len(c) + len(r) for c, r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    reply = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (c, r) in enumerate(rows):
        if not r:
            raise ValueError("a reply has no tokens")
        n = len(c) + len(r)
        ids[i, :n] = torch.tensor([*c, *r], dtype=torch.long)
        attention[i, :n] = 1
        reply[i, len(c) : n] = True
    return Batch(ids, attention, reply)


_PAIRS: dict[tuple[object, ...], list[Pair]] = {}


def dialogue_pairs(data: DataConfig, tokenizer: Any, split: Split, max_context: int) -> list[Pair]:
    """Every assistant turn of the split's dialogues as a pair, in the chat template SFT trains on.

    The reply is the turn's assistant-masked tokens (its text and ``<|im_end|>``); the context is
    everything the template puts before it, cut to its last ``max_context`` tokens. The pairs of the last
    two calls are kept (new ``Pair`` objects each time): eval-gan asks for the same ones for every seed
    and arm, and the chit-chat conversations give about 100,000 of them, minutes of tokenizing each time.
    """
    vocab = (getattr(tokenizer, "name_or_path", ""), len(tokenizer), tokenizer.chat_template)
    key = (data.model_dump_json(), _fingerprint(data), vocab, split, max_context)
    if key not in _PAIRS:
        if len(_PAIRS) >= 2:
            _PAIRS.pop(next(iter(_PAIRS)))
        _PAIRS[key] = _dialogue_pairs(data, tokenizer, split, max_context)
    return [Pair(p.messages, p.context, p.reply) for p in _PAIRS[key]]


def _dialogue_pairs(data: DataConfig, tokenizer: Any, split: Split, max_context: int) -> list[Pair]:
    pairs = []
    tokenizer.model_max_length = int(1e12)  # whole dialogues are rendered, then cut: no warning per one
    for messages in iter_dialogues(data, split):
        for k, m in enumerate(messages):
            if m["role"] != "assistant" or not m["content"].strip():
                continue
            ids, labels = encode_dialogue(tokenizer, messages[: k + 1])
            marked = np.nonzero(labels != IGNORE)[0]
            end = int(marked[-1]) + 1
            start = end - 1
            while start > 0 and labels[start - 1] != IGNORE:  # back to the start of this last span
                start -= 1
            context = ids[:start][-max_context:]
            pairs.append(Pair(messages[:k], context.tolist(), ids[start:end].tolist()))
    return pairs


def require_pairs(pairs: list[Pair], data: DataConfig) -> list[Pair]:
    """The pairs, or a clear error when the files give none.

    Raises:
        DataError: no dialogue in the files has a (non-empty) assistant turn.
    """
    if not pairs:
        files = [str(p) for p in data.dialogue_files]
        raise DataError(
            f"no (context, reply) pairs in {files}: no dialogue has a non-empty assistant turn "
            "(the adversarial stage learns from human assistant replies)"
        )
    return pairs


def training_pairs(cfg: GANConfig, tokenizer: Any) -> list[Pair]:
    """The (context, human reply) pairs the GAN stage trains on: a context and a reply must fit the model's
    positions together, and human replies are cut to ``max_new_tokens`` like sampled ones.

    Raises:
        DataError: the dialogue files give no pair (no assistant turn).
        ValueError: ``max_new_tokens`` leaves no room for a context.
    """
    from transformers import AutoConfig

    from botkit.training.modeling import context_length_of

    positions = context_length_of(SimpleNamespace(config=AutoConfig.from_pretrained(str(cfg.init_from))))
    room = positions - cfg.max_new_tokens
    if room < 1:
        raise ValueError(
            f"max_new_tokens {cfg.max_new_tokens} leaves no room for a context in the model's "
            f"{positions} positions"
        )
    pairs = require_pairs(dialogue_pairs(cfg.data, tokenizer, "train", min(cfg.max_context, room)), cfg.data)
    for p in pairs:
        p.reply = p.reply[: cfg.max_new_tokens]
    return pairs
