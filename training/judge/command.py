"""``botkit train compare``, ``tune-generation`` and ``eval-gan``: the judge's command line.

Kept apart from the measuring modules so that building the parser imports neither torch nor transformers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botkit.training.config import DataConfig

COMPARE_HELP = (
    "models side by side on held-out chitchat and dialogues -> compare.json, compare.md, compare.png"
)
TUNE_HELP = "choose temperature, top-p and repetition penalty on held-out (tuning) dialogues"
EVAL_GAN_HELP = (
    "GAN stage vs continued MLE from one model, temperature sweeps on held-out dialogues "
    "-> eval_gan.json, eval_gan.md, eval_gan.png"
)


def add_commands(
    stages: argparse._SubParsersAction[argparse.ArgumentParser], guard: Callable[[Callable[[], int]], int]
) -> None:
    """Add ``compare`` and ``tune-generation`` to the ``botkit train`` stages."""
    p = stages.add_parser("compare", help=COMPARE_HELP, description=COMPARE_HELP)
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="DIR",
        type=Path,
        help="a model directory; repeat it, the first is the baseline",
    )
    p.add_argument("--out", required=True, metavar="DIR", type=Path, help="report directory")
    _common(p)
    p.add_argument("--replies-per-dialogue", type=int, default=3, help="reply contexts per dialogue (3)")
    p.add_argument("--latency-runs", type=int, default=3, help="timed replies per model (3)")
    p.set_defaults(handler=lambda args: guard(lambda: _compare(args)))
    t = stages.add_parser("tune-generation", help=TUNE_HELP, description=TUNE_HELP)
    t.add_argument("--model", required=True, metavar="DIR", type=Path, help="the model directory")
    _common(t)
    t.add_argument(
        "--min-distinct2-ratio",
        type=float,
        default=0.75,
        help="a setting qualifies with distinct-2 >= this x the human references' (0.75)",
    )
    t.add_argument("--out", metavar="FILE", type=Path, help="write the grid and the choice as JSON")
    t.add_argument(
        "--write",
        action="store_true",
        help="write the choice into the model's generation_config.json (default: only report)",
    )
    t.set_defaults(handler=lambda args: guard(lambda: _tune(args)))
    _add_eval_gan(stages, guard)


def _add_eval_gan(
    stages: argparse._SubParsersAction[argparse.ArgumentParser], guard: Callable[[Callable[[], int]], int]
) -> None:
    g = stages.add_parser("eval-gan", help=EVAL_GAN_HELP, description=EVAL_GAN_HELP)
    g.add_argument("--model", required=True, metavar="DIR", type=Path, help="the fine-tuned model")
    g.add_argument(
        "--config",
        required=True,
        metavar="FILE",
        type=Path,
        help="GAN stage settings ([gan]; init_from and output_dir are set per arm), "
        "e.g. training/presets/gan_eval.toml",
    )
    g.add_argument("--out", required=True, metavar="DIR", type=Path, help="report directory (runs/ inside)")
    g.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (0 1 2)")
    g.add_argument("--steps", type=int, help="GAN steps per seed (default: the config's max_steps)")
    g.add_argument(
        "--temperatures",
        type=float,
        nargs="+",
        default=[0.5, 0.7, 0.9, 1.1, 1.3, 1.5],
        help="sampling temperatures swept (0.5 0.7 0.9 1.1 1.3 1.5)",
    )
    g.add_argument("--contexts", type=int, default=100, help="held-out reply contexts (100; 0: all)")
    g.add_argument("--max-new-tokens", type=int, default=40, help="longest reply in tokens (40)")
    g.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    g.add_argument("--with-start", action="store_true", help="also sweep the starting model (a third curve)")
    g.add_argument("--data", metavar="FILE", type=Path, help="as for compare: the held-out split's sources")
    g.set_defaults(handler=lambda args: guard(lambda: _eval_gan(args)))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dialogues", type=int, default=60, help="most dialogues per held-out set (60; 0: all)")
    p.add_argument("--max-new-tokens", type=int, default=40, help="longest reply in tokens (40)")
    p.add_argument("--seed", type=int, default=0, help="sampling and fold seed (0)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument(
        "--data",
        metavar="FILE",
        type=Path,
        help="a pipeline preset whose [sft.data] sources define the held-out split "
        "(default: persona, chatterbot english+chinese, chitchat; training/judge/data.py)",
    )


def _data(args: argparse.Namespace) -> DataConfig:
    from botkit.training.judge.data import JUDGE_DATA

    if args.data is None:
        return JUDGE_DATA
    from botkit.training.config import SFTConfig
    from botkit.training.config_file import load

    return load(SFTConfig, args.data, section="sft").data


def _check_models(paths: list[Path]) -> None:
    for path in paths:
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a model directory (it has no config.json)")


def _compare(args: argparse.Namespace) -> int:
    _check_models(args.model)
    from botkit.training.judge.compare import CompareOptions, run_compare

    opts = CompareOptions(
        models=args.model,
        out=args.out,
        dialogues=args.dialogues,
        replies_per_dialogue=args.replies_per_dialogue,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        latency_runs=args.latency_runs,
        threads=args.threads,
        data=_data(args),
    )
    result = run_compare(opts)
    for name, m in result["models"].items():
        figures = ", ".join(
            f"{s} {m[s]['bits_per_byte']:.3f} bits/byte"
            for s in ("chitchat", "dialogues")
            if m.get(s, {}).get("bits_per_byte") is not None
        )
        print(f"{name}: {figures}")
    print(f"-> {args.out}/compare.md ({result['wall_s']} s)")
    return 0


def _tune(args: argparse.Namespace) -> int:
    _check_models([args.model])
    from botkit.training.judge.tune import TuneOptions, run_tune

    opts = TuneOptions(
        model=args.model,
        dialogues=args.dialogues,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        threads=args.threads,
        min_distinct2_ratio=args.min_distinct2_ratio,
        write=args.write,
        out=args.out,
        data=_data(args),
    )
    report = run_tune(opts)
    print(f"chosen: {report['chosen']} ({report['why']})")
    return 0


def _eval_gan(args: argparse.Namespace) -> int:
    from botkit.training.config import GANConfig
    from botkit.training.config_file import load

    gan = load(GANConfig, args.config, section="gan")  # a bad config fails before torch is imported
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, not {args.steps}")
    if any(t <= 0 for t in args.temperatures):
        raise ValueError(f"temperatures must be positive: {args.temperatures}")
    from botkit.training.gan.evaluate import EvalGANOptions, check_model_dir, run_eval_gan

    check_model_dir(args.model)
    opts = EvalGANOptions(
        model=args.model,
        gan=gan,
        out=args.out,
        seeds=args.seeds,
        steps=args.steps,
        temperatures=tuple(args.temperatures),
        contexts=args.contexts,
        max_new_tokens=args.max_new_tokens,
        threads=args.threads,
        with_start=args.with_start,
        data=_data(args),
    )
    result = run_eval_gan(opts)
    print(result["verdict"]["words"])
    print(f"-> {args.out}/eval_gan.md ({result['wall_s']} s)")
    return 0
