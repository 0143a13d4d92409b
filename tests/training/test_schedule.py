"""The learning-rate schedule and the data order the loop's exact resume relies on."""

from __future__ import annotations

import numpy as np
import pytest

from botkit.training.config import LoopConfig
from botkit.training.schedule import lr_factor, sample_indices


def test_warmup_then_cosine_to_floor() -> None:
    cfg = LoopConfig(max_steps=110, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_factor(0, cfg) == pytest.approx(0.1)
    assert lr_factor(9, cfg) == pytest.approx(1.0)
    assert lr_factor(60, cfg) == pytest.approx(0.55)  # half-way down the cosine
    assert lr_factor(110, cfg) == pytest.approx(0.1)
    assert all(lr_factor(s, cfg) >= lr_factor(s + 1, cfg) for s in range(10, 110))


def test_data_order_is_a_function_of_position() -> None:
    n = 7
    first = sample_indices(0, 14, n, seed=3)
    assert sorted(first[:7]) == sorted(first[7:]) == list(range(n))  # each epoch covers every block once
    assert not np.array_equal(first[:7], first[7:])  # reshuffled per epoch
    assert np.array_equal(sample_indices(5, 6, n, seed=3), first[5:11])  # resuming mid-stream agrees
