"""``botkit report`` through the installed executable, on a project whose database holds the scripted week."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from PIL import Image

from botkit.db.engine import open_engine
from tests.core.installed import run_botkit
from tests.desk import report_history as history

WEEK = ["--since", "2026-03-02", "--until", "2026-03-09T00:00:00+00:00"]


@pytest.fixture
def project(tmp_path: Path, database_url: str) -> Path:
    """A folder with a botkit.toml naming the test database, which holds the scripted week."""
    engine = open_engine(database_url)  # migrated, as the bot leaves it
    history.fill(engine)
    engine.dispose()
    (tmp_path / "botkit.toml").write_text(f'database_url = "{database_url}"\n', encoding="utf-8")
    return tmp_path


def test_the_table(project: Path) -> None:
    done = run_botkit(["report", *WEEK], cwd=project)
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode()
    lines = out.splitlines()
    assert lines[0] == "Support desk, 2026-03-02 00:00 to 2026-03-09 00:00 UTC (7.0 days)"
    assert "conversations                   8  with a user message in the window" in lines
    assert "contained                       3  37.5%, no person involved" in lines
    assert "handed off                      4  50.0% of conversations; 6 tickets opened" in lines
    assert "  reason: asked                 2" in lines
    assert "first human reply, median  3m 30s  over 4 tickets answered" in lines
    assert "first human reply, p90     8m 30s" in lines
    assert "resolution, median          1h 0m  over 3 tickets resolved" in lines
    assert "resolution, p90            1h 48m" in lines
    assert "answered from the KB            4" in lines
    assert "CSAT                         3.00  mean of 3 ratings (1..5): 1:1  2:0  3:1  4:0  5:1" in lines
    assert lines[-5:] == [
        "Unanswered questions (the knowledge base was unsure):",
        "  3  Where is my order?",
        "  2  Can I pay with bitcoin",
        "  2  我的订单在哪里",
        "  1  Do you ship to Mars?",
    ]
    # the figures are right-aligned: each ends in column 33 (the longest label, 25; two spaces; "1h 48m")
    table = lines[2 : lines.index("", 2)]
    assert len(table) == 15  # 3 counts, 5 reasons, 4 times, KB answers, unhelpful, CSAT
    for line in table:
        assert line[32] != " ", line
        assert line[33:35] in ("", "  "), line


def test_json_matches_the_figures(project: Path) -> None:
    done = run_botkit(["report", *WEEK, "--json", "--top", "2", "--config", str(project / "botkit.toml")])
    assert done.returncode == 0, done.stderr.decode()
    data = json.loads(done.stdout)
    assert data["since"] == "2026-03-02T00:00:00+00:00"
    assert data["until"] == "2026-03-09T00:00:00+00:00"
    assert (data["conversations"], data["contained"], data["handoffs"]) == (8, 3, 6)
    assert data["containment_rate"] == 3 / 8
    assert data["handoff_rate"] == 0.5
    assert data["handoff_reasons"] == history.EXPECTED_REASONS
    assert data["first_reply"] == {"count": 4, "median": 210.0, "p90": pytest.approx(510.0)}
    assert data["resolution"] == {"count": 3, "median": 3600.0, "p90": pytest.approx(6480.0)}
    assert data["unanswered"] == [
        {"text": "Where is my order?", "count": 3},
        {"text": "Can I pay with bitcoin", "count": 2},
    ]
    assert data["csat_distribution"] == {"1": 1, "2": 0, "3": 1, "4": 0, "5": 1}
    assert (data["csat_mean"], data["csat_count"], data["answered_from_kb"]) == (3.0, 3, 4)


def test_plots(project: Path, tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    done = run_botkit(["report", *WEEK, "--plots", str(plots)], cwd=project)
    assert done.returncode == 0, done.stderr.decode()
    for name in ("daily.png", "csat.png", "first_reply.png"):
        assert f"wrote {plots / name}" in done.stdout.decode()
        with Image.open(plots / name) as image:
            assert image.format == "PNG"
            assert image.size == (800, 450)
            colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
            assert colours is not None
            assert len(colours) > 20  # drawn, not a blank canvas


def test_relative_since_and_an_empty_window(project: Path) -> None:
    # The scripted week is in 2026-03; the last 30 minutes hold nothing: no rates rather than a division.
    done = run_botkit(["report", "--since", "30m", "--json"], cwd=project)
    assert done.returncode == 0, done.stderr.decode()
    data = json.loads(done.stdout)
    assert data["conversations"] == 0
    assert data["containment_rate"] is None
    table = run_botkit(["report", "--since", "12h"], cwd=project)
    out = table.stdout.decode()
    assert "UTC (0.5 days)" in out.splitlines()[0]
    assert re.search(r"^contained +0  -, no person involved$", out, re.MULTILINE), out
    assert re.search(r"^first human reply, median +-  over 0 tickets answered$", out, re.MULTILINE), out
    assert "Unanswered questions (the knowledge base was unsure):\n  none" in out


def test_bad_input(project: Path, tmp_path: Path) -> None:
    done = run_botkit(["report", "--since", "last week"], cwd=project)
    assert done.returncode == 2
    assert "'last week' is neither a span (30m, 12h, 7d, 2w) nor an ISO date or time" in done.stderr.decode()

    backwards = run_botkit(["report", "--since", "2026-03-09", "--until", "2026-03-02"], cwd=project)
    assert backwards.returncode == 2
    assert "is not after its start" in backwards.stderr.decode()

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    (empty / "botkit.toml").write_text('data_dir = "state"\n', encoding="utf-8")
    missing = run_botkit(["report"], cwd=empty)
    assert missing.returncode == 1
    assert (
        f"no database at {Path('state') / 'botkit.sqlite3'} (has the bot run here?" in missing.stderr.decode()
    )
    assert not (empty / "state").exists()  # nothing was created

    down = tmp_path / "down.toml"
    down.write_text(
        'database_url = "postgresql+psycopg://botkit:s3cret@127.0.0.1:1/desk"\n', encoding="utf-8"
    )
    unreachable = run_botkit(["report", "--config", str(down)])
    assert unreachable.returncode == 1
    stderr = unreachable.stderr.decode()
    assert stderr.startswith("botkit report: cannot open the database")
    assert stderr.count("postgresql+psycopg://botkit:***@127.0.0.1:1/desk") == 1
    assert "Connection refused" in stderr
    assert "s3cret" not in stderr
    assert len(stderr.splitlines()) == 1  # one line, no traceback

    broken = run_botkit(["report", "--config", str(tmp_path / "nope.toml")], cwd=project)
    assert broken.returncode == 2
    assert "nope.toml does not exist" in broken.stderr.decode()
