"""Render the configuration reference (every key, its default, what it does) as a Markdown table.

``python -m botkit.config_reference`` prints it; the README's copy is checked against it by a test, so
the documentation cannot drift from the code.
"""

from __future__ import annotations

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


if __name__ == "__main__":
    print(markdown_table())
