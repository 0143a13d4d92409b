"""Answers, on SQLite and PostgreSQL: the FAQ's own words, a passage's paragraph with its citation, "not
sure" outside the knowledge base, the model's rephrasing only where allowed, and questions refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from botkit.config import KBSettings
from botkit.kb import KBError, KnowledgeBase, QueryTooLong, Source
from botkit.testing import ScriptedModel
from tests.kb.shop import FAQ


@pytest.fixture
def shop_kb(kb: KnowledgeBase, shop_dir: Path) -> KnowledgeBase:
    assert kb.add([shop_dir]).ok
    return kb


async def test_an_faq_question_is_answered_with_the_companys_own_text(shop_kb: KnowledgeBase) -> None:
    answer = await shop_kb.answer("how many days have I got to send something back?")
    assert answer.kind == "faq"
    assert answer.sure
    assert answer.text == FAQ[0][1]
    assert answer.sources == (Source("faq.csv", "How long do I have to return an item?"),)
    assert answer.confidence >= shop_kb.settings.threshold
    assert answer.hits[0].question == FAQ[0][0]


async def test_a_passage_answer_cites_its_file_and_heading_and_link(shop_kb: KnowledgeBase) -> None:
    answer = await shop_kb.answer("When is the Harbour Street shop open?")
    assert answer.kind == "passage"
    assert answer.text == (
        "The Harbour Street shop opens Monday to Saturday, 10:00 to 19:00, and has free bike parking."
    )
    (source,) = answer.sources
    assert source == Source("pages/stores.html", "Our stores > Harbour Street", "https://shop.example/stores")
    assert source.label() == "pages/stores.html > Our stores > Harbour Street"


async def test_a_long_passage_is_trimmed_to_the_paragraph_that_answers(shop_kb: KnowledgeBase) -> None:
    paragraphs = [
        "Our tents are tested in the Scottish highlands every spring before they go on sale, in wind and "
        "rain, by the same small team that designs them in our workshop.",
        "Every tent ships with spare pegs, a repair sleeve for the poles and a patch kit for the fly, packed "
        "in a pocket sewn inside the stuff sack so that they are never left at home.",
        "Pitching takes about ten minutes once you have done it twice; the video guide on each product page "
        "shows every step, from laying out the footprint to tensioning the guy lines.",
        "Wash a muddy tent with cold water only and dry it fully before you pack it away for winter.",
    ]
    page = Path(shop_kb.documents()[0].source).parent / "tents.md"
    page.write_text("# Tents\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    assert shop_kb.add([page]).ok
    answer = await shop_kb.answer("how should I clean a dirty tent?")
    assert answer.kind == "passage"
    assert answer.sources == (Source("tents.md", "Tents"),)
    assert answer.text == paragraphs[3]


async def test_a_question_outside_the_knowledge_base_gets_unsure(shop_kb: KnowledgeBase) -> None:
    answer = await shop_kb.answer("Who painted the Mona Lisa?")
    assert answer.kind == "unsure"
    assert not answer.sure
    assert answer.text is None
    assert answer.sources == ()
    assert answer.confidence < shop_kb.settings.threshold
    assert answer.hits  # what was retrieved is still there for the agent who takes over


async def test_a_chinese_question_finds_the_chinese_faq(shop_kb: KnowledgeBase) -> None:
    answer = await shop_kb.answer("客服电话是多少？")
    assert answer.kind == "faq"
    assert answer.text == FAQ[3][1]
    assert answer.hits[0].dense is None  # ranked by BM25: the embedding model reads no Chinese


async def test_too_long_and_empty_questions_are_refused_with_a_reason(shop_kb: KnowledgeBase) -> None:
    with pytest.raises(QueryTooLong) as caught:
        await shop_kb.answer("why " * 2500)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value) == (
        "the question is 9999 characters long; the knowledge base takes at most 1000 (setting "
        "kb.max_query_chars)"
    )
    with pytest.raises(ValueError, match="the question is empty: ask the knowledge base something"):
        await shop_kb.answer("   \n")
    with pytest.raises(QueryTooLong):
        shop_kb.search("x" * 10_000)


async def test_an_empty_knowledge_base_is_unsure(kb: KnowledgeBase) -> None:
    answer = await kb.answer("Do you ship to Canada?")
    assert (answer.kind, answer.text, answer.confidence, answer.hits) == ("unsure", None, 0.0, ())


async def test_the_model_rephrases_passages_only_where_allowed(kb: KnowledgeBase, shop_dir: Path) -> None:
    model = ScriptedModel(["Refunds take up to 5 business days once we have your parcel."])
    allowed = KnowledgeBase(kb.engine, KBSettings(threshold=0.4, rephrase=True), generator=model)
    assert allowed.add([shop_dir]).ok

    passage = await allowed.answer("When do refunds reach my card?", language="en")
    assert passage.kind == "passage"
    assert passage.text == "Refunds take up to 5 business days once we have your parcel."
    assert Source("policies/returns.md", "Returns policy > Refunds") in passage.sources
    (prompt,) = model.calls
    assert "Refunds reach your card within 5 business days" in prompt[0]["content"]
    assert "Answer in en" in prompt[0]["content"]
    assert prompt[-1] == {"role": "user", "content": "When do refunds reach my card?"}

    faq = await allowed.answer("Do you ship to Canada?")
    assert faq.text == FAQ[1][1]  # the company's own words, never rephrased
    assert len(model.calls) == 1

    not_allowed = KnowledgeBase(kb.engine, KBSettings(threshold=0.4), generator=model)
    plain = await not_allowed.answer("When do refunds reach my card?")
    assert (
        plain.text
        == "Refunds reach your card within 5 business days after the parcel arrives at our warehouse."
    )
    assert len(model.calls) == 1


def test_a_model_folder_that_is_not_a_model_is_named(database_url: str, tmp_path: Path) -> None:
    from botkit.db.engine import open_engine

    engine = open_engine(database_url)
    try:
        kb = KnowledgeBase(engine, KBSettings(model_dir=tmp_path))
        with pytest.raises(KBError, match=f"{tmp_path} is not a sentence-transformers model folder"):
            kb.search("anything")
    finally:
        engine.dispose()
