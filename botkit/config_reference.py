"""Render the configuration reference (every key, its default, what it does) as a Markdown table.

``python -m botkit.config_reference`` prints it and ``... --update README.md`` rewrites the README's copy,
which a test checks against the code, so the documentation cannot drift.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import BaseModel, SecretStr

from botkit.config import Settings

START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"


def rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str]]:
    """``(key, default, description)`` for every leaf setting, sections flattened with dots."""
    found: list[tuple[str, str, str]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found.extend(rows(annotation, f"{prefix}{name}."))
            continue
        factory = field.default_factory
        default = factory() if factory is not None else field.default  # type: ignore[call-arg]
        secret = "SecretStr" in str(annotation) or isinstance(default, SecretStr)
        shown = "secret" if secret else repr(default)
        if shown.startswith("PosixPath("):
            shown = repr(str(default))
        found.append((f"{prefix}{name}", shown, field.description or ""))
    return found


def markdown_table() -> str:
    """The reference table, with the environment variable for each key."""
    lines = ["| key | default | environment | meaning |", "| --- | --- | --- | --- |"]
    for key, default, description in rows(Settings):
        env = "BOTKIT_" + key.upper().replace(".", "__")
        default = default if default != "None" else "unset"
        lines.append(f"| `{key}` | `{default}` | `{env}` | {description.replace('|', '/')} |")
    return "\n".join(lines)


def update(path: Path) -> None:
    """Replace the table between the markers in ``path`` with the current one."""
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _old, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{markdown_table()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--update"]:
        update(Path(sys.argv[2]))
    else:
        print(markdown_table())
