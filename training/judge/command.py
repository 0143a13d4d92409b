"""``botkit train compare`` and ``tune-generation``: the judge's command line (``eval-gan`` is the GAN
stage's: ``training/gan/command.py``).

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


def held_out_data(args: argparse.Namespace) -> DataConfig:
    """The sources whose held-out split is judged: ``--data PRESET``'s ``[sft.data]``, or the judge's."""
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
        data=held_out_data(args),
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
        data=held_out_data(args),
    )
    report = run_tune(opts)
    print(f"chosen: {report['chosen']} ({report['why']})")
    return 0
