"""Answer equivalents (:mod:`botkit.kb.equivalents`): a question whose first chunk states its label's whole
answer counts as answered at top-1 (in the calibration's examples and in the bench's count); the shipped map
names real chunks of the example knowledge base and quotes each one; a map naming an unknown chunk is an
error that names it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from botkit.config import KBSettings
from botkit.db.engine import open_engine
from botkit.kb import KBError, KnowledgeBase
from botkit.kb.equivalents import answered_within, read_equivalents
from botkit.kb.heldout import calibrate, examples
from botkit.kb.ingest import collect, parse
from botkit.kb.types import Source
from tests.kb.test_calibration import HELDOUT

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MAP = ROOT / "bench" / "data" / "shop_answer_equivalents.json"
EXAMPLE_KB = ROOT / "botkit" / "presets" / "example_kb"

# In the tests' own shop (tests/kb/shop.py): a question a policy section is labelled with, and the FAQ entry
# (made its equivalent here) that the retriever puts first.
QUESTION = "how many days do I get to send something back"
LABEL = "policies/returns.md > Returns policy > Refunds"
FAQ_ENTRY = "faq.csv > How long do I have to return an item?"


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def example_chunks() -> dict[str, str]:
    """Each citation of the example knowledge base with its text (a section cut in pieces: all of them)."""
    files, errors = collect([EXAMPLE_KB])
    assert not errors
    texts: dict[str, str] = {}
    for file in files:
        for chunk in parse(file, file.path.read_bytes(), KBSettings().chunk_words).chunks:
            label = Source(file.name, chunk.heading).label()
            texts[label] = flat(texts.get(label, "") + " " + chunk.text)
    return texts


def test_the_shipped_map_names_real_chunks_and_quotes_each_one() -> None:
    raw = json.loads(SHIPPED_MAP.read_text(encoding="utf-8"))
    chunks = example_chunks()
    assert raw, "the map is empty"
    for entry, others in raw.items():
        # only FAQ entry -> the other sections that state its whole answer
        assert entry.startswith("faq.csv > "), entry
        assert entry in chunks, entry
        assert isinstance(others, dict), entry
        assert others, entry
        for other, quote in others.items():
            assert other in chunks, other
            assert other != entry
            assert flat(quote) in chunks[other], f"{other} does not say {quote!r}"
    assert read_equivalents(SHIPPED_MAP) == {k: frozenset(v) for k, v in raw.items()}


def test_an_equivalent_first_counts_at_top1_and_only_in_the_maps_direction() -> None:
    equivalents = {FAQ_ENTRY: frozenset({LABEL})}
    found = [LABEL, "care.txt", FAQ_ENTRY]
    assert not answered_within(found, FAQ_ENTRY, 1)  # strict: the label only
    assert answered_within(found, FAQ_ENTRY, 1, equivalents)
    assert answered_within(found, FAQ_ENTRY, 3)
    # a question labelled with the section is not answered by the FAQ entry unless the map says so
    assert not answered_within([FAQ_ENTRY], LABEL, 1, equivalents)


def test_calibration_examples_mark_the_equivalent_chunk_correct(
    shop_dir: Path, tmp_path: Path, database_url: str
) -> None:
    engine = open_engine(database_url)
    try:
        kb = KnowledgeBase(engine, KBSettings(), calibration_file=tmp_path / "kb-calibration.json")
        assert not kb.add([shop_dir]).errors
        first = kb.answer_now(QUESTION).hits[0].source.label()
        assert first == FAQ_ENTRY  # what the customer is shown: the FAQ entry, not the labelled section
        equivalents = {LABEL: frozenset({FAQ_ENTRY})}
        strict, counted = examples(kb, [(QUESTION, LABEL)]), examples(kb, [(QUESTION, LABEL)], equivalents)
        assert FAQ_ENTRY in {u for u, c in zip(counted[0].units, counted[0].correct, strict=True) if c}
        assert FAQ_ENTRY not in {u for u, c in zip(strict[0].units, strict[0].correct, strict=True) if c}
        assert answered_within([first], LABEL, 1, equivalents)
    finally:
        engine.dispose()


def test_a_map_naming_an_unknown_chunk_is_a_clear_error_naming_it(
    shop_dir: Path, tmp_path: Path, database_url: str
) -> None:
    heldout = tmp_path / "heldout.json"
    heldout.write_text(json.dumps(HELDOUT), encoding="utf-8")
    engine = open_engine(database_url)
    try:
        kb = KnowledgeBase(engine, KBSettings(), calibration_file=tmp_path / "kb-calibration.json")
        assert not kb.add([shop_dir]).errors
        typo = {FAQ_ENTRY: frozenset({"policies/returns.md > Returns policy > Refund"})}
        with pytest.raises(KBError, match=r"1 chunk\(s\) that are not in the knowledge base: "
                           r"'policies/returns\.md > Returns policy > Refund'"):  # fmt: skip
            calibrate(kb, heldout, equivalents=typo)
        assert not (tmp_path / "kb-calibration.json").exists()  # nothing fitted, nothing saved
        fitted = calibrate(kb, heldout, equivalents={FAQ_ENTRY: frozenset({LABEL})})
        assert kb.calibration == fitted
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        ('["a list"]', "expected a JSON object"),
        ('{"faq.csv > Q": "one label, not a list"}', "must map to a list of labels"),
        ('{"faq.csv > Q": [""]}', "must map to a list of labels"),
    ],
)
def test_a_map_in_a_bad_format_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "equivalents.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(KBError, match=message):
        read_equivalents(path)
    with pytest.raises(KBError, match="cannot read the answer equivalents"):
        read_equivalents(tmp_path / "missing.json")


def test_kb_calibrate_takes_an_optional_map_and_names_an_unknown_chunk(
    shop_dir: Path, tmp_path: Path
) -> None:
    from tests.core.installed import clean_env, run_botkit

    project = tmp_path / "bot"
    project.mkdir()
    # On SQLite alone: this is about the command's --equivalents option (three botkit processes, over 30 s
    # on a busy core); calibrating on PostgreSQL is test_calibration.py's, which runs on both databases.
    (project / "botkit.toml").write_text(f'database_url = "sqlite:///{tmp_path / "botkit.sqlite3"}"\n')
    heldout, typo = tmp_path / "heldout.json", tmp_path / "typo.json"
    heldout.write_text(json.dumps(HELDOUT), encoding="utf-8")
    typo.write_text(json.dumps({FAQ_ENTRY: ["pages/stores.html > Parking"]}), encoding="utf-8")

    def botkit(*args: str) -> tuple[int, str, str]:
        done = run_botkit(["kb", *args], cwd=project, env=clean_env())
        return done.returncode, done.stdout.decode(), done.stderr.decode()

    assert botkit("add", str(shop_dir))[0] == 0
    code, out, err = botkit("calibrate", "--heldout", str(heldout), "--equivalents", str(typo))
    assert code == 1
    assert "'pages/stores.html > Parking'" in err
    assert len(err.splitlines()) == 1
    code, out, _ = botkit("calibrate", "--heldout", str(heldout))  # no map: as before
    assert code == 0
    assert out.startswith(f"calibrated on {heldout}: ranking weights (")
