"""Stage configs from files: the presets load, and every mistake is one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from botkit.config import ConfigError
from botkit.training.config import (
    DataConfig,
    EvalConfig,
    PipelineConfig,
    PretrainConfig,
    SFTConfig,
    TokenizerConfig,
)
from botkit.training.config_file import ConfigSection, load

PRESETS = Path(__file__).resolve().parents[2] / "training" / "presets"


@pytest.mark.parametrize("preset", ["tiny.toml", "default_model.toml"])
def test_presets_load_whole_and_by_stage(preset: str) -> None:
    path = PRESETS / preset
    pipeline = load(PipelineConfig, path)
    assert pipeline.stages == ["tokenizer", "pretrain", "sft", "eval"]
    assert pipeline.output_dir.is_absolute()
    assert pipeline.sft.data.dialogue_files[0] == PRESETS.parent / "data" / "persona"
    stages: dict[str, type[ConfigSection]] = {
        "tokenizer": TokenizerConfig, "pretrain": PretrainConfig, "sft": SFTConfig, "eval": EvalConfig,
    }  # fmt: skip
    for section, cls in stages.items():
        # `botkit train sft --config preset` reads the preset's [sft] table as the pipeline does.
        assert load(cls, path, section=section) == getattr(pipeline, section), section


def test_default_model_preset_values() -> None:
    cfg = load(PipelineConfig, PRESETS / "default_model.toml")
    assert cfg.pretrain.train.max_minutes == 60.0  # an integer in TOML, a float in the model
    assert cfg.pretrain.train.learning_rate == 2e-3
    assert cfg.sft.data.chatterbot_languages == ["english"] * 10 + ["chinese"] * 60
    assert len(cfg.sft.data.dialogue_files) == 90  # the persona dialogues, repeated as the comment says
    assert cfg.sft.train.max_steps == 700
    assert cfg.sft.data.chitchat
    assert cfg.pretrain.data.chitchat  # pretraining reads the conversations too
    assert cfg.eval.weights_dtype == "bfloat16"
    assert cfg.sweep_file == PRESETS / "default_model_sweep.jsonl"
    assert cfg.ship_to == (PRESETS.parents[1] / "botkit" / "data" / "default-model").resolve()
    assert cfg.card_template == PRESETS / "default_model_card.md"


def test_unknown_config_key(tmp_path: Path) -> None:
    path = tmp_path / "pretrain.toml"
    path.write_text('output_dir = "out"\n[train]\nlearning_rat = 0.1\n')
    with pytest.raises(ConfigError, match=r"pretrain\.toml\.train: unknown key\(s\) 'learning_rat'"):
        load(PretrainConfig, path)


def test_yaml_config_and_type_errors(tmp_path: Path) -> None:
    path = tmp_path / "pretrain.yaml"
    path.write_text("output_dir: out\ntrain:\n  max_steps: 7\n  learning_rate: 1\n")
    cfg = load(PretrainConfig, path)
    assert cfg.train.max_steps == 7
    assert cfg.train.learning_rate == 1.0
    assert cfg.output_dir == (tmp_path / "out").resolve()  # relative to the config file
    path.write_text("train:\n  max_steps: many\n")
    with pytest.raises(ConfigError, match=r"train\.max_steps: expected an integer, got 'many'"):
        load(PretrainConfig, path)


def test_all_problems_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        'stages = ["tokenizer", "pretrian"]\n[pretrain.train]\nmax_step = 3\nbf16 = 1\nlog_evry = 2\n'
        "[sft.data]\ndialogue_files = [3]\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(PipelineConfig, path)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{path}.stages[1]: 'pretrian' is not one of 'tokenizer', 'pretrain', 'sft' or 'eval'" in message
    unknown = f"{path}.pretrain.train: unknown key(s) 'max_step', 'log_evry'; allowed keys: beta1, beta2,"
    assert unknown in message
    assert f"{path}.pretrain.train.bf16: expected true/false, got 1" in message
    assert f"{path}.sft.data.dialogue_files[0]: expected a path string, got 3" in message


def test_out_of_range_value(tmp_path: Path) -> None:
    path = tmp_path / "sft.toml"
    path.write_text("[sft.data]\nvalidation_fraction = 1.5\n[sft.train]\nmicro_batch_size = 0\n")
    with pytest.raises(ConfigError) as caught:
        load(SFTConfig, path, section="sft")
    assert str(caught.value) == (
        f"{path} [sft].data.validation_fraction: input should be less than 1, got 1.5; "
        f"{path} [sft].train.micro_batch_size: input should be greater than 0, got 0"
    )


def test_missing_and_unparsable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.toml"):
        load(PretrainConfig, tmp_path / "nope.toml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  max_steps: [1,\n")
    with pytest.raises(ConfigError, match=r"cannot parse config file .*bad\.yaml: ") as caught:
        load(PretrainConfig, bad)
    assert "\n" not in str(caught.value)
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"list\.yaml must hold a mapping at top level"):
        load(PretrainConfig, listed)


def test_python_construction_is_checked_too() -> None:
    assert DataConfig(text_files=["a.txt"]).text_files == [Path("a.txt")]  # no file: relative stays relative
    with pytest.raises(ValidationError, match="validation_fraction"):
        DataConfig(validation_fraction=2.0)
    with pytest.raises(ValidationError, match="learning_rat"):
        PretrainConfig.model_validate({"train": {"learning_rat": 0.1}})
    cfg = PretrainConfig()
    cfg.output_dir = "out/elsewhere"  # type: ignore[assignment]  # what a file would say: taken as a path
    assert cfg.output_dir == Path("out/elsewhere")
    with pytest.raises(ValidationError, match="architecture"):
        cfg.model.architecture = "rnn"  # type: ignore[assignment]
