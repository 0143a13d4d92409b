"""Two CPU processes under torchrun (DDP, gloo) train the same model as one process does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from botkit.training.config import DataConfig, PretrainConfig
from botkit.training.pretrain import run_pretrain
from tests.training.conftest import tiny_loop, tiny_model
from tests.training.test_stages import _losses, _weights

REPO = Path(__file__).resolve().parents[2]


def test_two_processes_match_one(corpus_dir: Path, tokenizer_dir: Path, tmp_path: Path) -> None:
    # One process with micro-batches of 4 sees, step by step, the union of what two ranks with 2 each see.
    one = PretrainConfig(
        output_dir=tmp_path / "one", tokenizer=tokenizer_dir, data=DataConfig(text_files=[corpus_dir]),
        model=tiny_model(), train=tiny_loop(max_steps=5, micro_batch_size=4, eval_every=5),
    )  # fmt: skip
    run_pretrain(one)
    config = tmp_path / "ddp.toml"
    config.write_text(
        f'output_dir = "{tmp_path / "two"}"\ntokenizer = "{tokenizer_dir}"\n'
        f'[data]\ntext_files = ["{corpus_dir}"]\n'
        "[model]\nhidden_size = 32\nnum_layers = 2\nnum_heads = 2\ncontext_length = 32\n"
        "[train]\nmax_steps = 5\nmicro_batch_size = 2\nlearning_rate = 3e-3\nwarmup_steps = 1\n"
        "eval_every = 5\neval_batches = 2\ncheckpoint_every = 0\nlog_every = 1\nprogress = false\n"
        'num_threads = 1\ndevice = "cpu"\n'
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "botkit.training.cli", "pretrain", "--config", str(config)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two_dir = tmp_path / "two"
    a, b = _losses(one.output_dir), _losses(two_dir)
    assert sorted(a) == sorted(b) == [1, 2, 3, 4, 5]
    for step in a:
        assert abs(a[step] - b[step]) < 1e-4 * a[step], (step, a[step], b[step])
    assert a[5] < a[1]
    wa, wb = _weights(one.output_dir), _weights(two_dir)
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-4, atol=1e-5)


def _collectives(phase: str, out: Path) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "tests.training.collectives_worker", phase, str(out)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # The two ranks print to one pipe: their lines can interleave ("{...}{...}"), so read object by object.
    decoder, reports, at = json.JSONDecoder(), [], proc.stdout.find('{"rank"')
    while at != -1:
        report, end = decoder.raw_decode(proc.stdout, at)
        reports.append(report)
        at = proc.stdout.find('{"rank"', end)
    assert sorted(r["rank"] for r in reports) == [0, 1]
    return reports


def test_cuda_group_serves_the_loops_collectives(tmp_path: Path) -> None:
    """The group a CUDA run starts takes the loop's CPU collectives (NCCL alone takes CUDA tensors only).

    The worker stands gloo-for-CUDA-only in for NCCL: alone, the old choice, the loop's first collective
    fails as it did on a multi-GPU machine; in the group ``backend_for("cuda")`` names, two real DDP
    steps with validation and a checkpoint run on both ranks.
    """
    for r in _collectives("old", tmp_path / "old"):
        assert r["error"] == "No backend type associated with device type cpu"
    for r in _collectives("new", tmp_path / "new"):
        assert r["sum"] == [3.0, 1.0]  # ranks 0 and 1 sent [1, 0.5] and [2, 0.5]
        assert r["steps"] == 2
        assert r["val_tokens"] > 0
    assert (tmp_path / "new" / "checkpoints" / "last.pt").is_file()
