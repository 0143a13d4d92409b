"""Batched generation: many requests through one model, each with its own sampling and stop rules.

Prompts are left-padded into one batch ([B, L]) and prefilled together; then one token per row is
decoded per step with the KV cache. A row that finishes (end-of-turn token, stop sequence, token budget,
deadline) leaves the batch at once: its cache rows are dropped, so it waits for nobody and costs nothing
afterwards. Text is detokenised incrementally and handed to ``on_delta`` as it grows, holding back a
partial UTF-8 character or a possible stop-sequence prefix until it is certain.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from botkit.model.kv_cache import preallocated_cache, reserved_layer_class
from botkit.model.loader import LoadedModel
from botkit.model.sampling import apply_repetition_penalty, sample_next
from botkit.types import SamplingParams

FinishReason = Literal["stop", "length", "error", "timeout"]


class PromptTooLongError(ValueError):
    """The prompt leaves no room for a reply in the model's context window."""


@dataclass
class GenerationJob:
    """One request's prompt, rules, and (once done) its result.

    ``on_delta`` is called from the generating thread with each new piece of text; ``done`` is set when
    ``text``/``finish_reason`` (or ``error``) are final, and ``on_done`` is called right after, so a
    waiter that also watches other things (a stream publisher) need not poll ``done``.
    """

    prompt_ids: list[int]
    params: SamplingParams
    on_delta: Callable[[str], None] | None = None
    deadline: float | None = None  # time.monotonic() value
    on_done: Callable[[], None] | None = None
    text: str = ""
    finish_reason: FinishReason | None = None
    completion_ids: list[int] = field(default_factory=list)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    emitted: int = 0
    batch_size: int = 0  # rows decoded together when this job started (for logs and tests)

    def complete(self, reason: FinishReason) -> None:
        """Mark the job finished with ``text`` as it stands (for batch runners)."""
        self.finish_reason = reason
        self._settle()

    def fail(self, error: BaseException) -> None:
        """Mark the job failed; ``error`` is what its caller sees."""
        self.error = error
        self.finish_reason = "error"
        self._settle()

    def _settle(self) -> None:
        self.done.set()
        if self.on_done is not None:
            self.on_done()


class _Row:
    """Decoding state of one job inside a batch."""

    def __init__(self, job: GenerationJob, lm: LoadedModel, budget: int) -> None:
        self.job = job
        self.lm = lm
        self.budget = budget
        self.generator: torch.Generator | None = None
        if job.params.seed is not None:
            self.generator = torch.Generator(device=lm.device)
            self.generator.manual_seed(job.params.seed)

    def push(self, token: int) -> bool:
        """Add one token; returns True when the job is finished."""
        job = self.job
        if token in self.lm.eos_ids:
            return self._finish("stop")
        job.completion_ids.append(token)
        text = self.lm.tokenizer.decode(job.completion_ids, skip_special_tokens=True)
        for stop in job.params.stop:
            at = text.find(stop)
            if at != -1:
                job.text = text[:at]
                return self._finish("stop")
        job.text = text
        if len(job.completion_ids) >= self.budget:
            return self._finish("length")
        if job.deadline is not None and time.monotonic() >= job.deadline:
            return self._finish("timeout")
        self._emit(_safe_prefix(text, job.params.stop))
        return False

    def _emit(self, upto: int) -> None:
        job = self.job
        if upto > job.emitted:
            delta = job.text[job.emitted : upto]
            job.emitted = upto
            if job.on_delta is not None:
                job.on_delta(delta)

    def _finish(self, reason: FinishReason) -> bool:
        self._emit(len(self.job.text))
        self.job.complete(reason)
        return True


def _safe_prefix(text: str, stops: Sequence[str]) -> int:
    """How much of ``text`` can be shown now: not a trailing partial character or stop-sequence start."""
    end = len(text)
    if text.endswith("\ufffd"):  # a multi-byte character split across tokens
        end -= 1
    for stop in stops:
        for n in range(min(len(stop) - 1, end), 0, -1):
            if text[:end].endswith(stop[:n]):
                end = min(end, len(text[:end]) - n)
                break
    return end


def token_budget(lm: LoadedModel, prompt_len: int, params: SamplingParams) -> int:
    """New tokens this prompt may have: its own limit, capped by the room left in the context."""
    room = lm.context_window - prompt_len
    if room <= 0:
        raise PromptTooLongError(
            f"the conversation is too long for the model ({prompt_len} tokens; it reads at most "
            f"{lm.context_window}). Send /reset to start over."
        )
    return min(params.max_new_tokens, room)


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


def _rows(lm: LoadedModel, jobs: Sequence[GenerationJob]) -> list[_Row]:
    rows: list[_Row] = []
    for job in jobs:
        try:
            rows.append(_Row(job, lm, token_budget(lm, len(job.prompt_ids), job.params)))
        except PromptTooLongError as exc:
            job.fail(exc)
    return rows


class _Batch:
    """The rows decoding together and their tensors; B rows, T cached positions, V vocabulary."""

    def __init__(self, lm: LoadedModel, rows: list[_Row], cache: Any, attention: torch.Tensor) -> None:
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
    def prefill(cls, lm: LoadedModel, rows: list[_Row]) -> _Batch:
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
