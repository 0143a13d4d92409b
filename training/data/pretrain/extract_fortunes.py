"""Rebuild the pretraining text in this folder from the Debian fortune packages.

The extracted text is committed, so training never needs this script or the packages; it records how the
text was made. Run as root on Debian/Ubuntu:

    apt-get update && apt-get install fortunes fortunes-zh
    python training/data/pretrain/extract_fortunes.py /usr/share/games/fortunes training/data/pretrain

English: a selection of the ``fortunes`` data files (quotations, sayings, definitions). Chinese: the
Tang and Song poems of ``fortunes-zh`` and, from its ``chinese`` file, only the classical works
(proverbs, the Analects, Caigentan, Zengguang Xianwen, Daodejing); its quotations of modern books are
left out. ANSI colour codes, box drawings and ASCII art are removed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

EN_FILES = [
    "wisdom", "literature", "science", "people", "education", "food", "love", "pets", "kids",
    "platitudes", "work", "computers", "art", "humorists", "riddles", "definitions", "sports",
    "medicine", "magic", "goedel", "paradoxum", "fortunes", "miscellaneous",
]  # fmt: skip
ZH_WHOLE = ["tang300", "song100"]
ZH_CLASSICS = ("《谚语》", "《论语》", "《菜根谭》", "《增广贤文》", "《道德经》")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def fortunes(path: Path) -> list[str]:
    text = ANSI.sub("", path.read_text(encoding="utf-8", errors="replace"))
    return [d.strip("\n") for d in re.split(r"^%$", text, flags=re.M) if d.strip()]


def clean(doc: str) -> str | None:
    if any(c in doc for c in "│├┼─┌┐└┘"):
        return None  # tables do not read as prose
    # Tabs only align attributions ("\t\t-- Mark Twain"); one space reads the same.
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in doc.splitlines()]
    text = "\n".join(lines).strip()
    punctuation = ".,;:'\"!?-()，。；：！？、“”‘’《》"  # noqa: RUF001 (CJK punctuation is meant)
    symbols = sum(not (c.isalnum() or c.isspace() or c in punctuation) for c in text)
    if not text or symbols / len(text) > 0.15:
        return None  # ASCII art
    return text


def main(src: Path, dst: Path) -> None:
    en = [c for f in EN_FILES for d in fortunes(src / f) if (c := clean(d))]
    zh = [c for f in ZH_WHOLE for d in fortunes(src / f) if (c := clean(d))]
    zh += [c for d in fortunes(src / "chinese") if any(k in d for k in ZH_CLASSICS) if (c := clean(d))]
    (dst / "fortunes_en.txt").write_text("\n%\n".join(en) + "\n", encoding="utf-8")
    (dst / "fortunes_zh.txt").write_text("\n%\n".join(zh) + "\n", encoding="utf-8")
    print(f"english: {len(en)} documents, chinese: {len(zh)} documents")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
