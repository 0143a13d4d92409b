"""A small shop knowledge base written by the tests themselves: one file of each format the KB reads."""

from __future__ import annotations

import csv
from pathlib import Path

FAQ = [
    ("How long do I have to return an item?", "You have 45 days from delivery to return an unused item."),
    ("Do you ship to Canada?", "Yes. Parcels to Canada take 6 to 9 business days and cost $19."),
    ("How do I reset my password?", "Click 'Forgot password' on the sign-in page; the link lasts 2 hours."),
    ("怎么联系客服？", "请拨打客服电话 400-800-1234，工作日 9:00-18:00 有中文客服。"),
]

RETURNS_MD = """\
# Returns policy

Everything you need to know before sending something back.

## Refunds

Refunds reach your card within 5 business days after the parcel arrives at our warehouse.

## Damaged items

If an item arrives broken, send us a photo within 7 days and we replace it free of charge.

```
# this line is code, not a heading
```
"""

STORES_HTML = """\
<!doctype html>
<html><head><title>Our stores</title>
<link rel="canonical" href="https://shop.example/stores">
<style>body { color: red }</style><script>var tracking = "do not index me";</script></head>
<body>
<nav><a href="/">Home</a> <a href="/returns">Returns</a> navigation words</nav>
<h1>Our stores</h1>
<p>We run two shops.</p>
<h2>Harbour Street</h2>
<p>The Harbour Street shop opens <b>Monday to Saturday, 10:00 to 19:00</b>, and has free bike parking.</p>
</body></html>
"""

CARE_TXT = """\
Wash down jackets at 30 degrees with a special down detergent.

Never iron a rain shell: the heat melts the waterproof membrane.
"""

PDF_TEXT = "Warranty: every tent carries a 3 year warranty against broken poles and torn seams."


def write_pdf(path: Path, text: str | None) -> Path:
    """A real one-page PDF with ``text``, or with only a drawn rectangle (no text at all) when None."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    if text is None:
        pdf.rect(20, 20, 50, 30)
    else:
        pdf.set_font("helvetica", size=12)
        pdf.multi_cell(0, 8, text)
    pdf.output(str(path))
    return path


def write_faq(
    path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("question", "answer")
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_shop(folder: Path) -> Path:
    """The shop's knowledge base under ``folder``: faq.csv, policies/returns.md, pages/stores.html,
    care.txt and manuals/warranty.pdf."""
    (folder / "policies").mkdir(parents=True)
    (folder / "pages").mkdir()
    (folder / "manuals").mkdir()
    write_faq(folder / "faq.csv", FAQ, header=("Question", "ANSWER"))  # the header is case-insensitive
    (folder / "policies" / "returns.md").write_text(RETURNS_MD, encoding="utf-8")
    (folder / "pages" / "stores.html").write_text(STORES_HTML, encoding="utf-8")
    (folder / "care.txt").write_text(CARE_TXT, encoding="utf-8")
    write_pdf(folder / "manuals" / "warranty.pdf", PDF_TEXT)
    return folder
