"""One generation request and its reply's text rules, shared by both batch engines.

A :class:`GenerationJob` is what callers submit; a :class:`ReplyRow` is fed one sampled token at a time by
an engine (botkit's own batch in :mod:`botkit.model.decoding`, or transformers' continuous batching in
:mod:`botkit.model.transformers_cb`) and decides when the reply ends and which text can be shown yet.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch

from botkit.model.loader import LoadedModel
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


class ReplyRow:
    """The text side of one job while it decodes: end-of-turn, stop sequences, budget, deadline, streaming.

    Both batch engines feed it one token at a time, so they finish and stream replies the same way.
    """

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
            return self.finish("stop")
        job.completion_ids.append(token)
        text = self.lm.tokenizer.decode(job.completion_ids, skip_special_tokens=True)
        for stop in job.params.stop:
            at = text.find(stop)
            if at != -1:
                job.text = text[:at]
                return self.finish("stop")
        job.text = text
        if len(job.completion_ids) >= self.budget:
            return self.finish("length")
        if job.deadline is not None and time.monotonic() >= job.deadline:
            return self.finish("timeout")
        self._emit(_safe_prefix(text, job.params.stop))
        return False

    def _emit(self, upto: int) -> None:
        job = self.job
        if upto > job.emitted:
            delta = job.text[job.emitted : upto]
            job.emitted = upto
            if job.on_delta is not None:
                job.on_delta(delta)

    def finish(self, reason: FinishReason) -> bool:
        """Send what text is held back, then mark the job finished with ``reason``."""
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
