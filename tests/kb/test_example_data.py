"""The example shop's knowledge base and its held-out questions are consistent with each other.

The retrieval benchmark (``bench/kb_retrieval.py``) trusts every label in ``bench/data/shop_heldout.json``
to name a chunk that exists, so a typo in a label, a renamed heading or a reworded FAQ question must fail here
rather than quietly lower the measured accuracy. The headings are parsed independently of ``botkit.kb``, so
that a bug in the ingestion code cannot hide a wrong label.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from html.parser import HTMLParser
from itertools import combinations
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KB_DIR = ROOT / "botkit" / "presets" / "example_kb"
HELDOUT = ROOT / "bench" / "data" / "shop_heldout.json"
SPLITS = ("val", "test", "oos_val", "oos_test")
MINIMUM = {"val": 80, "test": 160, "oos_val": 40, "oos_test": 60}
NEAR_DUPLICATE = 0.8  # character 4-gram Jaccard similarity at or above which two questions are one
KB_COPY = 0.7  # the same, between a held-out question and any text of the knowledge base (stricter)


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def normalise(text: str) -> str:
    """Lower case, punctuation (ASCII and CJK) dropped, runs of white space made one space."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if unicodedata.category(char).startswith(("P", "S")) else char for char in text)
    return " ".join(text.split())


def grams(text: str, n: int = 4) -> frozenset[str]:
    text = normalise(text)
    return frozenset(text[i : i + n] for i in range(max(1, len(text) - n + 1)))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b)


def faq_rows() -> list[dict[str, str]]:
    with (KB_DIR / "faq.csv").open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        header = ["question", "answer", "alternates"]
        assert reader.fieldnames == header, f"faq.csv header: {reader.fieldnames}"
        rows = list(reader)
    for number, row in enumerate(rows, start=2):
        assert None not in row, f"faq.csv line {number} has more than three columns: {row}"
        assert row["question"], f"faq.csv line {number} has no question: {row}"
        assert row["answer"], f"faq.csv line {number} has no answer: {row}"
    return rows


def markdown_sections(path: Path) -> dict[str, bool]:
    """Each heading path (``"Top > Section > Subsection"``) -> whether body text sits directly under it."""
    sections: dict[str, bool] = {}
    stack: list[str] = []
    current = None
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_fence = not in_fence
        heading = None if in_fence else re.match(r"(#{1,6})\s+(.+?)\s*#*\s*$", line)
        if heading:
            level = len(heading.group(1))
            assert level <= len(stack) + 1, f"{path.name}: {line!r} skips a heading level"
            stack = [*stack[: level - 1], heading.group(2)]
            current = " > ".join(stack)
            assert current not in sections, f"{path.name}: heading path {current!r} appears twice"
            sections[current] = False
        elif line.strip():
            assert current is not None, f"{path.name}: text before the first heading: {line!r}"
            sections[current] = True
    return sections


class HeadingParser(HTMLParser):
    """Heading paths of h1-h3 and whether text (outside nav, head and footer) follows each one."""

    HEADINGS = ("h1", "h2", "h3")
    SKIPPED = ("head", "nav", "footer", "script", "style")

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.sections: dict[str, bool] = {}
        self.heading_level = 0
        self.heading_text = ""
        self.skipping = 0
        self.title = ""
        self.in_title = False
        self.canonical: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "link" and dict(attrs).get("rel") == "canonical":
            self.canonical = dict(attrs).get("href")
        if tag == "title":
            self.in_title = True
        if tag in self.SKIPPED:
            self.skipping += 1
        if tag in self.HEADINGS:
            self.heading_level, self.heading_text = int(tag[1]), ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in self.SKIPPED:
            self.skipping -= 1
        if tag in self.HEADINGS and self.heading_level:
            self.stack = [*self.stack[: self.heading_level - 1], " ".join(self.heading_text.split())]
            self.sections[" > ".join(self.stack)] = False
            self.heading_level = 0

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        elif self.heading_level:
            self.heading_text += data
        elif data.strip() and not self.skipping and self.stack:
            self.sections[" > ".join(self.stack)] = True


def document_sections() -> dict[str, bool]:
    """Every citable label of the documents -> whether it has text of its own (a question can aim at it)."""
    labels: dict[str, bool] = {}
    for path in sorted(KB_DIR.rglob("*.md")):
        name = path.relative_to(KB_DIR).as_posix()
        labels |= {f"{name} > {heading}": text for heading, text in markdown_sections(path).items()}
    for path in sorted(KB_DIR.rglob("*.html")):
        parser = HeadingParser()
        parser.feed(path.read_text(encoding="utf-8"))
        name = path.relative_to(KB_DIR).as_posix()
        labels |= {f"{name} > {heading}": text for heading, text in parser.sections.items()}
    for path in sorted(KB_DIR.rglob("*.txt")):
        labels[path.relative_to(KB_DIR).as_posix()] = True
    return labels


@pytest.fixture(scope="module")
def heldout() -> dict[str, list[list[str]]]:
    data = json.loads(HELDOUT.read_text(encoding="utf-8"))
    assert sorted(data) == sorted(SPLITS), f"splits in {HELDOUT.name}: {sorted(data)}"
    for split, rows in data.items():
        for row in rows:
            assert isinstance(row, list), f"{split}: {row!r} is not a [question, label] pair"
            assert len(row) == 2, f"{split}: {row!r} is not a [question, label] pair"
            assert all(isinstance(x, str) and x.strip() for x in row), f"{split}: {row!r} has an empty part"
    return data


def test_faq_has_two_columns_and_unique_questions() -> None:
    rows = faq_rows()
    seen: dict[str, str] = {}
    for row in rows:
        key = normalise(row["question"])
        assert key not in seen, f"FAQ question twice: {seen[key]!r} and {row['question']!r}"
        seen[key] = row["question"]
    for row in rows:
        # a sentence ends at . ! ? before a space or the end (not inside "$5.95"), or at Chinese 。！？
        sentences = [s for s in re.split(r"(?<=[.!?])\s+|(?<=[。！？])", row["answer"].strip()) if s]
        assert 1 <= len(sentences) <= 4, f"{row['question']!r}: {len(sentences)} sentences, want 1-4"
    chinese = [row for row in rows if is_chinese(row["question"])]
    assert len(rows) - len(chinese) >= 45, f"{len(rows) - len(chinese)} English FAQ entries"
    assert len(chinese) >= 6, f"{len(chinese)} Chinese FAQ entries"


def test_documents_have_the_shapes_the_readers_expect() -> None:
    assert len(list((KB_DIR / "policies").glob("*.md"))) >= 3
    for path in (KB_DIR / "policies").glob("*.md"):
        levels = {len(heading.split(" > ")) for heading in markdown_sections(path)}
        assert levels >= {1, 2}, f"{path.name} has heading levels {levels}"
    pages = list((KB_DIR / "pages").glob("*.html"))
    assert pages, "no HTML page"
    for page in pages:
        parser = HeadingParser()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.title.strip(), f"{page.name} has no <title>"
        assert parser.canonical is not None, f"{page.name} has no canonical link"
        assert parser.canonical.startswith("https://shop.example/"), parser.canonical
        assert any(parser.sections.values()), f"{page.name} has no text under its headings"
    for text in KB_DIR.rglob("*.txt"):
        assert not any(line.startswith("#") for line in text.read_text(encoding="utf-8").splitlines())


def test_every_label_names_an_faq_question_or_a_section(heldout: dict[str, list[list[str]]]) -> None:
    known = {f"faq.csv > {row['question']}" for row in faq_rows()} | set(document_sections())
    pairs = [(split, q, label) for split in ("val", "test") for q, label in heldout[split]]
    wrong = [pair for pair in pairs if pair[2] not in known]
    assert not wrong, "labels that name nothing in the knowledge base:\n" + "\n".join(map(str, wrong))
    for split in ("oos_val", "oos_test"):
        assert {label for _, label in heldout[split]} == {"oos"}, f"{split} has labels other than 'oos'"


def test_every_faq_entry_and_section_is_asked_about(heldout: dict[str, list[list[str]]]) -> None:
    asked = {label for split in ("val", "test") for _, label in heldout[split]}
    targets = {f"faq.csv > {row['question']}" for row in faq_rows()}
    targets |= {label for label, has_text in document_sections().items() if has_text}
    missing = sorted(targets - asked)
    assert not missing, "never asked about:\n" + "\n".join(missing)


def test_counts_meet_the_minimums(heldout: dict[str, list[list[str]]]) -> None:
    for split, minimum in MINIMUM.items():
        assert len(heldout[split]) >= minimum, f"{split}: {len(heldout[split])} questions, want {minimum}"
    in_scope = [q for split in ("val", "test") for q, _ in heldout[split]]
    share = sum(map(is_chinese, in_scope)) / len(in_scope)
    assert 0.08 <= share <= 0.2, f"{share:.0%} of the in-scope questions are Chinese, want about 10%"
    assert any(is_chinese(q) for split in ("oos_val", "oos_test") for q, _ in heldout[split])


def test_readme_counts_match_the_file(heldout: dict[str, list[list[str]]]) -> None:
    readme = (HELDOUT.parent / "README.md").read_text(encoding="utf-8")
    for split in SPLITS:
        row = re.search(rf"^\| `{split}` \| (\d+) \| (\d+) \|", readme, re.MULTILINE)
        assert row, f"bench/data/README.md has no table row for {split}"
        chinese = sum(is_chinese(q) for q, _ in heldout[split])
        assert (int(row.group(1)), int(row.group(2))) == (len(heldout[split]), chinese), (
            f"README says {split} has {row.group(1)} questions ({row.group(2)} Chinese); the file has "
            f"{len(heldout[split])} ({chinese})"
        )


def test_val_and_test_share_no_question(heldout: dict[str, list[list[str]]]) -> None:
    for first, second in (("val", "test"), ("oos_val", "oos_test")):
        shared = {normalise(q) for q, _ in heldout[first]} & {normalise(q) for q, _ in heldout[second]}
        assert not shared, f"in both {first} and {second}: {sorted(shared)}"


def test_no_question_is_a_near_copy(heldout: dict[str, list[list[str]]]) -> None:
    """A paraphrase is a rewording: not an FAQ question with one word changed, nor another question again."""
    questions = [q for split in SPLITS for q, _ in heldout[split]]
    faq = [(row["question"], grams(row["question"])) for row in faq_rows()]
    held = [(q, grams(q)) for q in questions]
    for (a, grams_a), (b, grams_b) in combinations(held, 2):
        similarity = jaccard(grams_a, grams_b)
        assert similarity < NEAR_DUPLICATE, f"near-duplicate questions ({similarity:.2f}): {a!r} / {b!r}"
    for question, question_grams in held:
        for entry, entry_grams in faq:
            similarity = jaccard(question_grams, entry_grams)
            assert similarity < NEAR_DUPLICATE, (
                f"held-out question {question!r} copies FAQ question {entry!r} ({similarity:.2f})"
            )


def kb_texts() -> list[str]:
    """Every piece of the knowledge base a retriever can match: FAQ questions, alternates and answers, and
    each heading, paragraph and sentence of the documents."""
    texts: list[str] = []
    for row in faq_rows():
        texts += [row["question"], *row["alternates"].split("|"), row["answer"]]
    for path in sorted(KB_DIR.rglob("*")):
        if path.suffix in (".md", ".txt", ".html"):
            body = re.sub(r"<[^>]+>", "\n", path.read_text(encoding="utf-8"))
            # Headings are left out: a heading names a topic, and a customer may well type just the topic.
            lines = [line for line in body.splitlines() if not line.lstrip().startswith("#")]
            for paragraph in re.split(r"\n\s*\n", "\n".join(lines)):
                texts += [paragraph, *re.split(r"(?<=[.!?])\s+|(?<=[。！？])|\n", paragraph)]
    return [t for t in texts if normalise(t)]


def test_alternates_are_two_to_four_each_and_distinct() -> None:
    seen: set[str] = set()
    for row in faq_rows():
        alternates = row["alternates"].split("|")
        assert 2 <= len(alternates) <= 4, f"{row['question']!r} has {len(alternates)} alternates"
        for text in (row["question"], *alternates):
            assert text.strip(), f"{row['question']!r} has an empty alternate"
            assert normalise(text) not in seen, f"phrasing given twice: {text!r}"
            seen.add(normalise(text))


def test_no_held_out_question_copies_the_knowledge_base(heldout: dict[str, list[list[str]]]) -> None:
    """The alternates were written without reading the held-out questions; this keeps it so for every
    text of the knowledge base. A failure names the split and position of the question, not its words, so
    that fixing the knowledge-base text does not mean reading the test questions."""
    kb = [(text, normalise(text), grams(text)) for text in kb_texts()]
    copies = []
    for split in SPLITS:
        for position, (question, _) in enumerate(heldout[split]):
            key, question_grams = normalise(question), grams(question)
            for text, text_key, text_grams in kb:
                similarity = jaccard(question_grams, text_grams)
                if key == text_key or similarity >= KB_COPY:
                    copies.append(f"{split}[{position}] ~ knowledge-base text {text!r} ({similarity:.2f})")
    assert not copies, "held-out questions that copy the knowledge base:\n" + "\n".join(copies)
