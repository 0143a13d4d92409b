"""``botkit train gan`` on a tiny model: resume, outputs, synthetic data for SFT, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from botkit.training import cli
from botkit.training.config import DataConfig, GANConfig
from botkit.training.corpora import iter_dialogues
from botkit.training.gan.stage import run_gan
from botkit.training.metrics import read_metrics
from tests.training.conftest import tiny_loop


def _cfg(out: Path, init_from: Path, corpus_dir: Path, **kw: object) -> GANConfig:
    base: dict[str, object] = dict(
        output_dir=out, init_from=init_from, max_new_tokens=6, max_context=24, synthetic_dialogues=6,
        synthetic_threshold=0.0, data=DataConfig(dialogue_files=[corpus_dir / "dialogues.jsonl"]),
        train=tiny_loop(max_steps=4, micro_batch_size=3, learning_rate=1e-3, checkpoint_every=2),
    )  # fmt: skip
    base.update(kw)
    return GANConfig.model_validate(base)


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(model_dir / "model.safetensors"))


def test_resume_is_exact_and_the_outputs_are_written(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path
) -> None:
    straight = run_gan(_cfg(tmp_path / "a", pretrained_dir, corpus_dir))
    run_gan(_cfg(tmp_path / "b", pretrained_dir, corpus_dir), stop_at=2)
    assert not (tmp_path / "b" / "stage.json").exists()
    resumed = run_gan(_cfg(tmp_path / "b", pretrained_dir, corpus_dir))
    assert resumed["resumed"]
    assert straight["steps"] == resumed["steps"] == 4
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    start = _weights(pretrained_dir)
    assert any(not torch.equal(a[k], start[k]) for k in a)  # the generator did move
    recs = [r for r in read_metrics(tmp_path / "b" / "metrics.jsonl") if "reward" in r]
    assert [r["step"] for r in recs] == [1, 2, 3, 4]
    again = [r for r in read_metrics(tmp_path / "a" / "metrics.jsonl") if "reward" in r]
    assert [(r["reward"], r["d_loss"], r["kl"]) for r in recs] == [
        (r["reward"], r["d_loss"], r["kl"]) for r in again
    ]
    assert {"d_acc", "kl", "g_loss", "mle_loss"} <= recs[-1].keys()
    for name in ("gan.png", "stage.json", "run.json", "config.json", "tokenizer.json", "checkpoints/last.pt"):
        assert (tmp_path / "b" / name).is_file(), name


def test_the_discriminator_warm_up_leaves_the_generator_alone_and_is_not_repeated_on_resume(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path
) -> None:
    straight = run_gan(_cfg(tmp_path / "a", pretrained_dir, corpus_dir, discriminator_warmup=3))
    run_gan(_cfg(tmp_path / "b", pretrained_dir, corpus_dir, discriminator_warmup=3), stop_at=0)
    state = torch.load(tmp_path / "b" / "checkpoints" / "last.pt", weights_only=False)
    assert state["step"] == 0
    assert state["health"]["warmed"] == 3
    start = _weights(pretrained_dir)
    generator = state["generator"]
    # Tied embeddings: the checkpoint holds lm_head as well; every weight the file has is unchanged.
    assert all(torch.equal(generator[k], start[k]) for k in start)
    fresh = run_gan(_cfg(tmp_path / "c", pretrained_dir, corpus_dir), stop_at=0)
    assert fresh["steps"] == 0
    d_fresh = torch.load(tmp_path / "c" / "checkpoints" / "last.pt", weights_only=False)["discriminator"]
    assert any(not torch.equal(state["discriminator"][k], d_fresh[k]) for k in d_fresh)  # it trained

    resumed = run_gan(_cfg(tmp_path / "b", pretrained_dir, corpus_dir, discriminator_warmup=3))
    assert resumed["resumed"]
    assert straight["steps"] == resumed["steps"] == 4
    a, b = _weights(tmp_path / "a"), _weights(tmp_path / "b")
    assert all(torch.equal(a[k], b[k]) for k in a)
    warm = [r for r in read_metrics(tmp_path / "b" / "metrics.jsonl") if "warmup_step" in r]
    assert [r["warmup_step"] for r in warm] == [1, 2, 3]  # done once, not again on resume
    assert all(0.0 <= r["d_acc"] <= 1.0 for r in warm)


def test_synthetic_dialogues_are_jsonl_the_sft_stage_loads(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path
) -> None:
    from botkit.training.pretrain import load_tokenizer
    from botkit.training.sft import dialogue_blocks

    summary = run_gan(
        _cfg(tmp_path, pretrained_dir, corpus_dir, train=tiny_loop(max_steps=1, micro_batch_size=3))
    )
    path = tmp_path / "synthetic.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert summary["synthetic"] == {"candidates": 6, "kept": len(lines)}
    assert lines
    for line in lines:
        record = json.loads(line)
        assert record["messages"][-1]["role"] == "assistant"
        assert record["messages"][-1]["content"]
        assert 0.0 <= record["p_human"] <= 1.0
    data = DataConfig(dialogue_files=[path], validation_fraction=0.0, on_bad_line="error")
    assert len(list(iter_dialogues(data))) == len(lines)
    assert len(dialogue_blocks(data, load_tokenizer(pretrained_dir), "train", 64)) > 0


def test_the_threshold_filters_synthetic_replies(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path
) -> None:
    cfg = _cfg(tmp_path, pretrained_dir, corpus_dir, synthetic_threshold=1.0, train=tiny_loop(max_steps=1))
    assert run_gan(cfg)["synthetic"]["kept"] == 0  # no reply scores P(human) = 1 exactly
    assert (tmp_path / "synthetic.jsonl").read_text() == ""


def _toml(path: Path, body: str) -> Path:
    path.write_text(body, encoding="utf-8")
    return path


def test_mismatched_tokenizers_are_a_clear_error(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from botkit.training.config import TokenizerConfig
    from botkit.training.tokenizer import train_tokenizer

    other = tmp_path / "other-tok"
    train_tokenizer(TokenizerConfig(output_dir=other, data=DataConfig(text_files=[corpus_dir / "text.txt"]),
                                    vocab_size=300, min_frequency=1))  # fmt: skip
    config = _toml(tmp_path / "gan.toml", (
        f'[gan]\ninit_from = "{pretrained_dir}"\ndiscriminator_from = "{other}"\n'
        f'output_dir = "{tmp_path / "out"}"\n'
        f'[gan.data]\ndialogue_files = ["{corpus_dir / "dialogues.jsonl"}"]\n'
    ))  # fmt: skip
    assert cli.main(["gan", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("botkit train: the discriminator's tokenizer (")
    assert "is not the generator's" in err
    assert str(other) in err
    assert str(pretrained_dir) in err


def test_a_dialogue_file_without_assistant_turns_is_a_clear_error(
    tmp_path: Path, pretrained_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users = tmp_path / "users.jsonl"
    users.write_text(json.dumps({"messages": [{"role": "user", "content": "hello?"}]}) + "\n")
    config = _toml(tmp_path / "gan.toml", (
        f'[gan]\ninit_from = "{pretrained_dir}"\noutput_dir = "{tmp_path / "out"}"\nmax_new_tokens = 6\n'
        f'[gan.data]\ndialogue_files = ["{users}"]\n'
    ))  # fmt: skip
    assert cli.main(["gan", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("botkit train: no (context, reply) pairs in [")
    assert str(users) in err
    assert "no dialogue has a non-empty assistant turn" in err


def test_the_pipeline_runs_gan_after_sft_and_evaluates_its_model(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path
) -> None:
    import shutil

    from botkit.training.config import PipelineConfig
    from botkit.training.pipeline import run_pipeline

    shutil.copytree(pretrained_dir, tmp_path / "pretrain")  # the stages before sft are done
    data = {"dialogue_files": [str(corpus_dir / "dialogues.jsonl")]}
    gan_loop = tiny_loop(max_steps=2, micro_batch_size=2).model_dump()
    cfg = PipelineConfig.model_validate({
        "output_dir": tmp_path, "stages": ["sft", "eval"],
        "sft": {"data": data, "train": tiny_loop(max_steps=2).model_dump()},
        "gan": {"data": data, "max_new_tokens": 4, "train": gan_loop},
        "eval": {"data": data, "max_replies": 0, "max_dialogues": 4, "subset_size": 2},
    })  # fmt: skip
    report = run_pipeline(cfg)
    assert list(report) == ["sft", "gan", "eval"]
    assert report["gan"]["result"]["steps"] == 2
    assert (tmp_path / "gan" / "stage.json").is_file()
    evaluated = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert str(tmp_path / "gan") in json.dumps(evaluated)
    assert run_pipeline(cfg)["gan"] == {"skipped": True}


def test_two_processes_under_torchrun_train_the_gan_stage(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path
) -> None:
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    config = _toml(tmp_path / "gan.toml", (
        f'[gan]\ninit_from = "{pretrained_dir}"\noutput_dir = "{tmp_path / "out"}"\nmax_new_tokens = 6\n'
        f'[gan.data]\ndialogue_files = ["{corpus_dir / "dialogues.jsonl"}"]\n'
        '[gan.train]\nmax_steps = 2\nmicro_batch_size = 2\nprogress = false\nnum_threads = 1\n'
        'device = "cpu"\n'
    ))  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(repo)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "botkit.training.cli", "gan", "--config", str(config)]  # fmt: skip
    proc = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["step"] for r in read_metrics(tmp_path / "out" / "metrics.jsonl")] == [1, 2]
    assert (tmp_path / "out" / "stage.json").is_file()


def test_pairs_are_built_once_per_data_and_again_when_a_file_changes(
    tmp_path: Path, pretrained_dir: Path, corpus_dir: Path
) -> None:
    from botkit.training.gan.batch import dialogue_pairs
    from botkit.training.pretrain import load_tokenizer

    tokenizer = load_tokenizer(pretrained_dir)
    path = tmp_path / "dialogues.jsonl"
    path.write_bytes((corpus_dir / "dialogues.jsonl").read_bytes())
    data = DataConfig(dialogue_files=[path], validation_fraction=0.0)  # every dialogue is "train"
    first = dialogue_pairs(data, tokenizer, "train", 24)
    second = dialogue_pairs(data, tokenizer, "train", 24)
    assert [(p.context, p.reply) for p in first] == [(p.context, p.reply) for p in second]
    assert first[0] is not second[0]  # fresh objects: a caller that cuts its replies cuts only its own
    first[0].reply = first[0].reply[:1]
    assert dialogue_pairs(data, tokenizer, "train", 24)[0].reply == second[0].reply
    extra = {"messages": [{"role": "user", "content": "one more"}, {"role": "assistant", "content": "yes"}]}
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(extra) + "\n")
    grown = dialogue_pairs(data, tokenizer, "train", 24)
    assert len(grown) == len(first) + 1
    assert any(p.messages[-1]["content"] == "one more" for p in grown)
