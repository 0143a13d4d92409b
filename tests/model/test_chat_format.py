"""Encoding chats: the light tokenizer of the bot side gives the ids the worker's tokenizer gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from botkit.model.chat_format import CHAT_TEMPLATE, ChatTokenizer, encode_chat
from botkit.model.loader import default_model_dir, load_model
from botkit.types import ChatTurn

CHATS: list[list[ChatTurn]] = [
    [{"role": "user", "content": "hi"}],
    [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "你好，世界 🌍  two  spaces\n\nand lines"},
        {"role": "assistant", "content": "Hello! <|im_start|> is a token in my text."},
        {"role": "user", "content": ""},
    ],
    [{"role": "user", "content": "def f(x):\n    return x * 2  # code, tabs\tand ümlauts"}],
]


def model_dirs(tiny_model_dir: Path) -> list[Path]:
    shipped = default_model_dir()
    return [tiny_model_dir, *([shipped] if shipped is not None else [])]


def test_the_light_tokenizer_agrees_with_transformers(tiny_model_dir: Path) -> None:
    for directory in model_dirs(tiny_model_dir):
        theirs = load_model(directory, device="cpu").tokenizer
        ours = ChatTokenizer.from_dir(directory)
        for chat in CHATS:
            assert ours.encode_chat(chat) == encode_chat(theirs, chat), (directory, chat)


def test_a_template_in_the_config_or_none_at_all(tiny_model_dir: Path, tmp_path: Path) -> None:
    inline = tmp_path / "inline"
    shutil.copytree(tiny_model_dir, inline)
    (inline / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((inline / "tokenizer_config.json").read_text(encoding="utf-8"))
    shouting = "{% for m in messages %}{{ m['role'] | upper }}: {{ m['content'] }}{{ eos_token }}{% endfor %}"
    (inline / "tokenizer_config.json").write_text(json.dumps(config | {"chat_template": shouting}))

    assert ChatTokenizer.from_dir(inline).render(CHATS[0]) == "USER: hi<|im_end|>"

    (inline / "tokenizer_config.json").write_text(json.dumps(config))  # no template anywhere
    plain = ChatTokenizer.from_dir(inline)
    assert plain.render(CHATS[0]) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert CHAT_TEMPLATE.startswith("{%- for message in messages")


def test_a_directory_without_tokenizer_json_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"has no tokenizer.json"):
        ChatTokenizer.from_dir(tmp_path)
