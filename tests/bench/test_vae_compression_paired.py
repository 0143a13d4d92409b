"""The paired comparison ``bench/vae_compression.py`` prints for the codec against each baseline.

Its rows differ by fractions of a percent of perplexity, so the script says which differences the held-out
dialogues support; these check that the ratio is the perplexity ratio and that the interval behaves.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "vae_compression.py"


@pytest.fixture(scope="module")
def paired_ratio():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("vae_compression_bench", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.paired_ratio


def test_the_ratio_is_the_perplexity_ratio(paired_ratio) -> None:  # type: ignore[no-untyped-def]
    a = [(30.0, 10), (52.0, 20), (9.0, 5)]
    b = [(28.0, 10), (50.0, 20), (10.0, 5)]
    got = paired_ratio(a, b)
    ppl_a, ppl_b = math.exp(91.0 / 35), math.exp(88.0 / 35)
    assert got["ppl_ratio"] == pytest.approx(ppl_a / ppl_b, abs=1e-4)
    assert got["ci95"][0] <= got["ppl_ratio"] <= got["ci95"][1]


def test_identical_methods_give_one_and_a_consistent_gap_excludes_it(paired_ratio) -> None:  # type: ignore[no-untyped-def]
    base = [(float(20 + i % 7), 8) for i in range(60)]
    same = paired_ratio(base, base)
    assert same == {"ppl_ratio": 1.0, "ci95": [1.0, 1.0]}
    worse = [(x + 0.4, c) for x, c in base]  # 0.05 nats a token worse on every dialogue
    got = paired_ratio(worse, base)
    assert got["ppl_ratio"] == pytest.approx(math.exp(0.05), abs=1e-4)
    assert got["ci95"][0] > 1.0
    # better on half the dialogues, worse on the other half
    mixed = [(x + (0.4 if i % 2 else -0.4), c) for i, (x, c) in enumerate(base)]
    got = paired_ratio(mixed, base)
    assert got["ci95"][0] < 1.0 < got["ci95"][1]


def test_different_token_counts_are_refused(paired_ratio) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="different tokens"):
        paired_ratio([(1.0, 3)], [(1.0, 4)])
