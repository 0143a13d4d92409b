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


def test_packed_blocks_record_each_dialogue_as_a_segment() -> None:
    a = (np.array([1, 2, 3]), np.array([IGNORE, 2, 3]))
    b = (np.array([4, 5]), np.array([IGNORE, 5]))
    blocks = pack_dialogues([a, b], block_size=7, pad_id=0)
    assert blocks.segments.tolist() == [[0, 0, 0, 1, 1, 2, 2]]  # padding is a segment of its own
    extra = blocks.attention_inputs(np.array([0]))
    assert extra["position_ids"].tolist() == [[0, 1, 2, 0, 1, 0, 1]]  # positions restart per dialogue
    allowed = (extra["attention_mask"][0, 0] == 0).int()
    assert allowed.tolist() == [
        [1, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 0],  # the second dialogue does not see the first
        [0, 0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 1, 1],
    ]
    assert pack_stream([np.arange(8, dtype=np.uint32)], 4).attention_inputs(np.array([0])) == {}


def _tiny_llama(vocab: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=128)  # fmt: skip
    return LlamaForCausalLM(config).eval()


def test_a_tokens_loss_ignores_the_dialogue_before_it(tokenizer_dir: Path, tmp_path: Path) -> None:
    """The issue's property: changing the preceding dialogue in a block leaves a token's loss unchanged."""
    import torch
    from transformers import AutoTokenizer

    from botkit.training.loop import Trainer
    from tests.training.conftest import DIALOGUES, tiny_loop

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    first, other_first, target = (encode_dialogue(tok, DIALOGUES[i]) for i in (0, 3, 1))
    assert len(first[0]) != len(other_first[0])  # the target dialogue starts at another position
    model = _tiny_llama(len(tok))
    trainer = Trainer(model, pack_stream([np.arange(64)], 32), None, tiny_loop(), tmp_path)

    def target_losses(before: list) -> tuple[torch.Tensor, torch.Tensor]:
        blocks = pack_dialogues([*before, target], block_size=96, pad_id=tok.pad_token_id)
        assert len(blocks) == 1
        idx = np.array([0])
        start = sum(len(ids) for ids, _ in before)
        span = slice(start, start + len(target[0]) - 1)  # positions predicting the target's next tokens
        with torch.no_grad():
            masked = trainer.token_losses(*blocks.batch(idx), blocks.attention_inputs(idx))[0, span]
            leaky = trainer.token_losses(*blocks.batch(idx))[0, span]  # the old way: ids only
        assert (blocks.labels[0, start : start + len(target[0])] == target[1]).all()  # assistant-only labels
        return masked, leaky

    alone, _ = target_losses([])
    after_one, leaky_one = target_losses([first])
    after_other, leaky_other = target_losses([other_first])
    assert (alone > 0).any()
    torch.testing.assert_close(after_one, alone, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(after_other, alone, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(leaky_one, leaky_other, rtol=1e-3)  # without the mask the context leaks


def test_shuffled_packing_still_fills_blocks() -> None:
    from botkit.training.packing import shuffled

    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 60, size=400)
    encoded = [(np.full(n, i, dtype=np.int64), np.full(n, i, dtype=np.int64)) for i, n in enumerate(lengths)]
    order = shuffled(encoded, seed=3)
    assert [d[0][0] for d in order] != list(range(400))  # shuffled ...
    assert [d[0][0] for d in order] == [d[0][0] for d in shuffled(encoded, seed=3)]  # ... the same each time
    blocks = pack_dialogues(order, block_size=256, pad_id=-1)
    assert blocks.ids.size >= lengths.sum()
    fill = lengths.sum() / blocks.ids.size
    assert fill > 0.85, fill  # next-fit on shuffled lengths of 5-59 in blocks of 256
    packed = sorted(int(v) for v in np.unique(blocks.ids) if v >= 0)
    assert packed == list(range(400))  # every dialogue, each whole in one block
    for row, seg in zip(blocks.ids, blocks.segments, strict=True):
        for s in np.unique(seg):
            assert len(set(row[seg == s].tolist())) == 1  # a segment is one dialogue (or the padding)


def test_a_long_dialogue_is_cut_into_windows_of_whole_turns(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    from botkit.model.chat_format import TURN_START
    from botkit.training.packing import split_long_dialogue

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    system = [{"role": "system", "content": "Be brief."}]
    turns = []
    for i in range(12):
        reply = f"answer {i}: " + "yes, " * (i % 4) + "it is."
        turns += [{"role": "user", "content": f"question {i}: is the cat on the mat? 🙂"},
                  {"role": "assistant", "content": reply}]  # fmt: skip
    messages = system + turns
    ids, labels = encode_dialogue(tok, messages)
    block = 90
    assert len(ids) > 3 * block
    start = tok.convert_tokens_to_ids(TURN_START)
    windows = split_long_dialogue(ids, labels, start, len(messages), block, system=True)
    first = 0
    for win_ids, win_labels in windows:
        assert len(win_ids) <= block
        # The window is exactly the encoding of the system turn and whole turns ending in an answer.
        sizes = {e: len(encode_dialogue(tok, system + turns[first : e + 1])[0])
                 for e in range(first + 1, len(turns), 2)}  # fmt: skip
        last = next(e for e, n in sizes.items() if n == len(win_ids))
        assert sizes.get(last + 2, block + 1) > block  # as many turns as fit
        want_ids, want_labels = encode_dialogue(tok, system + turns[first : last + 1])
        assert win_ids.tolist() == want_ids.tolist()
        assert win_labels.tolist() == want_labels.tolist()
        first = last + 1
    assert first == len(turns)  # every turn in exactly one window
    assert sum(int((w[1] != IGNORE).sum()) for w in windows) == int((labels != IGNORE).sum())
    assert len(windows) > 3
    short = split_long_dialogue(ids[:50], labels[:50], start, 3, block, system=True)
    assert [w[0].tolist() for w in short] == [ids[:50].tolist()]  # fits: unchanged


def test_an_exchange_longer_than_a_block_is_cut_as_before(tokenizer_dir: Path) -> None:
    from transformers import AutoTokenizer

    from botkit.model.chat_format import TURN_START
    from botkit.training.packing import split_long_dialogue

    tok = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True)
    messages = [{"role": "user", "content": "tell me everything"},
                {"role": "assistant", "content": "the cat sat on the mat. " * 30}]  # fmt: skip
    ids, labels = encode_dialogue(tok, messages)
    start = tok.convert_tokens_to_ids(TURN_START)
    windows = split_long_dialogue(ids, labels, start, len(messages), 40, system=False)
    assert [(w[0].tolist(), w[1].tolist()) for w in windows] == [(ids[:40].tolist(), labels[:40].tolist())]
