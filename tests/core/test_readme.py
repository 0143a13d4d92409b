"""The README keeps its promises: the set-up commands, and a configuration reference that matches the code."""

from __future__ import annotations

from pathlib import Path

from botkit.config_reference import END, START, markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_gives_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert "make chat" in text
    assert "make test" in text


def test_configuration_reference_is_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert START in text, "README.md lacks the configuration reference markers"
    documented = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert documented == markdown_table(), (
        "README.md's configuration reference is stale: regenerate it with "
        "`.venv/bin/python -m botkit.config_reference`"
    )
