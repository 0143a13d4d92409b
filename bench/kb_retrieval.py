"""Knowledge-base retrieval on held-out questions: dense-only, BM25-only and fused, side by side.

The knowledge base is built in a throw-away SQLite file. Every question of the four splits is answered by
each retriever (``KnowledgeBase.answer``, timed per question); everything that is chosen is chosen on
``val`` + ``oos_val``, and the figures are reported on ``test`` + ``oos_test``. "fused" is what the bot runs:
the settings' ``kb.fusion`` unless ``--fusion`` / ``--bm25-weight`` say otherwise. The default, ``learned``,
is calibrated on ``val`` + ``oos_val`` exactly as ``botkit kb calibrate --heldout FILE`` does
(:mod:`botkit.kb.calibration`: ranking weights, a confidence model and its threshold, folded in so that the
bot's ``kb.threshold`` of 0.5 is the one chosen), once per model; its ``val`` figures are therefore the ones
it was fitted on.

- top-1 / top-3 accuracy: in-scope test questions whose answering chunk is the first / among the first three
  retrieved (whatever the confidence). Each is reported twice: strict (``top1``: the labelled chunk only) and
  with answer equivalents (``top1_equiv``: the labelled chunk or another that states its whole answer, from
  ``--equivalents``, by default ``bench/data/shop_answer_equivalents.json`` for the example KB; see
  :mod:`botkit.kb.equivalents`). The learned fusion is calibrated with the same equivalents;
- out-of-scope recall: OOS questions the bot says it is unsure about (confidence under the threshold), and
  out-of-scope precision: of the questions it is unsure about, those that are out of scope;
- in-scope precision: of the questions it answers (confidence at or over the threshold), those in scope;
  answer precision: of those it answers, those answered with the right chunk; in-scope recall: in-scope
  questions answered;
- latency p50 / p99 of one answer (ms), model loaded, one question at a time.

Threshold rule (on val, for dense, BM25 and the convex and rrf fusions; the calibration's cut for learned
fusion): the lowest threshold at which in-scope precision >= 90% and OOS recall >= 80%; when no threshold
reaches both, the lowest with in-scope precision >= 90%; when none does, the most precise.

Models: the shipped all-MiniLM-L6-v2 ("base_model") and the same after ``botkit kb tune`` on the knowledge
base alone ("methods", what the bot runs once tuned; ``--no-tune`` measures the shipped one only), and, with
``--tune-questions``, one tuned on the in-scope ``val`` questions as well ("questions_model", ``botkit kb
tune --questions``: three tunes, the calibration fitted on each half of val scored by a model tuned on the
other half; its val figures are in-sample, and it gets only the fused row). The example FAQ's alternate
phrasings are used unless ``--no-alternates``.

One JSON line on stdout, a table of both top-1 figures on stderr (``--misses FILE``: the fused retriever's
test misses, with equivalents, as JSON), and a plot of OOS recall against in-scope precision across
thresholds (test).

    python bench/kb_retrieval.py                       # the example shop KB and bench/data/shop_heldout.json
    python bench/kb_retrieval.py --clinc data_full.json  # CLINC150: "train" becomes FAQ entries (question =
                                                         # the utterance, answer = its intent)
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from botkit.config import KBSettings
from botkit.db.engine import open_engine
from botkit.kb import KBAnswer, KBError, KnowledgeBase
from botkit.kb.calibration import FEATURES, SURE
from botkit.kb.equivalents import Equivalents, answered_within, check_known, label_names, read_equivalents
from botkit.kb.heldout import calibrate, tune_and_calibrate
from botkit.kb.index import METHODS, Method
from botkit.kb.tune import TuneConfig, tuned_model_dir

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "bench" / "data" / "shop_heldout.json"
DEFAULT_KB = ROOT / "botkit" / "presets" / "example_kb"
DEFAULT_PLOT = ROOT / "bench" / "kb_retrieval.png"
DEFAULT_EQUIVALENTS = ROOT / "bench" / "data" / "shop_answer_equivalents.json"  # for DEFAULT_KB only
PRECISION_GOAL, RECALL_GOAL, TOP1_GOAL = 0.90, 0.80, 0.90


@dataclass(frozen=True)
class Result:
    """One question answered by one retriever."""

    in_scope: bool
    top1: bool  # strict: the labelled chunk is first
    top3: bool
    top1_equiv: bool  # the labelled chunk or one of its equivalents is first
    top3_equiv: bool
    confidence: float
    ms: float
    first: str = ""  # the first chunk's label


def without_alternates(kb_dir: Path, folder: Path) -> Path:
    """A copy of the knowledge base in ``folder`` with the ``alternates`` column of its FAQ files dropped."""
    copy = folder / "kb-without-alternates"
    shutil.copytree(kb_dir, copy)
    for faq in copy.rglob("*.csv"):
        with faq.open(encoding="utf-8", newline="") as file:
            rows = list(csv.reader(file))
        names = [h.strip().lower() for h in rows[0]] if rows else []
        if "alternates" in names:
            at = names.index("alternates")
            with faq.open("w", encoding="utf-8", newline="") as out:
                csv.writer(out).writerows([c for i, c in enumerate(row) if i != at] for row in rows)
    return copy


def build_kb(args: argparse.Namespace, data: dict[str, Any], folder: Path) -> tuple[KnowledgeBase, bool]:
    """The knowledge base, and whether answers are labelled by their FAQ answer (CLINC's intents)."""
    settings = KBSettings(threshold=0.0)  # every answer is kept; each retriever's threshold is chosen below
    if args.bm25_weight is not None:
        settings.bm25_weight = args.bm25_weight
    if args.fusion is not None:
        settings.fusion = args.fusion
    if args.model_dir is not None:
        settings.model_dir = args.model_dir
    kb = KnowledgeBase(
        open_engine(f"sqlite:///{folder / 'kb.sqlite3'}"),
        settings,
        tuned_dir=tuned_model_dir(folder),
        calibration_file=folder / "kb-calibration.json",
    )
    if args.clinc:
        faq = folder / "train.csv"
        with faq.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["question", "answer"])
            writer.writerows((q, label) for q, label in data["train"])
        paths, by_answer = [faq], True
    else:
        kb_dir = args.kb if args.alternates else without_alternates(args.kb, folder)
        paths, by_answer = [kb_dir], False
    report = kb.add(paths)
    if report.errors:
        sys.exit("bench: the knowledge base could not be built: " + "; ".join(str(e) for e in report.errors))
    return kb, by_answer


def labels(answer: KBAnswer, by_answer: bool) -> list[str]:
    return [(h.text if by_answer else h.source.label()) for h in answer.hits]


async def run(
    kb: KnowledgeBase,
    questions: list[tuple[str, str]],
    method: Method,
    by_answer: bool,
    equivalents: Equivalents | None = None,
) -> list[Result]:
    results = []
    for question, label in questions:
        start = time.perf_counter()
        answer = await kb.answer(question, method=method)
        ms = (time.perf_counter() - start) * 1000
        found = labels(answer, by_answer)
        in_scope = label != "oos"
        results.append(
            Result(
                in_scope,
                in_scope and answered_within(found, label, 1),
                in_scope and answered_within(found, label, 3),
                in_scope and answered_within(found, label, 1, equivalents),
                in_scope and answered_within(found, label, 3, equivalents),
                answer.confidence,
                ms,
                found[0] if found else "",
            )
        )
    return results


def rates(results: list[Result], threshold: float) -> dict[str, float]:
    answered = [r for r in results if r.confidence >= threshold]
    unsure = [r for r in results if r.confidence < threshold]
    oos = [r for r in results if not r.in_scope]
    inside = [r for r in results if r.in_scope]

    def share(part: int, whole: int) -> float:
        return part / whole if whole else 1.0

    return {
        "oos_recall": share(sum(not r.in_scope for r in unsure), len(oos)),
        "oos_precision": share(sum(not r.in_scope for r in unsure), len(unsure)),
        "in_scope_precision": share(sum(r.in_scope for r in answered), len(answered)),
        "in_scope_recall": share(sum(r.in_scope for r in answered), len(inside)),
        "answer_precision": share(sum(r.top1 for r in answered), len(answered)),
        "answer_precision_equiv": share(sum(r.top1_equiv for r in answered), len(answered)),
    }


def choose_threshold(val: list[Result]) -> float:
    """The rule in the module's docstring, over the confidences seen on val (and 0)."""
    candidates = sorted(
        {0.0, *(round(r.confidence, 4) for r in val)} | {round(r.confidence, 4) + 1e-4 for r in val}
    )
    scored = [(t, rates(val, t)) for t in candidates]
    both = [
        t for t, s in scored if s["in_scope_precision"] >= PRECISION_GOAL and s["oos_recall"] >= RECALL_GOAL
    ]
    if both:
        return both[0]
    precise = [t for t, s in scored if s["in_scope_precision"] >= PRECISION_GOAL]
    if precise:
        return precise[0]
    return max(scored, key=lambda ts: ts[1]["in_scope_precision"])[0]


def report(val: list[Result], test: list[Result], threshold: float | None = None) -> dict[str, Any]:
    """Figures on test (and on val) at ``threshold``, chosen on val when None."""
    threshold = choose_threshold(val) if threshold is None else threshold
    inside = [r for r in test if r.in_scope]
    latencies = np.array([r.ms for r in test])
    figures = {k: round(v, 4) for k, v in rates(test, threshold).items()}
    val_inside = [r for r in val if r.in_scope]

    def share(results: list[Result], hit: str) -> float:
        return round(sum(getattr(r, hit) for r in results) / len(results), 4)

    return {
        "threshold": round(threshold, 4),
        **{hit: share(inside, hit) for hit in ("top1", "top1_equiv", "top3", "top3_equiv")},
        **figures,
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "val": {
            "top1": share(val_inside, "top1"),
            "top1_equiv": share(val_inside, "top1_equiv"),
            **{k: round(v, 4) for k, v in rates(val, threshold).items()},
        },
    }


def checked(equivalents: Equivalents | None, kb: KnowledgeBase) -> Equivalents | None:
    """The answer-equivalence map (None: strict only), once every chunk it names is found in ``kb``."""
    if equivalents is not None:
        index = kb.index()
        known = {name for c in index.chunks for name in label_names(c)}
        try:
            check_known(equivalents, known)
        except KBError as exc:
            sys.exit(f"bench: {exc}")
    return equivalents


def print_table(methods: dict[str, dict[str, Any]]) -> None:
    """Both top-1 figures of every retriever, as a Markdown table on stderr (stdout is the JSON line)."""
    rows = [
        "| retriever | top-1 strict | top-1 with equivalents | top-3 strict | top-3 with equivalents "
        "| out-of-scope recall | in-scope precision |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, m in methods.items():
        cells = [
            m[k] for k in ("top1", "top1_equiv", "top3", "top3_equiv", "oos_recall", "in_scope_precision")
        ]
        rows.append(f"| {name} | " + " | ".join(f"{100 * c:.1f}%" for c in cells) + " |")
    print("\n".join(rows), file=sys.stderr)


def plot(curves: dict[str, tuple[list[Result], float]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for method, (test, chosen) in curves.items():
        thresholds = np.linspace(0, 1, 201)
        points = [rates(test, t) for t in thresholds]
        (line,) = ax.plot(
            [p["oos_recall"] for p in points], [p["in_scope_precision"] for p in points], label=method
        )
        at = rates(test, chosen)
        ax.scatter(
            [at["oos_recall"]], [at["in_scope_precision"]], marker="o", color=line.get_color(), zorder=3
        )
    ax.axhline(PRECISION_GOAL, color="grey", linestyle=":", linewidth=1)
    ax.axvline(RECALL_GOAL, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("out-of-scope recall (test)")
    ax.set_ylabel("in-scope precision (test)")
    ax.set_title(title)
    ax.legend(title="retriever (dot: threshold chosen on val)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    data_path: Path = args.clinc or args.data
    data = json.loads(await asyncio.to_thread(Path(data_path).read_text, encoding="utf-8"))
    val = [tuple(x) for x in data["val"]] + [(q, "oos") for q, _ in data["oos_val"]]
    test = [tuple(x) for x in data["test"]] + [(q, "oos") for q, _ in data["oos_test"]]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        kb, by_answer = build_kb(args, data, Path(tmp))
        build_s = time.perf_counter() - start
        equivalents = checked(args.equivalents_map, kb)
        models: dict[str, dict[str, Any]] = {}
        curves: dict[str, tuple[list[Result], float]] = {}
        tuning: dict[str, Any] | None = None
        questions_tuning: dict[str, Any] | None = None
        calibrations: dict[str, dict[str, Any]] = {}
        misses: dict[str, list[dict[str, str]]] = {}
        config = TuneConfig(epochs=args.tune_epochs, seed=args.seed)
        tunes = ["tuned", *(["questions"] if args.tune_questions else [])] if args.tune else []
        for model in ["base", *tunes]:
            if model == "questions":  # tuned on val's questions too, calibrated on them out of fold
                tuned, _ = await asyncio.to_thread(
                    tune_and_calibrate, kb, Path(data_path), config, equivalents=equivalents
                )
                questions_tuning = {"pairs": tuned.pairs, "steps": tuned.steps, "tunes": 3}
            elif model == "tuned":
                if args.tuned_model is not None:  # a tune of this same KB made before: seeded, it repeats
                    shutil.copytree(args.tuned_model, tuned_model_dir(Path(tmp)))
                    kb.reindex()
                    tuning = {"reused": str(args.tuned_model)}
                else:
                    tuned = kb.tune(config)
                    tuning = {"pairs": tuned.pairs, "steps": tuned.steps, "seconds": round(tuned.seconds, 1)}
            await kb.answer("warm up: load the model and build the index")
            learned = kb.settings.fusion == "learned"
            # what `botkit kb calibrate --heldout` does, on val + oos_val (the questions model did its own)
            if learned and model != "questions":
                fitted = await asyncio.to_thread(calibrate, kb, Path(data_path), equivalents=equivalents)
                calibrations[model] = {
                    "rank": dict(zip(FEATURES, (round(w, 4) for w in fitted.rank), strict=True)),
                    "sure": [round(w, 4) for w in fitted.sure],
                    "lexical_cut": round(fitted.lexical_cut, 4),
                }
            models[model] = {}
            # BM25 does not use the embedding model: measured once. The questions model was tuned on val, so
            # val chooses no threshold for it (its calibration's cut holds) and says nothing of it.
            for method in {"base": METHODS, "tuned": ("fused", "dense"), "questions": ("fused",)}[model]:
                val_results = await run(kb, val, method, by_answer, equivalents)
                test_results = await run(kb, test, method, by_answer, equivalents)
                fixed = SURE if method == "fused" and learned else None  # the calibration's cut
                models[model][method] = report(val_results, test_results, fixed)
                curves[f"{method} ({model})" if args.tune else method] = (
                    test_results,
                    models[model][method]["threshold"],
                )
                if method == "fused":
                    misses[model] = [
                        {"question": q, "label": label, "first": r.first}
                        for (q, label), r in zip(test, test_results, strict=True)
                        if r.in_scope and not r.top1_equiv
                    ]
        chunks = sum(d.chunks for d in kb.documents())
        kb.engine.dispose()
    methods = {**models["base"], **models.get("tuned", {})}
    fused = methods["fused"]
    plot(curves, args.plot, f"{Path(data_path).name}: OOS recall against in-scope precision")
    print_table({f"{m} ({model})": v for model, ms in models.items() for m, v in ms.items()})
    if args.misses is not None:
        args.misses.write_text(json.dumps(misses, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return {
        "bench": "kb_retrieval",
        "data": str(data_path),
        "knowledge_base": "clinc train as FAQ" if args.clinc else str(args.kb),
        "chunks": chunks,
        "build_s": round(build_s, 1),
        "questions": {k: len(data[k]) for k in ("val", "oos_val", "test", "oos_test")},
        "threshold_rule": "lowest val threshold with in-scope precision >= 0.9 and OOS recall >= 0.8",
        "calibration": calibrations or None,
        "alternates": args.alternates,
        "tuned": tuning,
        "tuned_on_questions": questions_tuning,
        "methods": methods,
        "base_model": models["base"] if args.tune else None,
        "questions_model": models.get("questions"),
        "equivalents": str(args.equivalents) if equivalents else None,
        "goal_met": fused["top1"] >= TOP1_GOAL
        and fused["oos_recall"] >= RECALL_GOAL
        and fused["in_scope_precision"] >= PRECISION_GOAL,
        "goal_met_equiv": fused["top1_equiv"] >= TOP1_GOAL
        and fused["oos_recall"] >= RECALL_GOAL
        and fused["in_scope_precision"] >= PRECISION_GOAL,
        "bm25_weight": kb.settings.bm25_weight,
        "fusion": kb.settings.fusion,
        "model": str(kb.settings.model_dir or "all-MiniLM-L6-v2 as shipped")
        + (", tuned on the knowledge base" if args.tune else ""),
        "threads": args.threads,
        "plot": str(args.plot),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="held-out questions (CLINC150 layout)"
    )
    parser.add_argument("--kb", type=Path, default=DEFAULT_KB, help="the knowledge base's folder")
    parser.add_argument("--clinc", type=Path, help="a CLINC150 JSON file: its train split becomes the KB")
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT)
    parser.add_argument(
        "--bm25-weight", type=float, help="BM25's weight in the fusion (default: kb.bm25_weight)"
    )
    parser.add_argument(
        "--fusion",
        choices=("learned", "convex", "rrf"),
        help="how fused search joins the two (default: kb.fusion)",
    )
    parser.add_argument(
        "--model-dir", type=Path, help="a sentence-transformers model folder (default: the shipped one)"
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: steady on a shared machine)"
    )
    parser.add_argument(
        "--no-tune",
        dest="tune",
        action="store_false",
        help="measure the shipped model only (default: also tune it on the KB and measure both)",
    )
    parser.add_argument(
        "--no-alternates",
        dest="alternates",
        action="store_false",
        help="drop the FAQ's alternate phrasings (the alternates column) before adding the KB",
    )
    parser.add_argument(
        "--tune-questions",
        action="store_true",
        help="measure a third model: tuned on the val questions as well (`botkit kb tune --questions`), "
        "calibrated on them out of fold (three more tunes)",
    )
    parser.add_argument("--tune-epochs", type=int, default=TuneConfig.epochs, help="epochs of `kb tune`")
    parser.add_argument(
        "--tuned-model",
        type=Path,
        help="the folder a `botkit kb tune` of the same knowledge base made (same alternates, epochs and "
        "seed): used instead of tuning again, which takes minutes (the tune is seeded and repeats)",
    )
    parser.add_argument("--seed", type=int, default=TuneConfig.seed, help="the tuning's seed")
    parser.add_argument(
        "--equivalents",
        type=Path,
        help="an answer-equivalence map (botkit.kb.equivalents): top-1 is also reported counting a label's "
        "equivalents as correct, and the learned fusion is calibrated so (default: "
        "bench/data/shop_answer_equivalents.json with the example KB, none otherwise)",
    )
    parser.add_argument(
        "--no-equivalents", action="store_true", help="no map: both figures are the strict one"
    )
    parser.add_argument("--misses", type=Path, help="write the fused retriever's test misses here (JSON)")
    args = parser.parse_args()
    if args.no_equivalents:
        args.equivalents = None
    elif args.equivalents is None and args.clinc is None and args.kb.resolve() == DEFAULT_KB:
        args.equivalents = DEFAULT_EQUIVALENTS
    try:  # a malformed map stops the bench before the minutes it takes to build the KB
        args.equivalents_map = read_equivalents(args.equivalents) if args.equivalents else None
    except KBError as exc:
        sys.exit(f"bench: {exc}")
    if args.model_dir is not None:
        args.tune = False  # tuning adapts the shipped model; a model of one's own is measured as it is
    import torch

    torch.set_num_threads(args.threads)
    print(json.dumps(asyncio.run(main_async(args))))


if __name__ == "__main__":
    main()
