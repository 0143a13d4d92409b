"""``KnowledgeBase.tune``: the embedding model adapted to a tiny knowledge base, saved in the data
directory, loaded back through the real loading code, and answering a question the shipped model gets wrong.

The tune runs for real (the shipped MiniLM, 15 steps on ~40 pairs, one torch thread, seeded) on an SQLite
file: the tuning and loading code is the same on PostgreSQL, which the other tests of the package cover.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from botkit.config import KBSettings
from botkit.db.engine import open_engine
from botkit.kb import KBError, KnowledgeBase, storage
from botkit.kb.embedder import load_embedder
from botkit.kb.index import dense_keys
from botkit.kb.tune import TuneConfig, batches, training_pairs

FAQ = "".join(
    [
        "question,answer,alternates\n",
        "How long do I have to return an item?,You can send back anything within 60 days of delivery for a ",
        "full refund.,what is the deadline for sending goods back|how many days until I can no longer bring ",
        "it back\n",
        "When will I get my refund?,Money goes back to your original card 5 to 7 business days after the ",
        "parcel reaches our warehouse.,how soon is the money back on my card|when is my card credited\n",
        'Can I swap an item for another size?,"Yes, order the new size and return the old one; a swap costs ',
        'nothing.",trade my jacket for a bigger one|I need a smaller fit instead\n',
        'What does the Quillon cover?,"The Quillon is our five-year promise: if a seam, zip or buckle ',
        'fails in normal use, we mend or replace it.",my zip broke is it covered|',
        "does the five-year promise include buckles\n",
        "How long does delivery take?,Standard parcels arrive in 3 to 5 business days; express in 1 to 2.,",
        "how many days until my parcel arrives|what is the transit time\n",
        'Do you ship abroad?,"We send to 30 countries in Europe and North America; duties are paid by the ',
        'buyer.",can you deliver to Germany|do you send parcels overseas\n',
    ]
)

CARE = """# Care

## Washing down jackets

Wash a down jacket cold with a down-specific soap. Tumble dry it low with two clean tennis balls so the \
filling does not clump. Never dry-clean down.

## Waterproofing shells

Renew the water-repellent finish once the fabric wets out. Wash the shell, then tumble it warm for twenty \
minutes to reactivate the coating.
"""

# Found by asking the tiny KB ~40 questions of our own: the shipped model sends this one to the size swap.
CHANGED_MY_MIND = "I changed my mind, can I send it back"
RETURNS = "faq.csv > How long do I have to return an item?"
QUICK = TuneConfig(epochs=3, batch_size=16, learning_rate=1e-4, max_seq_length=64, seed=0)


def test_pairs_come_from_the_knowledge_base_and_no_batch_holds_one_chunk_twice() -> None:
    chunks = [
        (1, "Q?", "The answer.", "Q?\nOther way to ask\nA third way"),
        (2, "Care > Down", "Wash it cold with soap. Tumble dry it low with balls.", None),
    ]
    pairs = training_pairs(chunks)
    assert ("Other way to ask", "The answer.", 1) in pairs
    assert ("Other way to ask", "Q?", 1) in pairs
    assert ("Care > Down", "Wash it cold with soap. Tumble dry it low with balls.", 2) in pairs
    passage = "Care > Down\nWash it cold with soap. Tumble dry it low with balls."
    assert ("Wash it cold with soap.", passage, 2) in pairs
    for batch in batches(pairs * 3, 4, random.Random(0)):
        groups = [group for _, _, group in batch]
        assert len(groups) == len(set(groups)), batch


def test_tuning_needs_a_place_for_the_model_and_enough_text(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    try:
        with pytest.raises(KBError, match="no data directory"):
            KnowledgeBase(engine, KBSettings()).tune(QUICK)
        with pytest.raises(KBError, match="too few to tune on"):
            KnowledgeBase(engine, KBSettings(), tuned_dir=tmp_path / "kb-model").tune(QUICK)
        assert not (tmp_path / "kb-model").exists()
    finally:
        engine.dispose()


def test_a_tuned_model_is_saved_loaded_and_answers_what_the_shipped_one_missed(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "faq.csv").write_text(FAQ, encoding="utf-8")
    (tmp_path / "docs" / "care.md").write_text(CARE, encoding="utf-8")
    tuned_dir = tmp_path / "data" / "kb-model"
    engine = open_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    try:
        kb = KnowledgeBase(engine, KBSettings(threshold=0.0), tuned_dir=tuned_dir)
        assert kb.add([tmp_path / "docs"]).ok
        assert kb.model_dir is None  # nothing tuned yet: the shipped model
        assert kb.search(CHANGED_MY_MIND, 1, method="dense")[0].source.label() != RETURNS
        base_vector = kb.embedder.encode([CHANGED_MY_MIND])[0]

        report = kb.tune(QUICK, progress=lambda done, total, _: None)
        assert report.steps > 0
        assert report.last_loss < report.first_loss
        assert (tuned_dir / "modules.json").is_file()
        assert (tuned_dir / "model.safetensors").is_file()

        # another process (a new KnowledgeBase on the same database and data dir) loads the tuned model
        again = KnowledgeBase(engine, KBSettings(threshold=0.0), tuned_dir=tuned_dir)
        assert again.model_dir == tuned_dir
        assert again.embedder.model_dir == tuned_dir.resolve()
        assert again.embedder is load_embedder(tuned_dir)
        tuned_vector = again.embedder.encode([CHANGED_MY_MIND])[0]
        assert float(base_vector @ tuned_vector) < 0.999  # the weights moved
        # every stored vector was embedded again with the tuned model
        for chunk in storage.load_chunks(engine, again.embedder.dimension):
            question = chunk.question
            keys = dense_keys(chunk.source.heading, chunk.text, question)
            np.testing.assert_allclose(chunk.vectors, again.embedder.encode(keys), atol=1e-4)
        assert again.search(CHANGED_MY_MIND, 1, method="dense")[0].source.label() == RETURNS
    finally:
        engine.dispose()


# Words the shop's documents never use for what they mean: only the labelled questions can teach them.
PENGUIN = "what about the blue penguin thing"
QUILLON = "faq.csv > What does the Quillon cover?"
HELDOUT = {
    "val": [
        [PENGUIN, QUILLON],
        ["is the blue penguin thing still valid after two years", QUILLON],
        ["I changed my mind, can I send it back", RETURNS],
        ["the coat is wrong, can I bring it back next month", RETURNS],
        ["when does my card get the money", "faq.csv > When will I get my refund?"],
        [
            "where is my refund",
            "Money goes back to your original card 5 to 7 business days after the parcel "
            "reaches our warehouse.",
        ],  # labelled by its FAQ answer, as an intent set's would be
        ["how fast is the parcel", "faq.csv > How long does delivery take?"],
        ["the jacket is too tight, bigger one please", "faq.csv > Can I swap an item for another size?"],
        ["do you post to Canada", "faq.csv > Do you ship abroad?"],
        ["how do I dry my down coat", "care.md > Care > Washing down jackets"],
        ["my shell soaks through now", "care.md > Care > Waterproofing shells"],
        ["can I ship my parcel to Mexico", "faq.csv > Do you ship abroad?"],
    ],
    "oos_val": [
        [q, "oos"]
        for q in (
            "what is the capital of Peru",
            "can you recommend a pizza place",
            "who won the match last night",
            "how do I reset my router",
            "what is 12 times 7",
            "tell me a joke about cats",
        )
    ],
}


def test_labelled_questions_pair_with_their_chunk_and_unknown_labels_are_named() -> None:
    from botkit.kb.storage import StoredChunk
    from botkit.kb.tune import question_pairs
    from botkit.kb.types import Source

    faq = StoredChunk(
        7, Source("faq.csv", "Returns?"), "Send it within 60 days.", "Returns?", "en", np.zeros((3, 2))
    )
    care = StoredChunk(8, Source("care.md", "Care > Down"), "Wash it cold.", None, "en", np.zeros((1, 2)))
    pairs = question_pairs(
        [
            ("can I send it back", "faq.csv > Returns?"),
            ("how to clean it", "care.md > Care > Down"),
            ("the deadline", "Send it within 60 days."),
        ],
        [faq, care],
    )
    assert pairs == [
        ("can I send it back", "Returns?\nSend it within 60 days.", 7),
        ("how to clean it", "Care > Down\nWash it cold.", 8),
        ("the deadline", "Returns?\nSend it within 60 days.", 7),
    ]
    with pytest.raises(KBError, match=r"1 question labels name nothing .*'faq.csv > Gone\?'"):
        question_pairs([("x", "faq.csv > Gone?"), ("y", "faq.csv > Returns?")], [faq, care])


def test_tuning_on_labelled_questions_learns_their_words_and_calibrates_out_of_fold(tmp_path: Path) -> None:
    import json

    from botkit.kb.calibration import Calibration
    from botkit.kb.heldout import tune_and_calibrate

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "faq.csv").write_text(FAQ, encoding="utf-8")
    (tmp_path / "docs" / "care.md").write_text(CARE, encoding="utf-8")
    heldout = tmp_path / "heldout.json"
    heldout.write_text(json.dumps(HELDOUT), encoding="utf-8")
    engine = open_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    try:
        kb = KnowledgeBase(
            engine,
            KBSettings(threshold=0.0),
            tuned_dir=tmp_path / "data" / "kb-model",
            calibration_file=tmp_path / "data" / "kb-calibration.json",
        )
        assert kb.add([tmp_path / "docs"]).ok
        assert kb.search(PENGUIN, 1, method="dense")[0].source.label() != QUILLON
        starts: list[int] = []
        report, fitted = tune_and_calibrate(
            kb, heldout, QUICK, progress=lambda done, total, _: starts.append(total) if done == 1 else None
        )
        assert len(starts) == 3  # one tune per fold, then one on every question
        # each fold learns from half the questions, the last tune from all of them
        assert starts[0] == starts[1] < starts[2]
        assert report.pairs == len(training_pairs(storage.chunk_texts(engine))) + len(HELDOUT["val"])
        assert "out of fold" in fitted.fitted_on
        assert Calibration.load(kb.calibration_file) == fitted  # the bot uses it from now on
        assert kb.calibration == fitted
        again = KnowledgeBase(engine, KBSettings(threshold=0.0), tuned_dir=tmp_path / "data" / "kb-model")
        assert again.search(PENGUIN, 1, method="dense")[0].source.label() == QUILLON
    finally:
        engine.dispose()
