"""``botkit train eval-gan``: the adversarial stage judged on dialogue (``evaluate.py``), its command line.

Kept apart from the measuring modules so that building the parser imports neither torch nor transformers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from botkit.training.judge.command import held_out_data

EVAL_GAN_HELP = (
    "GAN stage vs continued MLE from one model, temperature sweeps on held-out dialogues "
    "-> eval_gan.json, eval_gan.md, eval_gan.png"
)


def add_command(
    stages: argparse._SubParsersAction[argparse.ArgumentParser], guard: Callable[[Callable[[], int]], int]
) -> None:
    """Add ``eval-gan`` to the ``botkit train`` stages."""
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
        data=held_out_data(args),
    )
    result = run_eval_gan(opts)
    print(result["verdict"]["words"])
    print(f"-> {args.out}/eval_gan.md ({result['wall_s']} s)")
    return 0
