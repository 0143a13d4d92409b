"""``botkit kb add PATH... | list | remove ID | search QUESTION | reindex | tune | calibrate --heldout FILE``:
the knowledge base from a shell.

Registered through the ``botkit.commands`` entry points; heavy imports (the embedding model) happen inside
the commands. Exit codes: 0 done; 1 a file could not be added (the others were), a document or a question
was refused, or the knowledge base could not be opened; 2 the configuration is wrong.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botkit.kb.knowledge import KnowledgeBase


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``botkit kb`` and its sub-commands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "kb",
        help="the knowledge base: add documents, list, remove, search, reindex, tune, calibrate",
        description="Add company documents (Markdown, text, HTML, CSV FAQ, PDF) and ask them questions.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    add = _command(commands, "add", "add files or folders (a changed file replaces its earlier version)")
    add.add_argument("paths", nargs="+", metavar="PATH", help="a file or a folder (read recursively)")
    add.set_defaults(handler=_add)

    _command(commands, "list", "list the documents with their ids").set_defaults(handler=_list)

    remove = _command(commands, "remove", "remove a document and its chunks")
    remove.add_argument("document_id", type=int, metavar="ID", help="the id `botkit kb list` shows")
    remove.set_defaults(handler=_remove)

    search = _command(commands, "search", "answer a question and show the passages retrieved")
    search.add_argument("question")
    search.add_argument("-k", type=int, default=5, help="passages to show (default 5)")
    search.add_argument("--method", choices=("fused", "dense", "bm25"), default="fused")
    search.set_defaults(handler=_search)

    reindex = _command(commands, "reindex", "embed every chunk again (after changing kb.model_dir)")
    reindex.set_defaults(handler=_reindex)

    tune = _command(
        commands, "tune", "adapt the embedding model to the knowledge base (a few minutes), then re-embed"
    )
    tune.add_argument("--epochs", type=int, default=3, help="passes over the knowledge base's pairs (3)")
    tune.add_argument("--seed", type=int, default=0, help="the run's seed (0)")
    tune.add_argument(
        "--questions",
        metavar="FILE",
        help="also learn from questions people asked, labelled with what answers them, and calibrate on them "
        "(scored out of fold, three tunes): the --heldout file of `kb calibrate`",
    )
    tune.set_defaults(handler=_tune)

    calibrate = _command(
        commands,
        "calibrate",
        "fit the ranking weights and the confidence threshold on your own held-out questions",
    )
    calibrate.add_argument(
        "--heldout",
        required=True,
        metavar="FILE",
        help='questions in CLINC150\'s JSON layout: {"val": [[question, citation], ...], '
        '"oos_val": [[question, "oos"], ...]} (citations as `botkit kb search` prints them)',
    )
    calibrate.add_argument(
        "--equivalents",
        metavar="FILE",
        help='optional: {"citation": ["another citation that states the same answer", ...]}; a question '
        "whose top chunk is one of its label's equivalents counts as answered",
    )
    calibrate.set_defaults(handler=_calibrate)
    return parser


def _command(commands: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(kb_command=name)
    parser.add_argument(
        "--config", metavar="FILE", help="botkit.toml (default: $BOTKIT_CONFIG or ./botkit.toml)"
    )
    return parser


class _Failed(Exception):
    """One line for stderr and the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _open(args: argparse.Namespace) -> KnowledgeBase:
    from sqlalchemy.exc import SQLAlchemyError

    from botkit.config import ConfigError, load_settings
    from botkit.kb.knowledge import open_knowledge_base

    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        raise _Failed(f"botkit kb: {exc}", 2) from None
    try:
        return open_knowledge_base(settings)
    except SQLAlchemyError as exc:
        raise _Failed(f"botkit kb: cannot open the database: {exc.__class__.__name__}: {exc}") from None


def _run(args: argparse.Namespace, work: Any) -> int:
    from botkit.kb.errors import KBError

    try:
        return int(work(_open(args), args))
    except _Failed as exc:
        print(exc, file=sys.stderr)
        return exc.code
    except (KBError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"botkit kb {args.kb_command}: {message}", file=sys.stderr)
        return 1


class _Bar:
    """A tqdm bar on stderr, made when the total is first known."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.bar: Any = None  # a tqdm bar (tqdm ships no type hints)

    def __call__(self, done: int, total: int, name: str) -> None:
        from tqdm import tqdm  # type: ignore[import-untyped]  # types-tqdm is not a dependency

        if self.bar is None:
            self.bar = tqdm(total=total, unit=self.unit, file=sys.stderr, dynamic_ncols=True)
        self.bar.set_postfix_str(name, refresh=False)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _add(args: argparse.Namespace) -> int:
    def work(kb: KnowledgeBase, args: argparse.Namespace) -> int:
        bar = _Bar("file")
        try:
            report = kb.add(args.paths, progress=bar)
        finally:
            bar.close()
        for error in report.errors:
            print(f"botkit kb add: {error}", file=sys.stderr)
        print(
            f"added {len(report.added)}, replaced {len(report.replaced)}, unchanged {len(report.unchanged)}, "
            f"failed {len(report.errors)} ({report.chunks} chunks written)"
        )
        return 0 if report.ok else 1

    return _run(args, work)


def _list(args: argparse.Namespace) -> int:
    def work(kb: KnowledgeBase, args: argparse.Namespace) -> int:
        documents = kb.documents()
        if not documents:
            print("the knowledge base is empty: add documents with `botkit kb add PATH`")
            return 0
        print(f"{'ID':>4}  {'KIND':<8} {'CHUNKS':>6}  {'ADDED (UTC)':<16}  NAME")
        for doc in documents:
            added = doc.added_at.strftime("%Y-%m-%d %H:%M")
            link = f"  <{doc.url}>" if doc.url else ""
            print(
                f"{doc.id:>4}  {doc.kind:<8} {doc.chunks:>6}  {added:<16}  {doc.name}{link}  ({doc.source})"
            )
        return 0

    return _run(args, work)


def _remove(args: argparse.Namespace) -> int:
    def work(kb: KnowledgeBase, args: argparse.Namespace) -> int:
        names = {doc.id: doc.name for doc in kb.documents()}
        kb.remove(args.document_id)
        print(f"removed document {args.document_id} ({names.get(args.document_id, '?')})")
        return 0

    return _run(args, work)


def _search(args: argparse.Namespace) -> int:
    def work(kb: KnowledgeBase, args: argparse.Namespace) -> int:
        answer = kb.answer_now(args.question, method=args.method)
        print(f"{answer.kind} (confidence {answer.confidence:.3f}, threshold {kb.settings.threshold:.3f})")
        if answer.text is not None:
            print(answer.text)
            for source in answer.sources:
                print(f"  source: {source.label()}" + (f" <{source.url}>" if source.url else ""))
        print("retrieved:")
        for rank, hit in enumerate(kb.search(args.question, args.k, method=args.method), start=1):
            dense = f"{hit.dense:.3f}" if hit.dense is not None else "-"
            bm25 = f"{hit.bm25:.2f}" if hit.bm25 is not None else "-"
            print(f"{rank:>3}. {hit.source.label()}  (score {hit.score:.4f}, cosine {dense}, bm25 {bm25})")
        return 0

    return _run(args, work)


def _reindex(args: argparse.Namespace) -> int:
    def work(kb: KnowledgeBase, args: argparse.Namespace) -> int:
        bar = _Bar("chunk")
        try:
            count = kb.reindex(progress=bar)
        finally:
            bar.close()
        print(f"embedded {count} chunks again")
        return 0

    return _run(args, work)


def _tune(args: argparse.Namespace) -> int:
    def work(kb: KnowledgeBase, args: argparse.Namespace) -> int:
        from pathlib import Path

        from botkit.kb.heldout import tune_and_calibrate
        from botkit.kb.tune import TuneConfig

        if args.epochs < 1:
            raise ValueError("--epochs must be at least 1")
        config = TuneConfig(epochs=args.epochs, seed=args.seed)
        bar = _Bar("step")
        try:
            if args.questions:
                report, _ = tune_and_calibrate(kb, Path(args.questions), config, progress=bar)
            else:
                report = kb.tune(config, progress=bar)
        finally:
            bar.close()
        also = f" and the questions of {args.questions}" if args.questions else ""
        print(
            f"tuned on {report.pairs} pairs from the knowledge base{also} in {report.steps} steps "
            f"({report.seconds:.0f} s, loss {report.first_loss:.3f} -> {report.last_loss:.3f}); "
            f"saved to {report.model_dir}; every chunk embedded again with it"
        )
        if args.questions:
            print(
                f"calibrated on those questions, each scored by a model tuned without it: saved to "
                f"{kb.calibration_file}"
            )
        elif kb.calibration_file is not None and kb.calibration_file.is_file():
            print(
                f"{kb.calibration_file} was fitted with the model before: run `botkit kb calibrate --heldout "
                "FILE` again (or delete it to use the shipped calibration of tuned models)"
            )
        return 0

    return _run(args, work)


def _calibrate(args: argparse.Namespace) -> int:
    def work(kb: KnowledgeBase, args: argparse.Namespace) -> int:
        from pathlib import Path

        from botkit.kb.equivalents import read_equivalents
        from botkit.kb.heldout import calibrate

        equivalents = read_equivalents(Path(args.equivalents)) if args.equivalents else None
        fitted = calibrate(kb, Path(args.heldout), equivalents=equivalents)
        weights = ", ".join(f"{w:.3g}" for w in fitted.rank)
        print(
            f"calibrated on {args.heldout}: ranking weights ({weights}), its threshold is confidence 0.5 "
            "(kb.threshold's default); "
            f"saved to {kb.calibration_file} (delete it to go back to the shipped calibration)"
        )
        return 0

    return _run(args, work)
