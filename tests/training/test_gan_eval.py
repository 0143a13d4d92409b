"""``botkit train eval-gan``: BLEU and self-BLEU by hand, the verdict rule, the command end to end, bad
input."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from botkit.training import cli
from botkit.training.gan.evaluate_report import verdict
from botkit.training.judge.bleu import corpus_bleu, self_bleu
from botkit.training.metrics import read_metrics

REPO = Path(__file__).resolve().parents[2]
BOTKIT = REPO / ".venv" / "bin" / "botkit"


# --- BLEU, worked by hand -------------------------------------------------------------------------------
# hypothesis "the cat sat on the mat", reference "the cat is on the mat" (6 words each):
#   unigrams: the x2, cat, on, mat match: 5/6; bigrams "the cat", "on the", "the mat": 3/5;
#   trigrams "on the mat": 1/4; 4-grams: none of 3. Equal lengths: brevity penalty 1.
def test_corpus_bleu_matches_the_hand_worked_example() -> None:
    hyp, ref = ["The cat sat on the mat."], ["the cat is on the mat"]
    assert corpus_bleu(hyp, ref, max_n=1) == pytest.approx(5 / 6)
    assert corpus_bleu(hyp, ref, max_n=2) == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    assert corpus_bleu(hyp, ref, max_n=3) == pytest.approx(0.5)  # (5/6 * 3/5 * 1/4) ** (1/3)
    assert corpus_bleu(hyp, ref, max_n=4) == 0.0  # unsmoothed: no 4-gram in common


def test_corpus_bleu_pools_counts_and_penalises_short_output() -> None:
    # pooled: unigrams 5+2 of 6+2, bigrams 3+1 of 5+1, total lengths 8 and 8
    two = corpus_bleu(["the cat sat on the mat", "a dog"], ["the cat is on the mat", "a dog"], max_n=2)
    assert two == pytest.approx(math.sqrt(7 / 8 * 4 / 6))
    # "the cat" against 6 words: every n-gram matches, brevity penalty exp(1 - 6/2)
    assert corpus_bleu(["the cat"], ["the cat sat on the mat"], max_n=2) == pytest.approx(math.exp(-2))
    assert corpus_bleu(["你好吗"], ["你好"], max_n=1) == pytest.approx(2 / 3)  # each CJK character a word
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        corpus_bleu(["a", "b"], ["a"])


def test_self_bleu_matches_hand_worked_examples() -> None:
    # "a b" against {"a b", "c d"}: every n-gram found, closest length 2: 1; "c d" shares no word: 0
    assert self_bleu(["a b", "a b", "c d"], max_n=2) == pytest.approx(2 / 3)
    # "a b c" against "a b d": p1 2/3, p2 1/2, p3 none -> 0.1/1, p4 no 4-gram -> 0.1/1 (NLTK's method1)
    assert self_bleu(["a b c", "a b d"], max_n=4) == pytest.approx((2 / 3 * 1 / 2 * 0.1 * 0.1) ** 0.25)
    assert self_bleu(["only one"]) == 0.0
    assert self_bleu(["the same four words"] * 3) == pytest.approx(1.0)  # identical replies: no diversity
    assert self_bleu(["the same"] * 3) == pytest.approx(0.1**0.5)  # no 3- or 4-gram: epsilon twice


# --- the verdict rule ---------------------------------------------------------------------------------------
def _run(gan: list[tuple[float, float]], mle: list[tuple[float, float]], se: float = 0.005) -> dict[str, Any]:
    """One seed's sweeps from (distinct-2, F1) points."""

    def sweep(points: list[tuple[float, float]]) -> list[dict[str, float]]:
        return [{"distinct_2": d, "unigram_f1": f, "unigram_f1_se": se, "bleu_2": f, "self_bleu": 1 - d}
                for d, f in points]  # fmt: skip

    return {"models": {"gan": {"sweep": sweep(gan)}, "mle": {"sweep": sweep(mle)}}}


MLE = [(0.3, 0.20), (0.6, 0.15), (0.9, 0.08)]


def _shift(points: list[tuple[float, float]], by: float) -> list[tuple[float, float]]:
    return [(d, f + by) for d, f in points]


def test_the_verdict_rule_calls_each_case() -> None:
    assert verdict([_run(_shift(MLE, 0.05), MLE)] * 3)["call"] == "dominates"
    assert verdict([_run(_shift(MLE, -0.05), MLE)])["call"] == "falls below"
    # seeds scattered either side of the baseline: the spread says "matches"
    assert verdict([_run(_shift(MLE, e), MLE) for e in (0.02, -0.02, 0.001)])["call"] == "matches"
    crossing = [(0.3, 0.25), (0.6, 0.15), (0.9, 0.03)]
    assert verdict([_run(crossing, MLE)] * 2)["call"] == "crosses"
    # F1 at matched distinct-2: a GAN curve that is the MLE curve moved right (more diverse at equal F1)
    # is above at matched diversity even though no temperature pairs up
    right = [(d + 0.1, f) for d, f in MLE]
    v = verdict([_run(right, MLE)] * 3)
    assert v["range"] == [pytest.approx(0.4), pytest.approx(0.9)]
    assert v["call"] == "dominates"
    # BLEU has no per-reply standard error: one seed gives no noise to judge a difference by
    assert verdict([_run(_shift(MLE, 0.05), MLE)], "bleu_at_self_bleu")["call"].startswith("undecided")
    assert verdict([_run(_shift(MLE, 0.05), MLE)] * 2, "bleu_at_self_bleu")["call"] == "dominates"
    apart = [(d + 0.7, f) for d, f in MLE]
    assert verdict([_run(apart, MLE)])["call"] == "no overlap"


# --- the command, end to end on a tiny model ------------------------------------------------------------
def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _configs(tmp_path: Path, corpus_dir: Path, dialogues: Path | None = None) -> tuple[Path, Path]:
    """A GAN config on the tiny corpus, and a --data preset whose held-out split is that corpus's."""
    gan = _write(tmp_path / "gan.toml", (
        '[gan]\nmax_new_tokens = 6\nmax_context = 24\n'
        f'[gan.data]\ndialogue_files = ["{dialogues or corpus_dir / "dialogues.jsonl"}"]\n'
        '[gan.train]\nmax_steps = 9\nmicro_batch_size = 3\nlearning_rate = 1e-3\nwarmup_steps = 0\n'
        'num_threads = 1\ndevice = "cpu"\n'
    ))  # fmt: skip
    data = _write(tmp_path / "data.toml", (
        f'[sft.data]\ndialogue_files = ["{corpus_dir / "dialogues.jsonl"}"]\nvalidation_fraction = 0.25\n'
    ))  # fmt: skip
    return gan, data


def test_eval_gan_runs_end_to_end_and_its_report_is_consistent(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path
) -> None:
    gan, data = _configs(tmp_path, corpus_dir)
    out = tmp_path / "report"
    cmd = [str(BOTKIT), "train", "eval-gan", "--model", str(pretrained_dir), "--config", str(gan),
           "--data", str(data), "--out", str(out), "--seeds", "0", "--steps", "2",
           "--temperatures", "0.2", "2.0", "--contexts", "24", "--max-new-tokens", "8",
           "--threads", "1"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "eval_gan.json").read_text(encoding="utf-8"))
    assert (out / "eval_gan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "eval_gan.md").read_text(encoding="utf-8")
    assert result["verdict"]["words"] in markdown
    assert result["verdict"]["words"] in proc.stdout  # what the user reads is what the report says

    # both arms made the same number of generator optimizer steps, counted from their own logs
    gan_log = read_metrics(out / "runs" / "seed0" / "gan" / "metrics.jsonl")
    mle_log = read_metrics(out / "runs" / "seed0" / "mle" / "metrics.jsonl")
    gan_updates = sum("g_loss" in r for r in gan_log) + sum("mle_loss" in r for r in gan_log)
    assert gan_updates == len(mle_log) == result["settings"]["generator_updates_per_arm"] == 4
    assert [r["contexts"] for r in mle_log] == [3] * 4  # micro_batch_size contexts per update, as the GAN's
    training = result["runs"][0]["training"]
    assert training["gan"]["optimizer_steps"] == training["mle"]["optimizer_steps"] == 4
    assert training["gan"]["contexts"] == training["mle"]["contexts"] == 12

    # the verdict is the rule applied to the report's own figures
    for axes in ("f1_at_distinct2", "bleu_at_self_bleu"):
        assert result["verdict"][axes] == json.loads(json.dumps(verdict(result["runs"], axes)))
    for name in ("gan", "mle"):
        sweep = result["runs"][0]["models"][name]["sweep"]
        assert [row["temperature"] for row in sweep] == [0.2, 2.0]
        assert 0 < result["runs"][0]["models"][name]["bits_per_byte"] < 20
        for row in sweep:
            assert 0.0 <= row["discriminator_accuracy"] <= 1.0
            assert row["replies"] == result["settings"]["contexts"]
        agg = result["aggregate"][name]["sweep"]  # one seed: the mean is that seed's figure, sd 0
        assert [a["unigram_f1"] for a in agg] == [{"mean": r["unigram_f1"], "sd": 0.0} for r in sweep]
        label = {"gan": "GAN", "mle": "continued MLE"}[name]
        for t, a in zip((0.2, 2.0), agg, strict=True):  # the table shows the json's figures
            assert f"| {t:g} | {label} | {a['unigram_f1']['mean']:.4f} ± 0.0000 |" in markdown
    # (whether hotter sampling gives higher distinct-2 is not asserted: this 8-step model's replies are
    # near-random bytes at every temperature, so distinct-2 is near 1 and its order is noise)


def test_a_model_directory_without_a_tokenizer_is_a_clear_error(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in pretrained_dir.iterdir():
        if f.is_file() and not f.name.startswith("tokenizer") and f.suffix != ".jinja":
            shutil.copy(f, bare / f.name)
    gan, data = _configs(tmp_path, corpus_dir)
    code = cli.main(["eval-gan", "--model", str(bare), "--config", str(gan), "--data", str(data),
                     "--out", str(tmp_path / "out"), "--seeds", "0", "--steps", "1"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"botkit train: {bare} has no tokenizer (no tokenizer.json")
    assert not (tmp_path / "out").exists()  # refused before any work


def test_a_gan_config_without_assistant_turns_is_a_clear_error(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = _write(tmp_path / "users.jsonl", json.dumps({"messages": [{"role": "user", "content": "hi?"}]}))
    gan, data = _configs(tmp_path, corpus_dir, dialogues=users)
    code = cli.main(["eval-gan", "--model", str(pretrained_dir), "--config", str(gan), "--data", str(data),
                     "--out", str(tmp_path / "out"), "--seeds", "0", "--steps", "1"])  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("botkit train: no (context, reply) pairs in [")
    assert str(users) in err
    assert not (tmp_path / "out" / "eval_gan.json").exists()
