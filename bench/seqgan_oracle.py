"""SeqGAN's synthetic-oracle experiment (Yu et al. 2017, Table 1, length 20) through the GAN stage's code.

A randomly initialised LSTM (vocabulary 5,000, embedding and hidden 32, parameters N(0, 1), seed
``--oracle-seed``) is the true distribution; 10,000 sequences of 20 tokens sampled from it are the
training data. An LSTM generator of the same shape is trained by maximum likelihood (the stage's
``mle_update``), then adversarially by the stage's own ``GANTrainer`` rounds (``discriminator_update`` +
``generator_update``: REINFORCE with REGS partial-sequence credit, not SeqGAN's Monte Carlo rollouts;
the discriminator is the stage's causal LSTM classifier, not SeqGAN's CNN). Quality is the oracle's
NLL of ``--eval-samples`` generator samples, per token (lower is better).

Prints one JSON line (NLL after MLE and after adversarial training per seed, their means, the oracle's
own-sample NLL, the MLE model sampled at lower temperatures, wall time) and draws the NLL-over-epochs
plot beside this file. An "adversarial epoch" is ``--rounds-per-epoch`` generator updates.

    python bench/seqgan_oracle.py [--seeds 0 1 2] [--mle-epochs 6] [--adv-epochs 8] [--threads 2]

The defaults are the run in the README (23 minutes on 2 shared CPU cores); the paper pre-trains 120 epochs.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch

from botkit.training.config import GANConfig, LoopConfig
from botkit.training.gan.batch import Pair, make_batch
from botkit.training.gan.discriminator import Discriminator, LSTMBackbone
from botkit.training.gan.lstm import START, LSTMGenerator, make_oracle, nll_per_token, sample_sequences
from botkit.training.gan.policy import discriminator_update, mle_update, precision, sample_replies
from botkit.training.gan.trainer import GANTrainer

VOCAB, LENGTH, SIZE = 5000, 20, 32
PAPER = {"random": 10.310, "MLE": 9.038, "SS": 8.985, "PG-BLEU": 8.946, "SeqGAN": 8.736}
AMP = precision(torch.device("cpu"), bf16=False)


def oracle_nll(oracle: LSTMGenerator, gen: LSTMGenerator, n: int, temperature: float = 1.0) -> float:
    """The oracle's NLL per token of ``n`` sequences sampled from ``gen``."""
    return float(nll_per_token(oracle, sample_sequences(gen, n, LENGTH, temperature=temperature)).mean())


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_seed(
    seed: int, oracle: LSTMGenerator, pairs: list[Pair], args: argparse.Namespace, work: Path
) -> dict[str, object]:
    torch.manual_seed(seed)
    gen = LSTMGenerator(VOCAB, SIZE, SIZE)
    curve = [("init", 0, oracle_nll(oracle, gen, args.eval_samples))]
    opt = torch.optim.Adam(gen.parameters(), lr=args.mle_lr)
    for epoch in range(1, args.mle_epochs + 1):
        for idx in torch.randperm(len(pairs)).split(args.batch):
            batch = make_batch([(pairs[i].context, pairs[i].reply) for i in idx.tolist()], pad_id=0)
            mle_update(gen, opt, None, batch, 5.0, AMP)
        curve.append(("mle", epoch, oracle_nll(oracle, gen, args.eval_samples)))
        log(f"seed {seed} MLE epoch {epoch}: oracle NLL {curve[-1][2]:.4f}")
    after_mle = curve[-1][2]
    # The control Caccia et al. ask for: the same MLE model, only sampled colder.
    colder = {str(t): round(oracle_nll(oracle, gen, args.eval_samples, t), 4) for t in args.mle_temperatures}

    loop = LoopConfig(
        max_steps=args.adv_epochs * args.rounds_per_epoch, micro_batch_size=args.batch,
        learning_rate=args.adv_lr, warmup_steps=0, min_lr_ratio=1.0, weight_decay=0.0, beta2=0.999,
        grad_clip=5.0, checkpoint_every=0, progress=False, device="cpu", resume=False, seed=seed,
    )  # fmt: skip
    cfg = GANConfig(
        output_dir=work / f"seed{seed}", credit=args.credit, kl_coef=args.kl_coef,
        teacher_forcing_every=args.teacher_forcing_every, max_new_tokens=LENGTH, collapse_reward=0.0,
        patience=10**9, discriminator_lr=args.disc_lr, train=loop,
    )  # fmt: skip
    disc = Discriminator(LSTMBackbone(VOCAB, 64, 64))
    trainer = GANTrainer(gen, copy.deepcopy(gen), disc, pairs, cfg, pad_id=0, eos_id=None)
    cpu = torch.device("cpu")
    d_acc = []
    for _ in range(args.disc_pretrain_steps):  # the discriminator learns before the generator moves
        idx = torch.randint(len(pairs), (args.batch,)).tolist()
        human = make_batch([(pairs[i].context, pairs[i].reply) for i in idx], pad_id=0)
        fake, _ = sample_replies(gen, [[START]] * args.batch, max_new_tokens=LENGTH, temperature=1.0,
                                 eos_id=None, pad_id=0, device=cpu)  # fmt: skip
        d_acc.append(
            discriminator_update(trainer.d_net, trainer.d_opt, human, fake, cfg.credit, 5.0, AMP)["d_acc"]
        )
    rewards = []
    for epoch in range(1, args.adv_epochs + 1):
        for _ in range(args.rounds_per_epoch):
            rec = trainer.train_step()
            why = trainer.check(rec)
            if why is not None:
                raise SystemExit(f"seed {seed}: adversarial training diverged: {why}")
            rewards.append(rec["reward"])
        curve.append(("adv", args.mle_epochs + epoch, oracle_nll(oracle, gen, args.eval_samples)))
        log(f"seed {seed} adversarial epoch {epoch}: oracle NLL {curve[-1][2]:.4f}, reward {rewards[-1]:.3f}")
    return {
        "seed": seed, "after_mle": round(after_mle, 4), "after_adversarial": round(curve[-1][2], 4),
        "best_adversarial": round(min(c[2] for c in curve if c[0] == "adv"), 4),
        "mle_at_temperature": colder,
        "disc_pretrain_acc": round(sum(d_acc[-10:]) / max(len(d_acc[-10:]), 1), 3),
        "reward_first_last": [round(sum(rewards[:20]) / 20, 3), round(sum(rewards[-20:]) / 20, 3)],
        "curve": [(phase, e, round(v, 4)) for phase, e, v in curve],
    }  # fmt: skip


def plot(runs: list[dict[str, object]], entropy: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for run in runs:
        curve = run["curve"]
        assert isinstance(curve, list)
        ax.plot([c[1] for c in curve], [c[2] for c in curve], lw=1.2, label=f"seed {run['seed']}")
    switch = next(c[1] for c in runs[0]["curve"] if c[0] == "adv") - 1  # type: ignore[union-attr]
    ax.axvline(switch, color="grey", ls="--", lw=1)
    ax.text(switch, ax.get_ylim()[1], " adversarial ->", va="top", fontsize=8)
    ax.axhline(entropy, color="green", ls=":", lw=1, label=f"oracle's own samples ({entropy:.3f})")
    ax.axhline(PAPER["SeqGAN"], color="red", ls=":", lw=1, label="SeqGAN paper, Table 1 (8.736)")
    ax.axhline(PAPER["MLE"], color="orange", ls=":", lw=1, label="paper's MLE (9.038)")
    ax.set_xlabel("epoch (MLE: one pass over 10,000 sequences; adversarial: rounds-per-epoch updates)")
    ax.set_ylabel("oracle NLL per token (nats)")
    ax.set_ylim(top=min(ax.get_ylim()[1], 11.0))
    ax.set_title("SeqGAN synthetic oracle, length 20: oracle NLL of generator samples")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--oracle-seed", type=int, default=2017)
    p.add_argument("--sequences", type=int, default=10_000)
    p.add_argument("--eval-samples", type=int, default=2_000)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--mle-epochs", type=int, default=6)
    p.add_argument("--mle-lr", type=float, default=1e-2)
    p.add_argument("--disc-pretrain-steps", type=int, default=300)
    p.add_argument("--adv-epochs", type=int, default=8)
    p.add_argument("--rounds-per-epoch", type=int, default=10)
    p.add_argument("--adv-lr", type=float, default=1e-3)
    p.add_argument("--disc-lr", type=float, default=5e-3)
    p.add_argument("--credit", choices=["partial", "sequence"], default="partial")
    p.add_argument("--kl-coef", type=float, default=0.0)
    p.add_argument("--teacher-forcing-every", type=int, default=0)
    p.add_argument("--mle-temperatures", type=float, nargs="*", default=[0.9, 0.8])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--plot", type=Path, default=Path(__file__).with_suffix(".png"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    oracle = make_oracle(VOCAB, SIZE, SIZE, seed=args.oracle_seed)
    torch.manual_seed(10_000 + args.oracle_seed)
    entropy = float(nll_per_token(oracle, sample_sequences(oracle, args.eval_samples, LENGTH)).mean())
    # One training set for every seed, as in SeqGAN (its data file is fixed); seeds vary the rest.
    real = sample_sequences(oracle, args.sequences, LENGTH)
    pairs = [Pair([], [START], row) for row in real.tolist()]
    with tempfile.TemporaryDirectory() as work:
        runs = [run_seed(s, oracle, pairs, args, Path(work)) for s in args.seeds]
    plot(runs, entropy, args.plot)
    mean = {
        k: round(sum(float(r[k]) for r in runs) / len(runs), 4) for k in ("after_mle", "after_adversarial")
    }  # type: ignore[arg-type]
    out = {
        "bench": "seqgan_oracle", "oracle_own_samples_nll": round(entropy, 4),
        "log_vocab": round(math.log(VOCAB), 4),
        "mean_after_mle": mean["after_mle"], "mean_after_adversarial": mean["after_adversarial"],
        "gain": round(mean["after_mle"] - mean["after_adversarial"], 4), "paper_table1": PAPER,
        "runs": [{k: v for k, v in r.items() if k != "curve"} for r in runs],
        "settings": {k: v for k, v in vars(args).items() if k != "plot"}, "plot": str(args.plot),
        "wall_s": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    print(json.dumps(out))


if __name__ == "__main__":
    main()
