"""``botkit train ...``: the sub-commands, the pipeline's skipping, and one-line errors."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from botkit.training import cli


def test_register_adds_train_stages() -> None:
    parser = argparse.ArgumentParser(prog="botkit")
    cli.register(parser.add_subparsers(dest="command"))
    for stage in ("tokenizer", "pretrain", "sft", "eval", "pipeline"):
        args = parser.parse_args(["train", stage, "--config", "x.toml"])
        assert args.train_command == stage
        assert callable(args.handler)


def test_unknown_key_is_exit_2_with_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sft.toml"
    path.write_text("[sft]\nmax_step = 3\n")
    assert cli.main(["sft", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("botkit train: ")
    assert err.count("\n") == 1  # one line
    assert "unknown key(s) 'max_step'" in err
    assert "sft.toml [sft]" in err


def test_installed_botkit_train_help_lists_the_stages() -> None:
    botkit = Path(sys.executable).parent / "botkit"  # the console script, found through botkit.commands
    proc = subprocess.run([str(botkit), "train", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    for stage in ("tokenizer", "pretrain", "sft", "eval", "pipeline", "import-chatterbot", "import-csv",
                  "import-chitchat"):  # fmt: skip
        assert stage in proc.stdout, stage


def test_module_entry_point_runs_a_stage_parser(tmp_path: Path) -> None:
    """``python -m botkit.training.cli`` (what torchrun runs) takes the stage as its first argument."""
    path = tmp_path / "bad.toml"
    path.write_text("[pretrain.model]\narchitecture = 'rnn'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "botkit.training.cli", "pretrain", "--config", str(path)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    want = f"botkit train: {path} [pretrain].model.architecture: 'rnn' is not one of 'llama' or 'gpt2'\n"
    assert proc.stderr == want


def test_a_bad_config_fails_before_torch_is_imported(tmp_path: Path) -> None:
    path = tmp_path / "sft.toml"
    path.write_text("[sft.train]\nmax_steps = 'many'\n")
    script = (
        "import sys\nfrom botkit.training import cli\n"
        f"code = cli.main(['sft', '--config', {str(path)!r}])\n"
        "print(code, 'torch' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.stdout == "2 False\n", proc.stderr
    assert "sft.toml [sft].train.max_steps: expected an integer, got 'many'" in proc.stderr


def test_unwritable_output_is_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], corpus_dir: Path
) -> None:
    (tmp_path / "file").write_text("x")
    path = tmp_path / "tok.yaml"
    path.write_text(
        f"output_dir: {tmp_path / 'file' / 'tok'}\ndata:\n  text_files: [{corpus_dir / 'text.txt'}]\n"
    )
    assert cli.main(["tokenizer", "--config", str(path)]) == 1
    assert "is not writable" in capsys.readouterr().err


def test_pipeline_runs_all_stages_then_skips_them(tmp_path: Path, corpus_dir: Path) -> None:
    text, dialogues = corpus_dir / "text.txt", corpus_dir / "dialogues.jsonl"
    loop = "micro_batch_size = 4\nwarmup_steps = 1\neval_batches = 1\nprogress = false\nnum_threads = 1\n"
    path = tmp_path / "pipeline.toml"
    path.write_text(
        f'output_dir = "{tmp_path / "run"}"\n'
        f'[tokenizer]\nvocab_size = 300\n[tokenizer.data]\ntext_files = ["{text}"]\n'
        f'[pretrain.data]\ntext_files = ["{text}"]\n'
        "[pretrain.model]\nhidden_size = 32\nnum_layers = 1\nnum_heads = 2\ncontext_length = 32\n"
        f"[pretrain.train]\nmax_steps = 3\n{loop}"
        f'[sft.data]\ndialogue_files = ["{dialogues}"]\n[sft.train]\nmax_steps = 2\n{loop}'
        f'[eval]\nmax_replies = 1\nsubset_size = 2\nmax_new_tokens = 3\nprompts = ["hi"]\n'
        f'[eval.data]\ndialogue_files = ["{dialogues}"]\nvalidation_fraction = 0.1\n'
    )
    assert cli.main(["pipeline", "--config", str(path)]) == 0
    run = tmp_path / "run"
    markers = {s: (run / s / "stage.json").read_text() for s in ("tokenizer", "pretrain", "sft", "eval")}
    assert json.loads(markers["pretrain"])["steps"] == 3
    assert (run / "sft" / "model.safetensors").is_file()
    assert (run / "eval" / "eval.json").is_file()
    assert cli.main(["pipeline", "--config", str(path)]) == 0  # everything complete: all skipped
    assert {s: (run / s / "stage.json").read_text() for s in markers} == markers


def test_pipeline_cut_by_its_time_budget_says_rerun(
    tmp_path: Path, corpus_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = corpus_dir / "text.txt"
    path = tmp_path / "pipeline.toml"
    path.write_text(
        f'output_dir = "{tmp_path / "run"}"\nstages = ["tokenizer", "pretrain"]\n'
        f'[tokenizer]\nvocab_size = 300\n[tokenizer.data]\ntext_files = ["{text}"]\n'
        f'[pretrain.data]\ntext_files = ["{text}"]\n'
        "[pretrain.model]\nhidden_size = 32\nnum_layers = 1\nnum_heads = 2\ncontext_length = 32\n"
        "[pretrain.train]\nmax_steps = 2\nmax_minutes = 1e-9\nmicro_batch_size = 4\nwarmup_steps = 1\n"
        "eval_batches = 1\nprogress = false\nnum_threads = 1\n"
    )
    assert cli.main(["pipeline", "--config", str(path)]) == cli.UNFINISHED == 75
    err = capsys.readouterr().err  # (transformers' progress bar for writing the model may come first)
    assert err.splitlines()[-1] == (
        "botkit train: pretrain stopped at its time budget (max_minutes) before its last step; "
        "run the same command again to continue it from its checkpoint"
    )
    assert not (tmp_path / "run" / "pretrain" / "stage.json").exists()
    assert cli.main(["pipeline", "--config", str(path)]) == 0  # the second run does the last step
    assert json.loads((tmp_path / "run" / "pretrain" / "stage.json").read_text())["steps"] == 2
