"""Packing text into blocks and dialogues into masked blocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from botkit.training.packing import IGNORE, encode_dialogue, pack_dialogues, pack_stream


def test_pack_stream_cuts_full_blocks_in_order() -> None:
    chunks = [np.arange(0, 5, dtype=np.uint32), np.arange(5, 12, dtype=np.uint32)]
    blocks = pack_stream(chunks, block_size=4)
    assert len(blocks) == 3  # 12 tokens -> 3 full blocks, no padding
    assert blocks.ids.tolist() == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    ids, labels = blocks.batch(np.array([1]))
    assert ids.tolist() == labels.tolist() == [[4, 5, 6, 7]]


def test_loss_mask_covers_assistant_tokens_only(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "hi there 🙂"},
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "你好！"},
    ]
    ids, labels = encode_dialogue(tok, messages)
    target = labels != IGNORE
    assert (labels[target] == ids[target]).all()
    # The labelled tokens are exactly the assistant turns and their end-of-turn tokens.
    assert tok.decode(ids[target]) == "hi there 🙂<|im_end|>你好！<|im_end|>"
    assert "user" not in tok.decode(ids[target])
    assert "Be brief" not in tok.decode(ids[target])


def test_pack_dialogues_keeps_dialogues_whole_and_pads_without_labels() -> None:
    a = (np.array([1, 2, 3]), np.array([IGNORE, 2, 3]))
    b = (np.array([4, 5, 6, 7]), np.array([IGNORE, IGNORE, 6, 7]))
    c = (np.array([8, 9]), np.array([IGNORE, IGNORE]))  # no assistant tokens: dropped
    blocks = pack_dialogues([a, b, c], block_size=6, pad_id=0)
    assert blocks.ids.tolist() == [[1, 2, 3, 0, 0, 0], [4, 5, 6, 7, 0, 0]]
    assert blocks.labels.tolist() == [
        [IGNORE, 2, 3, IGNORE, IGNORE, IGNORE],
        [IGNORE, IGNORE, 6, 7, IGNORE, IGNORE],
    ]
