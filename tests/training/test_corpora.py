"""Data: streaming, splits, importers, and clear errors on bad input (config files: test_config.py)."""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import pytest

from botkit.training.config import DataConfig, PretrainConfig, TokenizerConfig
from botkit.training.corpora import iter_dialogues, iter_text
from botkit.training.importers import import_chatterbot, iter_chatterbot, iter_qa_csv
from botkit.training.outputs import OutputError, check_writable
from botkit.training.records import DataError


def test_split_is_deterministic_and_disjoint(corpus_dir: Path) -> None:
    cfg = DataConfig(text_files=[corpus_dir], validation_fraction=0.2)
    train, val = list(iter_text(cfg, "train")), list(iter_text(cfg, "validation"))
    assert train
    assert val
    assert not set(train) & set(val)
    assert sorted(train + val) == sorted(iter_text(cfg, "all"))
    assert val == list(iter_text(cfg, "validation"))  # same split every time
    other = list(
        iter_text(DataConfig(text_files=[corpus_dir], validation_fraction=0.2, split_seed=1), "validation")
    )
    assert other != val


def test_txt_and_jsonl_text(corpus_dir: Path) -> None:
    docs = list(iter_text(DataConfig(text_files=[corpus_dir / "text.txt", corpus_dir / "text.jsonl"])))
    assert len(docs) == 360
    assert "小猫坐在垫子上看着小狗。 (0)" in docs


def _bad_dialogues(tmp_path: Path) -> Path:
    good = json.dumps({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]})
    path = tmp_path / "bad.jsonl"
    path.write_text(f"{good}\n{{not json\n{good}\n" + '{"messages": [{"role": "robot", "content": "x"}]}\n')
    return path


def test_malformed_line_skipped_with_file_and_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _bad_dialogues(tmp_path)
    with caplog.at_level(logging.WARNING):
        dialogues = list(iter_dialogues(DataConfig(dialogue_files=[path], on_bad_line="skip")))
    assert len(dialogues) == 2  # the rest continues
    assert f"{path}:2: invalid JSON" in caplog.text
    assert f"{path}:4: message 0 must be" in caplog.text


def test_malformed_line_stops_when_configured(tmp_path: Path) -> None:
    path = _bad_dialogues(tmp_path)
    with pytest.raises(DataError, match=r"bad\.jsonl:2: invalid JSON"):
        list(iter_dialogues(DataConfig(dialogue_files=[path], on_bad_line="error")))


def test_empty_corpus_is_a_clear_error(tmp_path: Path) -> None:
    from botkit.training.tokenizer import train_tokenizer

    (tmp_path / "empty.txt").write_text("\n\n")
    cfg = TokenizerConfig(output_dir=tmp_path / "tok", data=DataConfig(text_files=[tmp_path / "empty.txt"]))
    with pytest.raises(DataError, match=r"empty corpus: no documents found in .*empty\.txt"):
        train_tokenizer(cfg)


def test_empty_corpus_in_pretraining(tmp_path: Path, tokenizer_dir: Path) -> None:
    from botkit.training.pretrain import run_pretrain

    (tmp_path / "empty.txt").write_text("")
    cfg = PretrainConfig(output_dir=tmp_path / "out", tokenizer=tokenizer_dir,
                         data=DataConfig(text_files=[tmp_path / "empty.txt"]))  # fmt: skip
    with pytest.raises(DataError, match=r"empty corpus: no text found in .*empty\.txt"):
        run_pretrain(cfg)


def test_missing_data_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"data file not found: .*nope\.txt"):
        list(iter_text(DataConfig(text_files=[tmp_path / "nope.txt"])))


def test_unwritable_output_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(OutputError, match=r"output directory .*a-file/out is not writable"):
        check_writable(blocker / "out")


def test_chatterbot_importer(tmp_path: Path) -> None:
    english = list(iter_chatterbot(["english"]))
    chinese = list(iter_chatterbot(["chinese"], system="Be kind."))
    assert len(english) > 100
    assert len(chinese) > 50
    for d in english + chinese:
        roles = [m["role"] for m in d["messages"] if m["role"] != "system"]
        assert roles[0] == "user"
        assert roles[-1] == "assistant"
        assert all(a != b for a, b in itertools.pairwise(roles))  # turns alternate
    assert chinese[0]["messages"][0] == {"role": "system", "content": "Be kind."}
    n = import_chatterbot(tmp_path / "zh.jsonl", ["chinese"])
    assert n == len(chinese)
    assert len(list(iter_dialogues(DataConfig(dialogue_files=[tmp_path / "zh.jsonl"])))) == n
    with pytest.raises(DataError, match="no language 'klingon'"):
        list(iter_chatterbot(["klingon"]))


def test_qa_csv_importer(tmp_path: Path) -> None:
    path = tmp_path / "qa.csv"
    path.write_text('question,answer\nWhat is botkit?,"A bot toolkit, for chat."\n你好,你好！\n,empty\n')
    dialogues = list(iter_qa_csv(path))
    assert dialogues[0]["messages"] == [
        {"role": "user", "content": "What is botkit?"},
        {"role": "assistant", "content": "A bot toolkit, for chat."},
    ]
    assert len(dialogues) == 2
    both = list(iter_dialogues(DataConfig(qa_csv_files=[path], system_prompt="sys")))
    assert both[0][0] == {"role": "system", "content": "sys"}
    (tmp_path / "bad.csv").write_text("q,a\nx,y\n")
    with pytest.raises(DataError, match="no column 'question'"):
        list(iter_qa_csv(tmp_path / "bad.csv"))
