"""End-to-end fine-tuning of a coded model: the discrete codes fixed, everything continuous trained.

After every matrix is coded, the codebooks, the per-row (or per-group) scales and the tensors kept whole
(the norms) are trained by Adam to minimise KL(float model's next-token distribution || the coded
model's) on the calibration dialogues, as AQLM does after its layer-wise pass (Egiazarian et al. 2024,
sec. 3.4; PV-tuning's continuous step). Layer-wise tuning only sees each layer's own output error; this
sees what the errors of all layers together do to the predictions, and lets later parameters make up
for earlier errors. The codes are never touched, so the bits per weight stay what they were.

The same routine tunes round-to-nearest or GPTQ codes (their scales and the norms), which gives the
baseline the same treatment when a fair comparison needs it.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F
from torch.func import functional_call

from botkit.training.compress.scalar import ScalarCodes
from botkit.training.compress.vq import VQCodes
from botkit.training.packing import IGNORE, encode_dialogue

log = logging.getLogger(__name__)

# Token ids (B, T), their attention mask (B, T), right-padded, and the weight of each position's
# prediction in the loss (B, T): every real token, or only those predicting an assistant token.
Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def batches(
    tokenizer: Any,
    dialogues: list[list[dict[str, str]]],
    *,
    batch_size: int,
    max_tokens: int,
    assistant_only: bool = False,
) -> list[Batch]:
    """Dialogues rendered with the chat template, cut to ``max_tokens``, in batches of similar length.

    Args:
        assistant_only: weigh only the positions that predict an assistant token (what the held-out
            perplexity scores); otherwise every position of the dialogue.
    """
    encoded = []
    for messages in dialogues:
        ids, labels = encode_dialogue(tokenizer, messages)
        ids_t, labels_t = torch.as_tensor(ids[:max_tokens]), torch.as_tensor(labels[:max_tokens])
        weight = torch.ones(len(ids_t))
        if assistant_only:  # position t predicts token t + 1
            weight = torch.cat([(labels_t[1:] != IGNORE).float(), torch.zeros(1)])
        encoded.append((ids_t, weight))
    encoded.sort(key=lambda item: len(item[0]))  # similar lengths together: little padding
    pad = int(tokenizer.pad_token_id or 0)
    out = []
    for start in range(0, len(encoded), batch_size):
        group = encoded[start : start + batch_size]
        width = max(len(ids) for ids, _ in group)
        ids = torch.full((len(group), width), pad, dtype=torch.long)
        mask = torch.zeros(len(group), width, dtype=torch.long)
        weight = torch.zeros(len(group), width)
        for i, (row, row_weight) in enumerate(group):
            ids[i, : len(row)], mask[i, : len(row)], weight[i, : len(row)] = row, 1, row_weight
        if weight.sum() > 0:
            out.append((ids, mask, weight))
    return out


def kl_to_teacher(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """Weighted mean over positions of KL(teacher || student), both given as logits (B, T, V)."""
    log_p = F.log_softmax(teacher_logits.float(), dim=-1)
    log_q = F.log_softmax(student_logits.float(), dim=-1)
    per_position = (log_p.exp() * (log_p - log_q)).sum(-1)
    return (per_position * weight).sum() / weight.sum().clamp(min=1e-12)


class CodedModel:
    """The continuous parameters of a coded model, and the weights they decode to (differentiably).

    Args:
        state: every tensor of the float model (a tied head left out), name -> tensor.
        encoded: the coded matrices (their codes are read, never changed).
        books: the shared codebooks of ``vq`` codes (None when there are none).
    """

    def __init__(
        self,
        state: dict[str, torch.Tensor],
        encoded: dict[str, ScalarCodes | VQCodes],
        books: torch.Tensor | None,
    ) -> None:
        self.encoded = encoded
        self.books = None if books is None else books.float().clone().requires_grad_(True)
        self.scales = {n: c.scales.float().clone().requires_grad_(True) for n, c in encoded.items()}
        # Tensors kept whole are stored as float16: start from what will be stored.
        self.raw = {
            n: t.detach().half().float().requires_grad_(True) for n, t in state.items() if n not in encoded
        }
        self._codes = {n: c.codes.long() for n, c in encoded.items()}
        self._dequantized = {  # scalar codes minus zero points, per group: only the scale is trained
            n: c.codes.float() - c.zeros.float()[:, torch.arange(c.codes.shape[1]) // c.group_size]
            for n, c in encoded.items()
            if isinstance(c, ScalarCodes)
        }

    def parameters(self) -> list[torch.Tensor]:
        """Everything Adam trains."""
        books = [] if self.books is None else [self.books]
        return [*books, *self.scales.values(), *self.raw.values()]

    def weights(self) -> dict[str, torch.Tensor]:
        """Every model tensor as the coded model has it (a graph back to :meth:`parameters`)."""
        out = dict(self.raw)
        for name, codes in self.encoded.items():
            if isinstance(codes, VQCodes):
                assert self.books is not None
                idx = self._codes[name]
                pieces = sum(self.books[m][idx[m]] for m in range(idx.shape[0]))
                assert isinstance(pieces, torch.Tensor)
                out[name] = pieces.reshape(codes.shape) * self.scales[name][:, None]
            else:
                group_of = torch.arange(codes.codes.shape[1]) // codes.group_size
                out[name] = self._dequantized[name] * self.scales[name][:, group_of]
        return out

    def store(self, state: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """Write the tuned scales into the codes and the tuned whole tensors into ``state``.

        Returns:
            The tuned codebooks (float16), or None.
        """
        for name, codes in self.encoded.items():
            tuned = self.scales[name].detach()
            # A zero row's scale (padding, say) stays zero; a scale is never let go negative.
            codes.scales = torch.where(codes.scales == 0, torch.zeros_like(tuned), tuned).half()
        for name, tensor in self.raw.items():
            state[name] = tensor.detach().clone()
        return None if self.books is None else self.books.detach().half()


def mean_kl(model: Any, weights: dict[str, torch.Tensor], data: list[Batch]) -> float:
    """KL(``model``'s float weights || ``weights``) averaged over the tokens of ``data`` (no gradient)."""
    total, count = 0.0, 0.0
    with torch.no_grad():
        for ids, mask, weight in data:
            teacher = model(input_ids=ids, attention_mask=mask).logits
            student = functional_call(model, weights, (), {"input_ids": ids, "attention_mask": mask}).logits
            n = float(weight.sum())
            total += float(kl_to_teacher(student, teacher, weight)) * n
            count += n
    return total / max(count, 1)


def tune(
    model: Any,
    state: dict[str, torch.Tensor],
    encoded: dict[str, ScalarCodes | VQCodes],
    books: torch.Tensor | None,
    data: list[Batch],
    *,
    steps: int,
    lr: float = 1e-4,
    seed: int = 0,
) -> tuple[torch.Tensor | None, list[float]]:
    """Train the coded model's continuous parameters to match ``model``'s predictions on ``data``.

    Args:
        model: the float model (the teacher; its own weights are not changed).
        state: its tensors (tied head left out); the tensors kept whole are replaced by tuned ones.
        encoded: the coded matrices; their scales are replaced by tuned ones, their codes kept.
        books: shared codebooks of ``vq`` codes, or None.
        data: calibration batches (see :func:`batches`); one per step, in a seeded shuffled order.
        steps: Adam steps.
        lr: Adam's learning rate (a cosine decay to zero over ``steps``).
        seed: orders the batches.

    Returns:
        The tuned codebooks (float16, or None) and the KL of each step's batch before its update.
    """
    coded = CodedModel(state, encoded, books)
    optimiser = torch.optim.Adam(coded.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: 0.5 * (1 + torch.cos(torch.tensor(torch.pi * s / max(steps, 1)))).item()
    )
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    teacher_logits: dict[int, torch.Tensor] = {}
    losses: list[float] = []
    for _ in range(steps):
        if not order:
            order = torch.randperm(len(data), generator=generator).tolist()
        index = order.pop()
        ids, mask, weight = data[index]
        if index not in teacher_logits:  # the teacher's predictions, once per batch (float16 halves them)
            with torch.no_grad():
                teacher_logits[index] = model(input_ids=ids, attention_mask=mask).logits.half()
        teacher = teacher_logits[index]
        student = functional_call(model, coded.weights(), (), {"input_ids": ids, "attention_mask": mask})
        loss = kl_to_teacher(student.logits, teacher, weight)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
    if losses:
        log.info("end-to-end tuning: KL to the float model %.5f -> %.5f", losses[0], losses[-1])
    return coded.store(state), losses
