"""``botkit train ...``: the training stages from the command line.

``botkit train tokenizer|pretrain|sft|eval --config FILE`` runs one stage; ``botkit train pipeline
--config FILE`` runs them all into one directory. Under ``torchrun`` the training stages run with DDP:
``torchrun --nproc-per-node 2 -m botkit.training.cli pretrain --config FILE``. Imports of torch and the stage
modules happen inside the handlers, so registering the command costs nothing at start-up.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

UNFINISHED = 75  # exit status of a pipeline run that stopped at a time budget (sysexits' EX_TEMPFAIL: retry)

STAGE_HELP = {
    "tokenizer": "train a byte-level BPE tokenizer with botkit's chat template",
    "pretrain": "causal-LM pretraining on plain text (torchrun for DDP)",
    "sft": "fine-tune on dialogues, loss on assistant tokens (full or LoRA)",
    "eval": "perplexity and reply quality on held-out dialogues -> eval.json, eval.md",
    "gan": "adversarial training against a human-vs-generated discriminator (after sft)",
    "pipeline": "tokenizer, pretrain, sft, eval into one directory, skipping finished stages",
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``train`` command and its stages to a CLI's sub-parsers (``botkit.commands`` entry point)."""
    train = subparsers.add_parser(
        "train",
        help="train a tokenizer or a dialogue model (see training/README.md)",
        description="Train a tokenizer or a dialogue model, one stage or the whole pipeline.",
    )
    add_stages(train)


def add_stages(parser: argparse.ArgumentParser) -> None:
    """Add one sub-command per stage, and the importers, to ``parser``."""
    stages = parser.add_subparsers(dest="train_command", metavar="STAGE", required=True)
    for name, text in STAGE_HELP.items():
        p = stages.add_parser(name, help=text, description=text)
        p.add_argument(
            "--config", required=True, metavar="FILE", help="TOML or YAML config (see training/presets)"
        )
        if name == "eval":
            p.add_argument("--model", metavar="DIR", help="model directory (overrides model_dir)")
        p.set_defaults(handler=_stage(name))
    from botkit.training.compress.command import add_command as add_vae

    add_vae(stages, _guard)
    from botkit.training.judge.command import add_commands as add_judge

    add_judge(stages, _guard)
    from botkit.training.gan.command import add_command as add_eval_gan

    add_eval_gan(stages, _guard)
    imp = stages.add_parser("import-chatterbot", help="write chatterbot-corpus conversations as chat JSONL")
    imp.add_argument(
        "--languages", nargs="+", default=["english"], help="corpus folders, e.g. english chinese"
    )
    imp.add_argument("--out", required=True, help="output JSONL file")
    imp.add_argument("--system", default="", help="system prompt put first in each dialogue")
    imp.set_defaults(handler=_import_chatterbot)
    csv_p = stages.add_parser("import-csv", help="write a question/answer CSV as chat JSONL")
    csv_p.add_argument("csv", help="CSV file with a header row")
    csv_p.add_argument("--out", required=True, help="output JSONL file")
    csv_p.add_argument("--question-column", default="question")
    csv_p.add_argument("--answer-column", default="answer")
    csv_p.set_defaults(handler=_import_csv)
    cc = stages.add_parser(
        "import-chitchat", help="write the chitchat-dataset conversations (MIT, BYU PCC lab) as chat JSONL"
    )
    cc.add_argument("--out", required=True, help="output JSONL file")
    cc.add_argument("--file", help="a file in the dataset's format (default: the installed package's)")
    cc.add_argument("--system", default="", help="system prompt put first in each dialogue")
    cc.set_defaults(handler=_import_chitchat)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m botkit.training.cli STAGE ...`` (what ``torchrun -m`` runs)."""
    parser = argparse.ArgumentParser(
        prog="python -m botkit.training.cli", description="Run one training stage or the pipeline."
    )
    add_stages(parser)
    args = parser.parse_args(argv)
    return int(args.handler(args))


def _stage(name: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        return _guard(lambda: _run_stage(name, args))

    return handler


def _run_stage(name: str, args: argparse.Namespace) -> int:
    # Each config is validated before its stage module (and torch) is imported: a typo fails at once.
    from botkit.training import config
    from botkit.training.config_file import load

    path = Path(args.config)
    if name == "tokenizer":
        tokenizer_cfg = load(config.TokenizerConfig, path, section=name)
        from botkit.training.tokenizer import train_tokenizer

        train_tokenizer(tokenizer_cfg)
    elif name == "pretrain":
        pretrain_cfg = load(config.PretrainConfig, path, section=name)
        from botkit.training.pretrain import run_pretrain

        run_pretrain(pretrain_cfg)
    elif name == "sft":
        sft_cfg = load(config.SFTConfig, path, section=name)
        from botkit.training.sft import run_sft

        run_sft(sft_cfg)
    elif name == "eval":
        eval_cfg = load(config.EvalConfig, path, section=name)
        if args.model:
            eval_cfg.model_dir = Path(args.model)
        from botkit.training.evaluate import run_eval

        result = run_eval(eval_cfg)
        d = result.get("dialogue", {})
        where = eval_cfg.output_dir or eval_cfg.model_dir
        print(f"perplexity={d.get('perplexity')} unigram_f1={d.get('unigram_f1')} -> {where}")
    elif name == "gan":
        gan_cfg = load(config.GANConfig, path, section=name)
        from botkit.training.gan.stage import run_gan

        summary = run_gan(gan_cfg)
        print(f"gan: {summary['steps']} steps, mean reward {summary.get('reward')} -> {gan_cfg.output_dir}")
    elif name == "pipeline":
        pipeline_cfg = load(config.PipelineConfig, path)
        from botkit.training.pipeline import run_pipeline

        report = run_pipeline(pipeline_cfg)
        if "unfinished" in report:
            stage = report["unfinished"]
            print(
                f"botkit train: {stage} stopped at its time budget (max_minutes) before its last step; "
                "run the same command again to continue it from its checkpoint",
                file=sys.stderr,
            )
            return UNFINISHED
    return 0


def _guard(fn: Callable[[], int]) -> int:
    """Run a handler; known failures become one ``botkit train:`` line and exit code 2 (config) or 1."""
    from botkit.config import ConfigError
    from botkit.training.outputs import OutputError
    from botkit.training.records import DataError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return fn()
    except ConfigError as exc:
        print(f"botkit train: {exc}", file=sys.stderr)
        return 2
    except (DataError, OutputError, FileNotFoundError, ValueError) as exc:
        print(f"botkit train: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last checkpoint", file=sys.stderr)
        return 130
    finally:
        from botkit.training.distributed import teardown

        if "torch" in sys.modules:
            teardown()


def _import_chatterbot(args: argparse.Namespace) -> int:
    def run() -> int:
        from botkit.training.importers import import_chatterbot

        n = import_chatterbot(Path(args.out), args.languages, args.system or None)
        print(f"wrote {n} dialogues to {args.out}")
        return 0

    return _guard(run)


def _import_csv(args: argparse.Namespace) -> int:
    def run() -> int:
        from botkit.training.importers import import_qa_csv

        n = import_qa_csv(Path(args.out), Path(args.csv), args.question_column, args.answer_column)
        print(f"wrote {n} dialogues to {args.out}")
        return 0

    return _guard(run)


def _import_chitchat(args: argparse.Namespace) -> int:
    def run() -> int:
        from botkit.training.importers import import_chitchat

        source = Path(args.file) if args.file else None
        n = import_chitchat(Path(args.out), source, args.system or None)
        print(f"wrote {n} dialogues to {args.out}")
        return 0

    return _guard(run)


if __name__ == "__main__":
    sys.exit(main())
