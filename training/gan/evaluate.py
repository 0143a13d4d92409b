"""``botkit train eval-gan``: does the GAN stage beat continued MLE given the same generator updates?

For each seed: the GAN stage runs from the fine-tuned model for ``steps`` steps, and continued MLE runs
from it for as many generator updates (``evaluate_arms.py`` says how the compute is matched). Both
models, and optionally the starting one, then answer the same contexts of the judge's held-out *test*
half (``training/judge/data.py``), by pure temperature sampling (top-k and top-p off, no repetition
penalty: the protocol of Caccia et al. 2020) at every temperature of the sweep. Per model and
temperature: unigram F1 and corpus BLEU-2 and BLEU-4 against the references (quality), distinct-1/2
and self-BLEU-4 (diversity), and the accuracy of a freshly trained discriminator telling the replies
from the human ones (``discriminator_test.py``); per model, held-out bits per byte (no sampling, so
no temperature). ``evaluate_report.py`` aggregates the seeds, applies the verdict rule and writes
``eval_gan.json``, ``eval_gan.md`` and ``eval_gan.png``. The arms' models and logs stay under
``OUT/runs/seed<s>/``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from botkit.training.config import DataConfig, GANConfig
from botkit.training.gan import evaluate_arms as arms
from botkit.training.gan.batch import training_pairs
from botkit.training.judge.data import JUDGE_DATA, HeldOut, Messages, load_held_out, reply_cases

log = logging.getLogger(__name__)

TEMPERATURES = (0.5, 0.7, 0.9, 1.1, 1.3, 1.5)
SEED_STRIDE = 1_000_003  # sampling seeds of run s start at s * this: no two runs share a request's seed


@dataclass
class EvalGANOptions:
    """What ``botkit train eval-gan`` runs and measures.

    Attributes:
        model: the fine-tuned model both arms start from.
        gan: the GAN stage settings (its ``init_from`` and ``output_dir`` are replaced per arm and seed).
        out: the report directory (the arms' runs go under ``out/runs``).
        seeds: one training and sampling seed per repetition.
        steps: GAN steps per seed (None: ``gan.train.max_steps``).
        temperatures: the sampling temperatures swept.
        contexts: held-out reply contexts to answer (spread evenly over the test half).
        per_dialogue: reply contexts taken from each held-out dialogue before spreading.
        max_new_tokens: longest reply when measuring.
        threads: torch threads (0: torch's default).
        with_start: also measure the starting model (a third curve; not part of the verdict).
        data: the sources whose held-out split is the judge's.
    """

    model: Path
    gan: GANConfig
    out: Path
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    steps: int | None = None
    temperatures: tuple[float, ...] = TEMPERATURES
    contexts: int = 100
    per_dialogue: int = 2
    max_new_tokens: int = 40
    threads: int = 0
    with_start: bool = False
    data: DataConfig = field(default_factory=lambda: JUDGE_DATA)


def check_model_dir(path: Path) -> None:
    """Refuse a directory that is not a model with its tokenizer, before any work.

    Raises:
        FileNotFoundError: no ``config.json``, or no tokenizer files beside it.
    """
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{path} is not a model directory (it has no config.json)")
    if not any((path / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        raise FileNotFoundError(
            f"{path} has no tokenizer (no tokenizer.json or tokenizer_config.json): eval-gan needs the "
            "model's own tokenizer to train both arms and to read the held-out text"
        )


def held_out_cases(held: HeldOut, contexts: int, per_dialogue: int) -> tuple[list[Messages], list[str]]:
    """Up to ``contexts`` (context, reference) pairs of the test half, spread evenly over its dialogues.

    Raises:
        ValueError: the test half has no reply to score.
    """
    cases: list[tuple[Messages, str]] = []
    for dialogues in held.sets("test").values():
        cases += reply_cases(dialogues, per_dialogue)
    if not cases:
        raise ValueError("the test half of the held-out split has no dialogue with a reply to score")
    if contexts and len(cases) > contexts:
        cases = [cases[i * len(cases) // contexts] for i in range(contexts)]
    return [c for c, _ in cases], [r for _, r in cases]


def run_eval_gan(opts: EvalGANOptions) -> dict[str, Any]:
    """Train both arms for every seed, measure the sweeps, write the report; returns ``eval_gan.json``.

    ``wall_s`` is the sum of the seeds' wall times (training both arms and measuring every model).
    """
    import torch

    from botkit.training.gan.evaluate_report import write_report

    check_model_dir(opts.model)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    steps = opts.steps if opts.steps is not None else opts.gan.train.max_steps
    held = load_held_out(opts.data)
    contexts, refs = held_out_cases(held, opts.contexts, opts.per_dialogue)
    sources = _dialogues_of(held, contexts)
    what = [opts.gan.model_dump(mode="json"), steps, opts.temperatures, contexts, refs]
    key = json.dumps([str(opts.model), *what, opts.max_new_tokens, opts.with_start], default=str)
    runs: list[dict[str, Any]] = []
    for seed in opts.seeds:
        # A finished seed is kept (runs/seed<s>/seed.json, valid for these settings only), so rerunning
        # the same command after a stop continues with the next seed; the report is rewritten after
        # every seed, so a stopped run leaves the seeds it finished reported.
        done = opts.out / "runs" / f"seed{seed}" / "seed.json"
        saved = json.loads(done.read_text(encoding="utf-8")) if done.is_file() else {}
        if saved.get("key") == key:
            log.info("eval-gan: seed %d: done before (%s)", seed, done)
            runs.append(saved["run"])
        else:
            t0 = time.perf_counter()
            run = _one_seed(opts, seed, steps, held, contexts, refs, sources)
            run["wall_s"] = round(time.perf_counter() - t0, 1)
            done.write_text(json.dumps({"key": key, "run": run}, ensure_ascii=False) + "\n", encoding="utf-8")
            runs.append(run)
        result = _result(opts, steps, held, contexts, refs, sources, runs)
        result["wall_s"] = round(sum(r["wall_s"] for r in runs), 1)
        write_report(result, opts.out)
    return result


def _result(
    opts: EvalGANOptions,
    steps: int,
    held: HeldOut,
    contexts: list[Messages],
    refs: list[str],
    sources: list[Messages],
    runs: list[dict[str, Any]],
) -> dict[str, Any]:
    import torch

    return {
        "settings": {
            "model": str(opts.model),
            "seeds": [r["seed"] for r in runs],
            "seeds_asked": list(opts.seeds),
            "gan_steps": steps,
            "generator_updates_per_arm": arms.generator_updates(opts.gan, steps),
            "temperatures": list(opts.temperatures),
            "contexts": len(contexts),
            "bits_dialogues": len(sources),
            "max_new_tokens": opts.max_new_tokens,
            "sampling": "pure temperature: top_k 0, top_p 1.0, repetition_penalty 1.0, botkit's engine",
            "held_out": "judge test half (training/judge/data.py), split_seed "
            f"{opts.data.split_seed}, validation_fraction {opts.data.validation_fraction}",
            "gan": opts.gan.model_dump(mode="json", exclude={"init_from", "output_dir"}),
            "torch_threads": torch.get_num_threads(),
        },
        "human": human_measures(held, refs),
        "runs": runs,
    }


def _one_seed(
    opts: EvalGANOptions,
    seed: int,
    steps: int,
    held: HeldOut,
    contexts: list[Messages],
    refs: list[str],
    sources: list[Messages],
) -> dict[str, Any]:
    from botkit.training.pretrain import load_tokenizer

    where = opts.out / "runs" / f"seed{seed}"
    gan_cfg = arms.arm_config(opts.gan, opts.model, where / "gan", seed, steps)
    mle_cfg = arms.arm_config(opts.gan, opts.model, where / "mle", seed, steps)
    log.info("eval-gan: seed %d: GAN arm, %d steps", seed, steps)
    gan = arms.run_gan_arm(gan_cfg)
    gan |= arms.gan_reply_tokens(gan_cfg, training_pairs(gan_cfg, load_tokenizer(opts.model)))
    log.info("eval-gan: seed %d: MLE arm, %d updates", seed, gan["optimizer_steps"])
    mle = arms.run_mle_arm(mle_cfg, arms.generator_updates(opts.gan, steps))
    models = {"gan": where / "gan", "mle": where / "mle"}
    if opts.with_start:
        models = {**models, "start": opts.model}
    measured = {
        name: measure(path, opts, seed, held, contexts, refs, sources) for name, path in models.items()
    }
    keep = ("steps", "optimizer_steps", "contexts", "sampled_reply_tokens", "human_reply_tokens", "wall_s")
    return {
        "seed": seed,
        "training": {
            "gan": {k: gan[k] for k in (*keep, "reward", "d_acc", "kl") if k in gan},
            "mle": {k: mle[k] for k in keep if k in mle},
        },
        "models": measured,
    }


def measure(
    path: Path,
    opts: EvalGANOptions,
    seed: int,
    held: HeldOut,
    contexts: list[Messages],
    refs: list[str],
    sources: list[Messages],
) -> dict[str, Any]:
    """Bits per byte and the temperature sweep of one model directory."""
    from tqdm.auto import tqdm  # type: ignore[import-untyped]

    from botkit.model.loader import load_model
    from botkit.training.judge import bleu, measures
    from botkit.training.judge.discriminator_test import discriminator_accuracy
    from botkit.types import SamplingParams

    lm = load_model(path, device="cpu", dtype="float32")
    bits = measures.assistant_bits(lm, sources).summary()
    keys = [json.dumps(c, ensure_ascii=False) for c in contexts]
    base = SamplingParams(max_new_tokens=opts.max_new_tokens, top_p=1.0, top_k=0, repetition_penalty=1.0)
    sweep = []
    for t in tqdm(opts.temperatures, desc=f"seed {seed} {path.name}", unit="temperature"):
        replies = measures.generate_replies(lm, contexts, replace(base, temperature=t), seed * SEED_STRIDE)
        row: dict[str, Any] = {"temperature": t}
        row |= measures.reply_quality(refs, replies, held.training_utterances)
        row["bleu"] = bleu.corpus_bleu(replies, refs)
        row["bleu_2"] = bleu.corpus_bleu(replies, refs, max_n=2)  # BLEU-4 is mostly 0 on short replies
        row["self_bleu"] = bleu.self_bleu(replies)
        row["discriminator_accuracy"] = discriminator_accuracy(keys, refs, replies, seed=seed).accuracy
        row["examples"] = [{"reference": r, "reply": y} for r, y in zip(refs[:3], replies, strict=False)]
        sweep.append(row)
    return {"path": str(path), "bits_per_byte": bits["bits_per_byte"], "sweep": sweep}


def _dialogues_of(held: HeldOut, contexts: list[Messages]) -> list[Messages]:
    """The test-half dialogues the contexts come from (each once): the text bits per byte is read on."""
    out: list[Messages] = []
    for dialogues in held.sets("test").values():
        for d in dialogues:
            if any(d[: len(c)] == c for c in contexts) and d not in out:
                out.append(d)
    return out


def human_measures(held: HeldOut, refs: list[str]) -> dict[str, Any]:
    """The references' own diversity (the mark the models' replies are set beside)."""
    from botkit.training.judge import bleu, measures

    row: dict[str, Any] = measures.reply_quality(refs, refs, held.training_utterances)
    del row["unigram_f1"], row["unigram_f1_se"]
    row["self_bleu"] = bleu.self_bleu(refs)
    return row
