"""The stage's three updates: the discriminator's, the generator's policy gradient, and teacher forcing.

Shapes: a batch is ``(B, T)``; per-target tensors are ``(B, T-1)``, where column ``t`` is the prediction
of token ``t+1`` (so ``batch.reply[:, 1:]`` marks the reply's target tokens).

The generator's loss on sampled replies is REINFORCE with a moving-average baseline plus an exact KL
to the frozen reference (the fine-tuned model):
``-sum_t (r_t - b) log pi(y_t | y_<t, x) + kl_coef * sum_t KL(pi(.|y_<t, x) || ref(.|y_<t, x))``,
averaged over reply tokens. With ``credit = "partial"`` the reward of token ``t`` is the discriminator's
P(human) of the reply cut after ``t`` (REGS); with ``"sequence"`` every token gets the whole reply's.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Literal

import torch
import torch.nn.functional as F

from botkit.training.gan.batch import Batch, make_batch

Credit = Literal["partial", "sequence"]


def precision(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on CUDA when asked; plain float32 elsewhere (bf16 on CPU is slow)."""
    enabled = device.type == "cuda" and bf16
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


@torch.no_grad()
def sample_replies(
    model: Any,
    contexts: list[list[int]],
    *,
    max_new_tokens: int,
    temperature: float,
    eos_id: int | None,
    pad_id: int,
    device: torch.device,
) -> tuple[Batch, list[list[int]]]:
    """Sample one reply per context (torch RNG); returns the right-padded batch and the reply tokens.

    A reply ends after its first ``eos_id`` (kept: the generator learns when to stop) or at the cap.
    """
    width = max(len(c) for c in contexts)
    ids = torch.full((len(contexts), width), pad_id, dtype=torch.long)
    attention = torch.zeros_like(ids)
    for i, c in enumerate(contexts):  # left padding, as generation needs
        ids[i, width - len(c) :] = torch.tensor(c, dtype=torch.long)
        attention[i, width - len(c) :] = 1
    was_training = model.training
    model.eval()
    out = model.generate(
        input_ids=ids.to(device), attention_mask=attention.to(device), max_new_tokens=max_new_tokens,
        do_sample=True, temperature=temperature, top_k=0, top_p=1.0, eos_token_id=eos_id,
        pad_token_id=pad_id,
    )  # fmt: skip
    model.train(was_training)
    replies = []
    for row in out[:, width:].tolist():
        if eos_id is not None and eos_id in row:
            row = row[: row.index(eos_id) + 1]
        replies.append(row or [pad_id])
    return make_batch(list(zip(contexts, replies, strict=True)), pad_id), replies


def _logits(net: Any, batch: Batch) -> torch.Tensor:
    return net(input_ids=batch.ids, attention_mask=batch.attention).logits.float()  # type: ignore[no-any-return]


def _targets(logits: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-probs over the vocabulary, of the taken tokens, and the reply mask, all per target."""
    logp = F.log_softmax(logits[:, :-1], dim=-1)  # (B, T-1, V)
    taken = logp.gather(-1, batch.ids[:, 1:, None]).squeeze(-1)  # (B, T-1)
    return logp, taken, batch.reply[:, 1:].float()


@torch.no_grad()
def rewards(disc: Any, batch: Batch, credit: Credit) -> torch.Tensor:
    """P(human) per reply target token, ``(B, T-1)`` (zero off the reply)."""
    p = torch.sigmoid(disc(batch.ids, batch.attention))  # (B, T): position t has read tokens <= t
    if credit == "sequence":
        p = p.gather(1, batch.last[:, None]).expand_as(p)
    return p[:, 1:] * batch.reply[:, 1:]


def discriminator_update(
    disc_net: Any, optimizer: Any, human: Batch, fake: Batch, credit: Credit, grad_clip: float, amp: Any
) -> dict[str, float]:
    """One step of binary cross-entropy, human = 1 and generated = 0.

    With ``partial`` credit every reply prefix is a training example (the scores the generator is
    rewarded with must mean something for prefixes too); accuracy is on whole replies.
    """
    disc_net.train()
    both = _stack(human, fake)  # one forward: DDP allows one forward per backward
    with amp:
        logit = disc_net(both.ids, both.attention).float()  # (2B, T)
    label = torch.zeros_like(logit)
    label[: len(human.ids)] = 1.0
    mask = both.reply.float() if credit == "partial" else F.one_hot(both.last, logit.size(1)).float()
    bce = F.binary_cross_entropy_with_logits(logit, label, reduction="none") * mask
    n = len(human.ids)
    # Each side weighs half, whatever its number of reply tokens.
    losses = [bce[:n].sum() / mask[:n].sum(), bce[n:].sum() / mask[n:].sum()]
    right = ((logit.gather(1, both.last[:, None]).squeeze(1) > 0) == (label[:, 0] > 0)).float()
    loss = (losses[0] + losses[1]) / 2
    loss.backward()  # type: ignore[no-untyped-call]
    _step(disc_net, optimizer, None, grad_clip)
    return {"d_loss": loss.item(), "d_acc": ((right[:n].mean() + right[n:].mean()) / 2).item()}


def _stack(a: Batch, b: Batch) -> Batch:
    """Two batches as one, the narrower right-padded (attention 0, not reply) to the wider's length."""
    width = max(a.ids.size(1), b.ids.size(1))

    def pad(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, width - t.size(1)))

    return Batch(
        torch.cat([pad(a.ids), pad(b.ids)]),
        torch.cat([pad(a.attention), pad(b.attention)]),
        torch.cat([pad(a.reply), pad(b.reply)]),
    )


def generator_update(
    gen_net: Any,
    reference: Any,
    disc: Any,
    optimizer: Any,
    scheduler: Any,
    fake: Batch,
    *,
    baseline: float,
    kl_coef: float,
    credit: Credit,
    grad_clip: float,
    amp: Any,
) -> dict[str, float]:
    """One REINFORCE step on sampled replies; returns reward, KL, loss. A non-finite reward skips the step.

    The caller stops the run on a non-finite ``reward`` (see ``trainer.py``).
    """
    disc.eval()
    with amp:
        r = rewards(disc, fake, credit)
    mask = fake.reply[:, 1:].float()
    n = mask.sum()
    mean_reward = float((r.float() * mask).sum() / n)
    if not math.isfinite(mean_reward):
        return {"reward": mean_reward}
    with torch.no_grad(), amp:
        ref_logp = F.log_softmax(_logits(reference, fake)[:, :-1], dim=-1)
    gen_net.train()
    with amp:
        logits = _logits(gen_net, fake)
    logp, taken, _ = _targets(logits, fake)
    advantage = (r.float() - baseline) * mask
    pg = -(advantage * taken).sum() / n
    kl = ((logp.exp() * (logp - ref_logp)).sum(-1) * mask).sum() / n
    loss = pg + kl_coef * kl
    loss.backward()  # type: ignore[no-untyped-call]
    _step(gen_net, optimizer, scheduler, grad_clip)
    return {"reward": mean_reward, "kl": kl.item(), "g_loss": loss.item(), "pg_loss": pg.item()}


def mle_update(
    gen_net: Any, optimizer: Any, scheduler: Any, human: Batch, grad_clip: float, amp: Any
) -> float:
    """One teacher-forcing step on human replies; returns their NLL per reply token."""
    gen_net.train()
    with amp:
        logits = _logits(gen_net, human)
    mask = human.reply[:, 1:].float()
    # cross_entropy fuses log-softmax and the pick: cheaper than _targets when the full log-probs are unused
    token_nll = F.cross_entropy(
        logits[:, :-1].transpose(1, 2), human.ids[:, 1:], reduction="none"
    )  # (B, T-1)
    nll = (token_nll * mask).sum() / mask.sum()
    nll.backward()  # type: ignore[no-untyped-call]
    _step(gen_net, optimizer, scheduler, grad_clip)
    return nll.item()


def _step(net: Any, optimizer: Any, scheduler: Any, grad_clip: float) -> None:
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    optimizer.zero_grad(set_to_none=True)
