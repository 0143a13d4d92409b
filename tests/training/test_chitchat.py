"""The chitchat-dataset importer: turns, empty messages, odd characters, bad files, and the real data."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from botkit.training import cli
from botkit.training.config import DataConfig
from botkit.training.corpora import iter_dialogues
from botkit.training.importers import chitchat_dataset_file, iter_chitchat
from botkit.training.records import DataError, validate_dialogue

A, B = "sender-a", "sender-b"
ODD = "naïve café 🙂👍🏽 你好 مرحبا\tx\u200by ½ \\n literally"  # emoji, CJK, RTL, a tab, a zero-width space


def _msg(text: str, sender: str) -> dict[str, str]:
    return {"text": text, "timestamp": "2018-05-02T19:38:15Z", "sender": sender}


def _write(tmp_path: Path, data: object, name: str = "sample.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


SAMPLE = {
    "merging": {
        "messages": [
            [_msg("Hello", A), _msg("How are you doing today?", A)],
            [_msg("im good", B)],
            [_msg("   ", A)],  # an empty message: dropped, so B's next list continues B's turn
            [_msg("and you?", B)],
            [_msg(ODD, A)],
            [_msg("  so you like 🙂?  ", B), _msg("", B)],
            [_msg("bye", A)],  # a trailing user turn: nothing to learn from
        ],
        "prompt": "What is your favourite food?",
    },
    "unanswered": {"messages": [[_msg("hi there", A), _msg("are you there?", A)]]},
    "only-empty-reply": {"messages": [[_msg("hi", A)], [_msg("", B)]]},
}


def test_turns_merge_empty_messages_drop_odd_characters_stay(tmp_path: Path) -> None:
    dialogues = list(iter_chitchat(_write(tmp_path, SAMPLE)))
    assert dialogues == [
        {
            "messages": [
                {"role": "user", "content": "Hello\nHow are you doing today?"},
                {"role": "assistant", "content": "im good\nand you?"},
                {"role": "user", "content": ODD},
                {"role": "assistant", "content": "so you like 🙂?"},
            ]
        }
    ]  # the unanswered conversations give no dialogue
    with_system = next(iter_chitchat(_write(tmp_path, SAMPLE), system="Be friendly."))
    assert with_system["messages"][0] == {"role": "system", "content": "Be friendly."}


def test_a_corpus_names_chitchat_files(tmp_path: Path) -> None:
    path = _write(tmp_path, SAMPLE)
    got = list(iter_dialogues(DataConfig(chitchat_files=[path], system_prompt="sys")))
    assert len(got) == 1
    assert got[0][0] == {"role": "system", "content": "sys"}
    assert got[0][3]["content"] == ODD


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ([{"messages": []}], r"sample\.json: not a chitchat-dataset file: expected an object of conv"),
        ({"c1": {"turns": []}}, r"sample\.json: conversation 'c1': expected \{\"messages\""),
        ({"c1": {"messages": [{"text": "hi", "sender": A}]}}, r"conversation 'c1': messages\[0\] is a dict"),
        ({"ok": SAMPLE["merging"], "c2": {"messages": [[_msg("hi", A)], [{"text": "yo"}]]}},
         r"sample\.json: conversation 'c2': messages\[1\]\[0\] must be \{\"text\": str, \"sender\": str"),
        ({"c3": {"messages": [[_msg("hi", A)], [_msg("yo", B)], [_msg("hey", "sender-c")]]}},
         r"conversation 'c3': messages\[2\]\[0\] has a third sender"),
    ],
)  # fmt: skip
def test_wrong_format_names_the_file_and_the_record(tmp_path: Path, data: object, where: str) -> None:
    with pytest.raises(DataError, match=where):
        list(iter_chitchat(_write(tmp_path, data)))


def test_not_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"c1": {"messages": [', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.json: not a chitchat-dataset file: Expecting value"):
        list(iter_chitchat(path))


def test_installed_dataset(tmp_path: Path) -> None:
    path = chitchat_dataset_file()
    assert path.name == "dataset.json"
    dialogues = list(iter_dialogues(DataConfig(chitchat=True)))
    # 7,168 conversations, of which 3,150 have one sender (nobody answered) and one only an empty reply.
    assert len(dialogues) == 4017
    for messages in dialogues:
        assert validate_dialogue({"messages": messages}) == messages
        roles = [m["role"] for m in messages]
        assert roles[0] == "user"
        assert roles[-1] == "assistant"
        assert all(a != b for a, b in itertools.pairwise(roles))  # merged: senders alternate
        assert all(m["content"] and m["content"] == m["content"].strip() for m in messages)
    assert sum(len(m) for m in dialogues) == 133_684  # turns


def test_import_chitchat_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "chitchat.jsonl"
    assert cli.main(["import-chitchat", "--file", str(_write(tmp_path, SAMPLE)), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote 1 dialogues to {out}\n"
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == list(
        iter_chitchat(tmp_path / "sample.json")
    )
    bad = _write(tmp_path, [1, 2], "bad.json")
    assert cli.main(["import-chitchat", "--file", str(bad), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"botkit train: {bad}: not a chitchat-dataset file")
    assert err.count("\n") == 1


def test_a_pipeline_config_names_the_corpus(tmp_path: Path) -> None:
    from botkit.config import ConfigError
    from botkit.training.config import PipelineConfig
    from botkit.training.config_file import load

    sample = _write(tmp_path, SAMPLE)
    path = tmp_path / "p.toml"
    path.write_text(f'[sft.data]\nchitchat = true\nchitchat_files = ["{sample.name}"]\n')
    cfg = load(PipelineConfig, path)
    assert cfg.sft.data.chitchat
    assert cfg.sft.data.chitchat_files == [sample]  # relative to the config file
    assert not cfg.eval.data.chitchat  # off unless named
    path.write_text('[sft.data]\nchitchat = "yes"\n')
    with pytest.raises(ConfigError, match=r"chitchat"):
        load(PipelineConfig, path)
