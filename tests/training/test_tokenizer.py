"""The tokenizer stage: exact round trips and botkit's chat format."""

from __future__ import annotations

from pathlib import Path

import pytest

from botkit.model import chat_format


@pytest.mark.parametrize(
    "text",
    [
        "Hello, world! The cat sat.",
        "小猫坐在垫子上看着小狗。",
        "emoji 🙂😂👍🏽 and 🇨🇳",
        "mixed 中文 and English 🙂\n\ttabs",
    ],
)
def test_round_trip(tokenizer_dir: Path, text: str) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    assert tok.unk_token_id is None or tok.unk_token_id not in ids  # byte-level: nothing unknown


def test_special_tokens_and_template(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    for special in chat_format.SPECIAL_TOKENS:
        assert len(tok(special, add_special_tokens=False)["input_ids"]) == 1
    assert tok.eos_token == chat_format.EOS
    assert tok.pad_token == chat_format.PAD
    assert tok.bos_token == chat_format.BOS
    assert tok.chat_template == chat_format.CHAT_TEMPLATE
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
