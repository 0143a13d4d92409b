"""``botkit kb`` as a user runs it: the installed executable, in a folder with its own botkit.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.installed import clean_env, run_botkit


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Path:
    """A bot's folder whose botkit.toml points at the test's database (SQLite file or PostgreSQL)."""
    folder = tmp_path / "bot"
    folder.mkdir()
    (folder / "botkit.toml").write_text(f'database_url = "{database_url}"\n\n[kb]\nthreshold = 0.4\n')
    return folder


def botkit(project: Path, *args: str) -> tuple[int, str, str]:
    done = run_botkit(["kb", *args], cwd=project, env=clean_env())
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def test_add_list_search_remove_and_reindex(project: Path, shop_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.docx"
    bad.write_bytes(b"PK\x03\x04")
    code, out, err = botkit(project, "add", str(shop_dir), str(bad))
    # The bad file is named on one line and the exit code says something failed; the rest was added.
    assert code == 1
    assert f"botkit kb add: {bad}: has an unknown file type (extension '.docx')" in err
    assert out == "added 5, replaced 0, unchanged 0, failed 1 (11 chunks written)\n"
    assert "6/6" in err  # the progress bar, on stderr

    code, out, _ = botkit(project, "list")
    assert code == 0
    rows = out.splitlines()
    assert rows[0].split() == ["ID", "KIND", "CHUNKS", "ADDED", "(UTC)", "NAME"]
    names = {row.split()[-2] if "<" not in row else row.split()[-3]: row.split()[0] for row in rows[1:]}
    assert sorted(names) == [
        "care.txt",
        "faq.csv",
        "manuals/warranty.pdf",
        "pages/stores.html",
        "policies/returns.md",
    ]

    code, out, _ = botkit(project, "search", "Do you deliver to Canada?")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("faq (confidence ")
    assert lines[1] == "Yes. Parcels to Canada take 6 to 9 business days and cost $19."
    assert lines[2] == "  source: faq.csv > Do you ship to Canada?"
    assert lines[4].startswith("  1. faq.csv > Do you ship to Canada?  (score ")

    code, out, _ = botkit(project, "remove", names["faq.csv"])
    assert (code, out) == (0, f"removed document {names['faq.csv']} (faq.csv)\n")
    code, out, err = botkit(project, "remove", names["faq.csv"])
    assert code == 1
    assert err == (
        f"botkit kb remove: there is no document {names['faq.csv']} in the knowledge base "
        "(see `botkit kb list`)\n"
    )

    code, out, err = botkit(project, "reindex")
    assert (code, out) == (0, "embedded 7 chunks again\n")


def test_refused_questions_and_a_bad_config_are_one_line(project: Path) -> None:
    code, out, err = botkit(project, "search", "x" * 10_000)
    assert (code, out) == (1, "")
    assert err == (
        "botkit kb search: the question is 10000 characters long; the knowledge base takes at most 1000 "
        "(setting kb.max_query_chars)\n"
    )
    code, out, err = botkit(project, "tune")  # an empty knowledge base has nothing to tune on
    assert (code, out) == (1, "")
    assert err == (
        "botkit kb tune: the knowledge base gives 0 training pairs, too few to tune on (at least 8): "
        "add documents first\n"
    )
    assert not (project / ".botkit" / "kb-model").exists()
    code, out, err = botkit(project, "tune", "--questions", "asked.json")
    assert (code, out) == (1, "")
    assert err.startswith("botkit kb tune: cannot read the held-out questions in asked.json: ")
    (project / "asked.json").write_text(
        '{"val": [["can I send it back?", "faq.csv > Returns"]], "oos_val": [["capital of Peru?", "oos"]]}'
    )
    code, out, err = botkit(project, "tune", "--questions", "asked.json")
    assert (code, out) == (1, "")
    assert err == (
        "botkit kb tune: 1 question labels name nothing in the knowledge base (e.g. 'faq.csv > Returns'): a "
        "label is a citation as `botkit kb search` prints it, or an FAQ entry's answer\n"
    )
    assert not (project / ".botkit" / "kb-model").exists()
    assert not (project / ".botkit" / "kb-calibration.json").exists()
    (project / "botkit.toml").write_text("[kb]\nthreshold = 7\n")
    code, out, err = botkit(project, "list")
    assert code == 2
    assert err.startswith("botkit kb: config file botkit.toml is invalid: kb.threshold: ")
