"""The GAN stage against continued MLE on the shipped model: ``botkit train eval-gan``, as run for the README.

Runs ``botkit train eval-gan`` (``training/gan/evaluate.py``) on ``botkit/data/default-model`` with
``training/presets/gan_eval.toml`` into a scratch directory (the arms' models are large), copies
``eval_gan.json``, ``eval_gan.md`` and ``eval_gan.png`` beside this file under ``gan_dialogue/``, and
prints one JSON line: the verdicts, bits per byte per model, the compute per arm and the wall time.

    OMP_NUM_THREADS=1 nice -n 15 python bench/gan_dialogue.py [--seeds 0 1 2] [--steps 40] [--contexts 60]

The defaults are the README's run (sized to finish in about 45 minutes on two CPU cores shared with a
training run); extra arguments after ``--`` go to ``eval-gan`` unchanged (e.g. ``-- --with-start``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=REPO / "botkit" / "data" / "default-model")
    parser.add_argument("--config", type=Path, default=REPO / "training" / "presets" / "gan_eval.toml")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--contexts", type=int, default=60)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.5, 0.8, 1.1, 1.4])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, help="where the arms' runs go (default: a temporary folder)")
    parser.add_argument("--report", type=Path, default=Path(__file__).resolve().parent / "gan_dialogue")
    args, extra = parser.parse_known_args()
    from botkit.training import cli

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gan_dialogue_") as tmp:
        work = args.work or Path(tmp)
        argv = ["eval-gan", "--model", str(args.model), "--config", str(args.config), "--out", str(work),
                "--seeds", *map(str, args.seeds), "--steps", str(args.steps),
                "--contexts", str(args.contexts),
                "--temperatures", *map(str, args.temperatures), "--threads", str(args.threads),
                *[a for a in extra if a != "--"]]  # fmt: skip
        code = cli.main(argv)
        if code:
            return code
        args.report.mkdir(parents=True, exist_ok=True)
        for name in ("eval_gan.json", "eval_gan.md", "eval_gan.png"):
            shutil.copyfile(work / name, args.report / name)
    result = json.loads((args.report / "eval_gan.json").read_text(encoding="utf-8"))
    v, agg = result["verdict"], result["aggregate"]
    print(json.dumps({
        "f1_at_distinct2": v["f1_at_distinct2"]["call"],
        "bleu2_at_self_bleu4": v["bleu_at_self_bleu"]["call"],
        "bits_per_byte": {n: m["bits_per_byte"] for n, m in agg.items()},
        "training": {r["seed"]: r["training"] for r in result["runs"]},
        "seeds": result["settings"]["seeds"], "gan_steps": result["settings"]["gan_steps"],
        "wall_s": round(time.perf_counter() - started, 1),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
