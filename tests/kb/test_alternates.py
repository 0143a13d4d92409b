"""FAQ entries with alternate phrasings: read from an ``alternates`` column or from rows that repeat an
answer, kept with the entry, and matched like its question while citations still name the question."""

from __future__ import annotations

from pathlib import Path

from botkit.config import KBSettings
from botkit.db.engine import open_engine
from botkit.kb import KnowledgeBase
from botkit.kb.chunking import faq_questions
from botkit.kb.index import dense_keys, lexical_keys
from botkit.kb.readers import read_faq_csv

FAQ = (
    "question,answer,alternates\n"
    "How long do I have to return an item?,Within 60 days of delivery.,deadline for sending goods back|"
    "how many days until returns close\n"
    "Do you ship abroad?,We send to 30 countries.,\n"
    "Can you deliver to Norway?,We send to 30 countries.,\n"
)


def test_alternates_come_from_the_column_and_from_rows_that_repeat_an_answer(tmp_path: Path) -> None:
    document = read_faq_csv(tmp_path / "faq.csv", FAQ.encode(), 180)
    assert [c.heading for c in document.chunks] == [
        "How long do I have to return an item?",
        "Do you ship abroad?",
    ]
    returns, abroad = document.chunks
    assert faq_questions(returns.question or "") == [
        "How long do I have to return an item?",
        "deadline for sending goods back",
        "how many days until returns close",
    ]
    assert faq_questions(abroad.question or "") == ["Do you ship abroad?", "Can you deliver to Norway?"]
    # each phrasing is a retrieval key of its own, for both retrievers
    keys = lexical_keys(returns.heading, returns.text, returns.question)
    assert keys == [
        "How long do I have to return an item?\nWithin 60 days of delivery.",
        "How long do I have to return an item?",
        "deadline for sending goods back",
        "how many days until returns close",
    ]
    assert dense_keys(returns.heading, returns.text, returns.question) == keys


def test_an_alternate_finds_its_entry_and_the_citation_names_the_question(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "faq.csv").write_text(FAQ, encoding="utf-8")
    engine = open_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    try:
        kb = KnowledgeBase(engine, KBSettings(threshold=0.0))
        assert kb.add([tmp_path / "kb"]).ok
        for method in ("bm25", "dense"):
            top = kb.search("Norway", 1, method=method)[0]
            assert top.question == "Do you ship abroad?", method
            assert top.source.label() == "faq.csv > Do you ship abroad?"
        # an alternate asked word for word matches its own key: a cosine of 1, as the question's would
        hit = kb.search("deadline for sending goods back", 1)[0]
        assert hit.question == "How long do I have to return an item?"
        assert hit.dense is not None
        assert hit.dense > 0.99
    finally:
        engine.dispose()
