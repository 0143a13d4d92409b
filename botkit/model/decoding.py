"""Batched generation: many requests through one model, each with its own sampling and stop rules.

Prompts are left-padded into one batch ([B, L]) and prefilled together; then one token per row is
decoded per step with the KV cache. A row that finishes (end-of-turn token, stop sequence, token budget,
deadline) leaves the batch at once: its cache rows are dropped, so it waits for nobody and costs nothing
afterwards. Text is detokenised incrementally and handed to ``on_delta`` as it grows, holding back a
partial UTF-8 character or a possible stop-sequence prefix until it is certain.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch

from botkit.model.jobs import GenerationJob, PromptTooLongError, ReplyRow, token_budget
from botkit.model.kv_cache import preallocated_cache, reserved_layer_class
from botkit.model.loader import LoadedModel
from botkit.model.sampling import apply_repetition_penalty, sample_next

Admit = Callable[[int], list[GenerationJob]]


@torch.inference_mode()
def generate_batch(
    lm: LoadedModel, jobs: Sequence[GenerationJob], *, admit: Admit | None = None, admit_every: int = 4
) -> None:
    """Run ``jobs`` to completion as one batch. Never raises: failures land on each unfinished job.

    Args:
        lm: the model.
        jobs: the requests to start with.
        admit: called every ``admit_every`` decode steps with the number of rows running; returns jobs
            that arrived meanwhile (never blocks). They are prefilled and join the running batch, so a
            request arriving mid-batch waits a few steps, not for the longest reply to end.
        admit_every: steps between admissions; each merge copies the KV cache once.
    """
    rows = _rows(lm, jobs)
    if not rows:
        return
    try:
        batch = _Batch.prefill(lm, rows)
        step = 0
        while True:
            batch.sample()
            step += 1
            if admit is not None and step % admit_every == 0 and batch.mergeable:
                joining = _rows(lm, admit(len(batch.rows)))
                rows = rows + joining  # a new list: the batch holds the old one as its rows
                if joining:
                    fresh = _Batch.prefill(lm, joining)
                    fresh.sample()
                    batch = batch.merge(fresh)
            if not batch.rows:
                return
            batch.step()
    except Exception as exc:  # one bad batch must not kill the worker thread
        for row in rows:
            if not row.job.done.is_set():
                row.job.fail(exc)


def _rows(lm: LoadedModel, jobs: Sequence[GenerationJob]) -> list[ReplyRow]:
    rows: list[ReplyRow] = []
    for job in jobs:
        try:
            rows.append(ReplyRow(job, lm, token_budget(lm, len(job.prompt_ids), job.params)))
        except PromptTooLongError as exc:
            job.fail(exc)
    return rows


class _Batch:
    """The rows decoding together and their tensors; B rows, T cached positions, V vocabulary."""

    def __init__(self, lm: LoadedModel, rows: list[ReplyRow], cache: Any, attention: torch.Tensor) -> None:
        self.lm = lm
        self.rows = rows
        self.cache = cache
        self.attention = attention  # [B, T] 1 for real tokens, 0 for left padding
        self.next_position = attention.new_zeros(len(rows))  # [B] position id of the next token
        self.seen = torch.zeros(0)  # [B, V] tokens already in the row (repetition penalty)
        self.penalty = torch.zeros(0)  # [B]
        self.logits = torch.zeros(0)  # [B, V] for the next sample
        self.tokens = attention.new_zeros(len(rows))  # [B] last sampled tokens, the next step's input

    @classmethod
    def prefill(cls, lm: LoadedModel, rows: list[ReplyRow]) -> _Batch:
        """Left-pad the prompts into one [B, L] batch and run them through the model."""
        device = lm.device
        pad_id = lm.tokenizer.pad_token_id or 0
        width = max(len(r.job.prompt_ids) for r in rows)
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            prompt = row.job.prompt_ids
            input_ids[i, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            attention[i, width - len(prompt) :] = 1
            row.job.batch_size = len(rows)
        input_ids, attention = input_ids.to(device), attention.to(device)
        positions = (attention.cumsum(-1) - 1).clamp(min=0)  # left padding: real tokens start at 0
        cache = preallocated_cache(lm, capacity=width + max(r.budget for r in rows))
        batch = cls(lm, rows, cache, attention)
        vocab = lm.model.get_output_embeddings().weight.shape[0]
        batch.seen = torch.zeros((len(rows), vocab), dtype=torch.bool, device=device)
        batch.seen.scatter_(1, input_ids.clamp(max=vocab - 1), attention.bool())
        batch.penalty = torch.tensor([r.job.params.repetition_penalty for r in rows], device=device)
        out = _forward(lm, cache, input_ids=input_ids, attention_mask=attention, position_ids=positions)
        batch.logits = out.logits[:, -1, :].float()
        batch.next_position = positions[:, -1] + 1
        return batch

    @property
    def mergeable(self) -> bool:
        """Whether rows can join (only caches made entirely of reserved full-attention layers)."""
        return all(isinstance(layer, reserved_layer_class()) for layer in self.cache.layers)

    def sample(self) -> None:
        """Pick each row's next token, hand it to the row, and drop the rows that finished."""
        logits = apply_repetition_penalty(self.logits, self.seen, self.penalty)
        tokens = sample_next(logits, [r.job.params for r in self.rows], [r.generator for r in self.rows])
        token_list = tokens.tolist()
        keep = [i for i, row in enumerate(self.rows) if not row.push(token_list[i])]
        if len(keep) < len(self.rows):
            if not keep:
                self.rows = []
                return
            index = torch.tensor(keep, device=self.lm.device)
            self.cache.batch_select_indices(index)
            self.attention, self.next_position = self.attention[index], self.next_position[index]
            tokens, self.seen, self.penalty = tokens[index], self.seen[index], self.penalty[index]
            self.rows = [self.rows[i] for i in keep]
        self.seen.scatter_(1, tokens[:, None], True)
        self.tokens = tokens

    def step(self) -> None:
        """Feed the sampled tokens and compute the next logits."""
        self.attention = torch.cat([self.attention, self.attention.new_ones((len(self.rows), 1))], dim=1)
        out = _forward(
            self.lm,
            self.cache,
            input_ids=self.tokens[:, None],
            attention_mask=self.attention,
            position_ids=self.next_position[:, None],
        )
        self.logits = out.logits[:, -1, :].float()
        self.next_position = self.next_position + 1

    def merge(self, other: _Batch) -> _Batch:
        """One batch of both: the shorter side's cache and mask are left-padded to the longer side's."""
        if not self.rows or not other.rows:
            return other if not self.rows else self
        length = max(self.attention.shape[1], other.attention.shape[1])
        rows = self.rows + other.rows
        room = max(r.budget - len(r.job.completion_ids) for r in rows)
        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            mine.merge(theirs, length, length + room)
        attention = self.attention.new_zeros((len(rows), length))
        attention[: len(self.rows), length - self.attention.shape[1] :] = self.attention
        attention[len(self.rows) :, length - other.attention.shape[1] :] = other.attention
        self.rows, self.attention = rows, attention
        self.next_position = torch.cat([self.next_position, other.next_position])
        self.seen = torch.cat([self.seen, other.seen])
        self.penalty = torch.cat([self.penalty, other.penalty])
        self.tokens = torch.cat([self.tokens, other.tokens])
        for row in rows:
            row.job.batch_size = max(row.job.batch_size, len(rows))
        return self


def _forward(lm: LoadedModel, cache: object, **inputs: torch.Tensor) -> Any:
    """One forward pass that keeps only the last position's logits ([B, 1, V])."""
    # transformers 5 renamed ``past_key_values`` to ``cache``; older releases only know the former.
    cache_arg = "cache" if "cache" in _forward_params(type(lm.model)) else "past_key_values"
    return lm.model(**inputs, **{cache_arg: cache}, use_cache=True, logits_to_keep=1)


_FORWARD_PARAMS: dict[Any, frozenset[str]] = {}


def _forward_params(model_type: Any) -> frozenset[str]:
    if model_type not in _FORWARD_PARAMS:
        _FORWARD_PARAMS[model_type] = frozenset(inspect.signature(model_type.forward).parameters)
    return _FORWARD_PARAMS[model_type]
