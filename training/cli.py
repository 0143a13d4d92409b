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


def _stage(name: str) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        return _guard(lambda: _run_stage(name, args))

    return handler


def _run_stage(name: str, args: argparse.Namespace) -> int:
    from botkit.training import config

    path = Path(args.config)
    if name == "tokenizer":
        from botkit.training.tokenizer import TokenizerConfig, train_tokenizer

        train_tokenizer(config.load(TokenizerConfig, path, section=name))
    elif name == "pretrain":
        from botkit.training.pretrain import PretrainConfig, run_pretrain

        run_pretrain(config.load(PretrainConfig, path, section=name))
    elif name == "sft":
        from botkit.training.sft import SFTConfig, run_sft

        run_sft(config.load(SFTConfig, path, section=name))
    elif name == "eval":
        from botkit.training.evaluate import EvalConfig, run_eval

        cfg = config.load(EvalConfig, path, section=name)
        if args.model:
            cfg.model_dir = Path(args.model)
        result = run_eval(cfg)
        d = result.get("dialogue", {})
        where = cfg.output_dir or cfg.model_dir
        print(f"perplexity={d.get('perplexity')} unigram_f1={d.get('unigram_f1')} -> {where}")
    elif name == "pipeline":
        from botkit.training.pipeline import PipelineConfig, run_pipeline

        run_pipeline(config.load(PipelineConfig, path))
    return 0


def _guard(fn: Callable[[], int]) -> int:
    """Run a handler; known failures become one ``error:`` line and exit code 2 (config) or 1."""
    from botkit.training.config import ConfigError
    from botkit.training.corpora import DataError
    from botkit.training.outputs import OutputError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return fn()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (DataError, OutputError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
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


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` command and its sub-commands to a CLI's sub-parsers."""
    train = subparsers.add_parser(
        "train", help="train a tokenizer or a dialogue model (see training/README.md)"
    )
    stages = train.add_subparsers(dest="train_command", metavar="STAGE", required=True)
    helps = {
        "tokenizer": "train a byte-level BPE tokenizer with botkit's chat template",
        "pretrain": "causal-LM pretraining on plain text (torchrun for DDP)",
        "sft": "fine-tune on dialogues, loss on assistant tokens (full or LoRA)",
        "eval": "perplexity and reply quality on held-out dialogues -> eval.json, eval.md",
        "pipeline": "tokenizer, pretrain, sft, eval into one directory, skipping finished stages",
    }
    for name, text in helps.items():
        p = stages.add_parser(name, help=text, description=text)
        p.add_argument(
            "--config", required=True, metavar="FILE", help="TOML or YAML config (see training/presets)"
        )
        if name == "eval":
            p.add_argument("--model", metavar="DIR", help="model directory (overrides model_dir)")
        p.set_defaults(func=_stage(name))
    imp = stages.add_parser("import-chatterbot", help="write chatterbot-corpus conversations as chat JSONL")
    imp.add_argument(
        "--languages", nargs="+", default=["english"], help="corpus folders, e.g. english chinese"
    )
    imp.add_argument("--out", required=True, help="output JSONL file")
    imp.add_argument("--system", default="", help="system prompt put first in each dialogue")
    imp.set_defaults(func=_import_chatterbot)
    csv_p = stages.add_parser("import-csv", help="write a question/answer CSV as chat JSONL")
    csv_p.add_argument("csv", help="CSV file with a header row")
    csv_p.add_argument("--out", required=True, help="output JSONL file")
    csv_p.add_argument("--question-column", default="question")
    csv_p.add_argument("--answer-column", default="answer")
    csv_p.set_defaults(func=_import_csv)


def main(argv: list[str] | None = None) -> int:
    """Entry point for ``python -m botkit.training.cli STAGE ...`` (what ``torchrun -m`` runs)."""
    parser = argparse.ArgumentParser(prog="python -m botkit.training.cli")
    sub = parser.add_subparsers(dest="command")
    register(sub)
    args = parser.parse_args(["train", *(argv if argv is not None else sys.argv[1:])])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
