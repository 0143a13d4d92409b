"""The adversarial stage's updates on toy models: the discriminator learns, the policy gradient raises the
reward, the KL weight holds the generator back, and the oracle's NLL measures what it should."""

from __future__ import annotations

import copy

import torch
from torch import nn

from botkit.training.gan.batch import Batch, make_batch
from botkit.training.gan.discriminator import Discriminator, LSTMBackbone
from botkit.training.gan.lstm import (
    LSTMGenerator,
    entropy_per_token,
    make_oracle,
    nll_per_token,
    sample_sequences,
)
from botkit.training.gan.policy import discriminator_update, generator_update, precision, sample_replies

VOCAB = 24
CPU = torch.device("cpu")
AMP = precision(CPU, bf16=True)  # bf16 is asked for, but autocast must stay off on the CPU


def _replies(low: int, high: int, n: int, seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    rows = [([0, 1], torch.randint(low, high, (6,), generator=g).tolist()) for _ in range(n)]
    return make_batch(rows, pad_id=0)


def test_autocast_is_off_on_the_cpu_even_when_bf16_is_asked() -> None:
    with AMP:
        assert not torch.is_autocast_enabled("cpu")


def test_discriminator_accuracy_rises_above_chance_on_a_separable_set() -> None:
    torch.manual_seed(0)
    disc = Discriminator(LSTMBackbone(VOCAB, 16, 16))
    opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
    first = None
    for step in range(40):  # "human" replies use tokens 2..12, "generated" ones 12..24
        rec = discriminator_update(
            disc, opt, _replies(2, 12, 16, step), _replies(12, VOCAB, 16, 1000 + step), "partial", 1.0, AMP
        )
        first = first if first is not None else rec["d_acc"]
    human, fake = _replies(2, 12, 64, 99), _replies(12, VOCAB, 64, 98)
    with torch.no_grad():
        p_h = torch.sigmoid(disc(human.ids, human.attention)).gather(1, human.last[:, None])
        p_f = torch.sigmoid(disc(fake.ids, fake.attention)).gather(1, fake.last[:, None])
    held_out = ((p_h > 0.5).float().mean() + (p_f < 0.5).float().mean()).item() / 2
    assert held_out > 0.95, (first, held_out)


class TokenJudge(nn.Module):
    """A fixed toy discriminator: at each position, "human" iff the token there is below VOCAB / 2."""

    def forward(self, ids: torch.Tensor, attention: torch.Tensor) -> torch.Tensor:
        return 4.0 * (ids < VOCAB // 2).float() - 2.0


def _train_against_judge(kl_coef: float, steps: int) -> tuple[list[float], float, LSTMGenerator]:
    torch.manual_seed(0)
    gen = LSTMGenerator(VOCAB, 16, 16)
    reference = copy.deepcopy(gen).requires_grad_(False)
    opt = torch.optim.Adam(gen.parameters(), lr=2e-2)
    rewards, baseline, kl = [], 0.5, 0.0
    for _ in range(steps):
        fake, _ = sample_replies(
            gen, [[0]] * 32, max_new_tokens=8, temperature=1.0, eos_id=None, pad_id=0, device=CPU
        )
        rec = generator_update(
            gen, reference, TokenJudge(), opt, None, fake,
            baseline=baseline, kl_coef=kl_coef, credit="partial", grad_clip=1.0, amp=AMP,
        )  # fmt: skip
        baseline = 0.9 * baseline + 0.1 * rec["reward"]
        rewards.append(rec["reward"])
        kl = rec["kl"]
    return rewards, kl, gen


def test_a_generator_update_raises_the_mean_reward_of_a_fixed_discriminator() -> None:
    rewards, _, _ = _train_against_judge(kl_coef=0.0, steps=40)
    before, after = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    assert before < 0.65
    assert after > before + 0.2, (before, after)


def test_a_high_kl_weight_keeps_the_generator_close_to_the_reference() -> None:
    free_rewards, free_kl, _ = _train_against_judge(kl_coef=0.0, steps=40)
    held_rewards, held_kl, _ = _train_against_judge(kl_coef=20.0, steps=40)
    assert held_kl < free_kl / 5, (held_kl, free_kl)
    assert sum(held_rewards[-5:]) < sum(free_rewards[-5:])


def test_oracle_nll_of_its_own_samples_is_its_entropy_estimate() -> None:
    torch.manual_seed(1)
    oracle = make_oracle(5000, 32, 32, seed=7)
    samples = sample_sequences(oracle, 1000, 20)
    nll, entropy = nll_per_token(oracle, samples), entropy_per_token(oracle, samples)
    diff = nll - entropy  # per sequence; both estimate the oracle's entropy rate
    stderr = diff.std() / len(diff) ** 0.5
    assert abs(diff.mean().item()) < 3 * stderr.item() + 1e-3, (nll.mean(), entropy.mean(), stderr)
    assert 1.0 < nll.mean().item() < 8.52  # below log(5000): the oracle is far from uniform
    # Another model's NLL of the same samples is higher (cross-entropy >= entropy).
    other = make_oracle(5000, 32, 32, seed=8)
    assert nll_per_token(other, samples).mean() > nll.mean() + 1.0
