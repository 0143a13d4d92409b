"""Turning token streams and dialogues into fixed-size training blocks.

Pretraining concatenates documents (each followed by ``<|endoftext|>``) and cuts the stream into blocks
of ``context_length`` tokens, so no position is wasted on padding. Dialogues are packed whole, greedily,
into blocks, with labels of ``-100`` everywhere but the assistant's tokens, so the loss trains the model
to answer rather than to imitate users. Token ids are kept in ``uint32`` arrays (memory-mapped for a
corpus), never as Python lists of the whole corpus.

Each packed dialogue keeps to itself, as it will be when served alone: the block records which dialogue
every token belongs to (``segments``), and a batch of such blocks gives the model position ids that
restart at 0 for each dialogue and a block-diagonal causal attention mask, so no token sees the
dialogues packed before it. The caller shuffles dialogues (seeded) before packing, so paraphrases that
sit together in a file do not share blocks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch  # imported when a batch is made: tokenizing a corpus needs no torch

IGNORE = -100
T = TypeVar("T")


class TokenBlocks:
    """Blocks of token ids (and labels) of shape ``(n_blocks, block_size)``.

    ``labels is None`` means every token is a target (pretraining). ``segments`` (same shape), when
    given, numbers the dialogues within each block from 0 (padding has a number of its own); tokens
    of different segments never attend to each other (:meth:`attention_inputs`).
    """

    def __init__(
        self, ids: np.ndarray, labels: np.ndarray | None = None, segments: np.ndarray | None = None
    ) -> None:
        for name, other in (("labels", labels), ("segments", segments)):
            if other is not None and other.shape != ids.shape:
                raise ValueError(f"{name} shape {other.shape} != ids shape {ids.shape}")
        self.ids, self.labels, self.segments = ids, labels, segments

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def batch(self, indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Input ids and labels, both ``(len(indices), block_size)`` int64 tensors."""
        import torch

        ids = torch.from_numpy(np.asarray(self.ids[indices], dtype=np.int64))
        if self.labels is None:
            return ids, ids.clone()
        return ids, torch.from_numpy(np.asarray(self.labels[indices], dtype=np.int64))

    def attention_inputs(self, indices: np.ndarray) -> dict[str, torch.Tensor]:
        """Extra forward arguments keeping packed dialogues apart (empty for unsegmented blocks).

        Returns:
            ``position_ids`` ``(B, T)`` restarting at 0 for each segment, and ``attention_mask``
            ``(B, 1, T, T)``: 0 where a query may attend (same segment, not later), the dtype's minimum
            elsewhere; the 4-D form transformers models take as given.
        """
        if self.segments is None:
            return {}
        import torch

        seg = torch.from_numpy(np.asarray(self.segments[indices], dtype=np.int64))  # (B, T)
        return {"position_ids": segment_positions(seg), "attention_mask": block_causal_mask(seg)}


def segment_positions(segments: torch.Tensor) -> torch.Tensor:
    """Position of each token within its segment: ``(B, T)`` ids that restart at every segment change."""
    import torch

    b, t = segments.shape
    index = torch.arange(t).expand(b, t)
    starts = torch.ones_like(segments, dtype=torch.bool)
    starts[:, 1:] = segments[:, 1:] != segments[:, :-1]
    # The index of each token's segment start, carried forward: cummax of the start indices.
    start_index = torch.where(starts, index, torch.zeros_like(index)).cummax(dim=1).values
    return index - start_index


def block_causal_mask(segments: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Additive ``(B, 1, T, T)`` mask: query ``i`` sees key ``j`` iff ``j <= i`` in the same segment."""
    import torch

    dtype = dtype or torch.float32
    t = segments.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    allowed = (segments[:, :, None] == segments[:, None, :]) & causal  # (B, T, T); the diagonal always
    mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    return mask[:, None]


def encode_documents(docs: Iterable[str], tokenizer: Any, batch_size: int = 256) -> Iterator[np.ndarray]:
    """Token ids of each document followed by the document separator, in batches for speed."""
    sep = tokenizer.bos_token_id
    # Whole documents are longer than the model's context by design (they are cut into blocks later);
    # lift the limit so the tokenizer does not warn about every one.
    tokenizer.model_max_length = int(1e12)
    batch: list[str] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) >= batch_size:
            yield from _encode_batch(batch, tokenizer, sep)
            batch = []
    if batch:
        yield from _encode_batch(batch, tokenizer, sep)


def _encode_batch(batch: list[str], tokenizer: Any, sep: int) -> Iterator[np.ndarray]:
    for ids in tokenizer(batch, add_special_tokens=False)["input_ids"]:
        yield np.asarray([*ids, sep], dtype=np.uint32)


def write_token_file(chunks: Iterable[np.ndarray], path: Path) -> int:
    """Append token chunks to a raw ``uint32`` file as they come; returns the token count."""
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for chunk in chunks:
            f.write(chunk.astype(np.uint32).tobytes())
            n += len(chunk)
    return n


def blocks_from_token_file(path: Path, block_size: int) -> TokenBlocks:
    """Memory-map a token file as blocks of ``block_size`` (the tail that does not fill one is dropped)."""
    flat = np.memmap(path, dtype=np.uint32, mode="r")
    n = len(flat) // block_size
    return TokenBlocks(flat[: n * block_size].reshape(n, block_size))


def pack_stream(chunks: Iterable[np.ndarray], block_size: int) -> TokenBlocks:
    """Concatenate token chunks and cut them into full blocks (in memory; for small corpora and tests)."""
    parts = list(chunks)
    flat = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint32)
    n = len(flat) // block_size
    return TokenBlocks(flat[: n * block_size].reshape(n, block_size))


def encode_dialogue(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """Render one dialogue with the chat template; labels are the ids on assistant tokens, else -100."""
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids = np.asarray(out["input_ids"], dtype=np.int64)
    mask = np.asarray(out["assistant_masks"], dtype=bool)
    return ids, np.where(mask, ids, IGNORE)


def split_long_dialogue(
    ids: np.ndarray, labels: np.ndarray, turn_start_id: int, n_messages: int, block_size: int, system: bool
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cut an encoded dialogue longer than a block into windows of whole turns that fit one.

    Each window is the system turn (if any) followed by consecutive turns ending with an assistant turn,
    as many as fit, so every assistant turn is trained once, with as much of the conversation before it
    as fits. A chat template renders each message from its own ``turn_start_id`` token, so a window's
    tokens are the slices of its messages (what encoding the shorter dialogue gives). A turn too long
    for a block, or ids not in that form, are cut at ``block_size`` as a whole dialogue would be.

    Args:
        ids: the dialogue's token ids; labels: its labels (``IGNORE`` off the assistant's tokens).
        turn_start_id: the id of the token opening every message (``<|im_start|>``).
        n_messages: how many messages the dialogue has.
        block_size: the packing block size.
        system: whether the first message is a system turn (repeated at the start of every window).
    """
    if len(ids) <= block_size:
        return [(ids, labels)]
    starts = np.flatnonzero(ids == turn_start_id)
    if len(starts) != n_messages or (len(starts) and starts[0] != 0):
        return [(ids[:block_size], labels[:block_size])]  # not one opening token per message
    bounds = [*starts.tolist(), len(ids)]
    spans = [(bounds[k], bounds[k + 1]) for k in range(n_messages)]  # message k's tokens
    head = spans[0][1] if system else 0
    answers = [bool((labels[a:b] != IGNORE).any()) for a, b in spans]
    windows: list[tuple[np.ndarray, np.ndarray]] = []
    first = 1 if system else 0
    while first < n_messages:
        end = None  # the last message of the longest window that fits and ends with an answer
        for k in range(first, n_messages):
            if head + spans[k][1] - spans[first][0] > block_size:
                break
            if answers[k]:
                end = k
        if end is None:  # the next exchange alone overflows a block: keep its start, cut
            end = next((k for k in range(first, n_messages) if answers[k]), None)
            if end is None:
                break  # only user turns are left: nothing to learn
        a, b = spans[first][0], spans[end][1]
        win_ids = np.concatenate([ids[:head], ids[a:b]])[:block_size]
        win_lab = np.concatenate([labels[:head], labels[a:b]])[:block_size]
        windows.append((win_ids, win_lab))
        first = end + 1
    return windows


def shuffled(items: Iterable[T], seed: int) -> list[T]:
    """``items`` in a seeded random order (the same on every machine)."""
    out = list(items)
    order = np.random.default_rng(seed).permutation(len(out))
    return [out[i] for i in order]


def pack_dialogues(
    encoded: Iterable[tuple[np.ndarray, np.ndarray]], block_size: int, pad_id: int
) -> TokenBlocks:
    """Pack encoded dialogues whole into blocks, in order, starting a new block when one would overflow.

    A dialogue longer than a block is cut to ``block_size`` (its later turns are lost). Padding has
    label -100, so it never counts in the loss. The blocks carry segments (dialogue numbers, padding
    last), so each dialogue attends only to itself.
    """
    ids_rows: list[np.ndarray] = []
    lab_rows: list[np.ndarray] = []
    seg_rows: list[np.ndarray] = []
    cur_ids: list[np.ndarray] = []
    cur_lab: list[np.ndarray] = []
    used = 0

    def flush() -> None:
        nonlocal cur_ids, cur_lab, used
        if not cur_ids:
            return
        pad = block_size - used
        ids_rows.append(np.concatenate([*cur_ids, np.full(pad, pad_id, dtype=np.int64)]))
        lab_rows.append(np.concatenate([*cur_lab, np.full(pad, IGNORE, dtype=np.int64)]))
        lengths = [len(x) for x in cur_ids] + [pad]
        seg_rows.append(np.repeat(np.arange(len(lengths), dtype=np.int32), lengths))
        cur_ids, cur_lab, used = [], [], 0

    for ids, labels in encoded:
        ids, labels = ids[:block_size], labels[:block_size]
        if not (labels != IGNORE).any():
            continue  # truncation cut away every assistant token: nothing to learn
        if used + len(ids) > block_size:
            flush()
        cur_ids.append(ids)
        cur_lab.append(labels)
        used += len(ids)
    flush()
    if not ids_rows:
        empty = np.zeros((0, block_size), np.int32)
        return TokenBlocks(empty, empty.copy(), empty.copy())
    return TokenBlocks(
        np.stack(ids_rows).astype(np.int32), np.stack(lab_rows).astype(np.int32), np.stack(seg_rows)
    )
