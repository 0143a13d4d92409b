"""``botkit train vae --model DIR --bits B --out DIR``: the command line of the compression stage.

Kept apart from ``stage.py`` so that building the parser imports neither torch nor transformers.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

HELP = "compress a model's weights (learned codebooks, or the gptq/rtn baselines) into a servable directory"


def add_command(
    stages: argparse._SubParsersAction[argparse.ArgumentParser], guard: Callable[[Callable[[], int]], int]
) -> None:
    """Add ``vae`` to the ``botkit train`` stages; ``guard`` turns known failures into one line."""
    p = stages.add_parser("vae", help=HELP, description=HELP)
    p.add_argument("--model", metavar="DIR", help="model directory to compress (overrides model_dir)")
    p.add_argument("--out", metavar="DIR", help="output directory (overrides output_dir)")
    p.add_argument(
        "--bits", type=int, help="vq: codebooks (bits per weight before scales); gptq/rtn: code bits"
    )
    p.add_argument("--method", choices=["vq", "gptq", "rtn", "float"], help="default vq")
    p.add_argument("--group-size", type=int, help="gptq/rtn: columns per grid (0 = per output channel)")
    p.add_argument(
        "--tune-steps",
        type=int,
        metavar="N",
        help="end-to-end tuning steps, codes fixed (KL to the float model; 0 = none; default 100)",
    )
    p.add_argument(
        "--tune-baselines",
        action="store_true",
        default=None,
        help="gptq/rtn: tune their scales and norms end to end too",
    )
    p.add_argument("--config", metavar="FILE", help="TOML or YAML with the stage's settings (section [vae])")
    p.set_defaults(handler=lambda args: guard(lambda: run(args)))


def run(args: argparse.Namespace) -> int:
    """Validate the settings, then compress (importing torch only now)."""
    from botkit.training.config import VAEConfig
    from botkit.training.config_file import load

    cfg = load(VAEConfig, Path(args.config), section="vae") if args.config else VAEConfig()
    overrides = {"model_dir": args.model, "output_dir": args.out, "bits": args.bits}
    overrides.update(method=args.method, group_size=args.group_size, tune_steps=args.tune_steps)
    overrides.update(tune_baselines=args.tune_baselines)
    given = {key: value for key, value in overrides.items() if value is not None}
    if not args.config and not {"model_dir", "output_dir"} <= set(given):
        raise ValueError("name the model and the output: --model DIR --out DIR (or --config FILE)")
    cfg = VAEConfig.model_validate({**cfg.model_dump(), **given})
    if not (Path(cfg.model_dir) / "config.json").is_file():
        raise FileNotFoundError(f"{cfg.model_dir} is not a model directory (it has no config.json)")
    from botkit.training.compress.stage import run_vae

    manifest = run_vae(cfg)
    size, original = manifest["size_on_disk_bytes"], manifest["original_size_on_disk_bytes"]
    print(
        f"{manifest['method']}: {manifest['bits_per_weight']:.3f} bits/weight, "
        f"{size:,} bytes on disk (original {original:,}) -> {cfg.output_dir}"
    )
    return 0
