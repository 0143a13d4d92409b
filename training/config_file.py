"""Reading a config file into a pydantic model strictly: unknown keys and wrong types are one-line errors.

The base of every training config is :class:`ConfigSection`: ``extra="forbid"`` makes an unknown key an
error rather than a silent no-op (a misspelt ``learning_rat`` that is ignored costs a whole training run),
and ``strict=True`` makes a value of the wrong type one (``"7"`` is not ``7``, ``true`` is not ``1``).
Relative :data:`ConfigPath` values resolve against the file's folder, which :func:`load` hands to pydantic
through the validation context (not a module global), so a preset works from any working directory.
Every failure is a :class:`botkit.config.ConfigError` of one line naming the file and the field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo

from botkit.config import ConfigError


def _to_path(value: object, info: ValidationInfo) -> object:
    # Anything but a string or a path falls through to the strict Path check, which rejects it.
    if not isinstance(value, str | Path):
        return value
    path = Path(value).expanduser()
    base_dir = (info.context or {}).get("base_dir")
    return path if path.is_absolute() or base_dir is None else (base_dir / path).resolve()


ConfigPath = Annotated[Path, BeforeValidator(_to_path)]
"""A path; relative ones in a config file are taken from the file's folder."""


class ConfigSection(BaseModel):
    """A table of a config file: unknown keys and values of the wrong type are errors.

    Assignments are checked too, so code that wires stages together (the pipeline, ``--model``) cannot
    leave a config in a state that a file could not have produced.
    """

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)


Section = TypeVar("Section", bound=ConfigSection)


def load(cls: type[Section], path: str | Path, *, section: str | None = None) -> Section:
    """Read ``path`` and validate it as ``cls`` (or its ``[section]`` table, when the file has one).

    Args:
        cls: the stage's config model.
        path: a TOML or YAML file.
        section: a top-level table to read instead of the whole file (a pipeline file's ``[sft]``).

    Raises:
        ConfigError: one line naming the file and each offending field.
    """
    path = Path(path)
    data = read_config_file(path)
    where = str(path)
    if section is not None and isinstance(data.get(section), dict):
        data, where = data[section], f"{path} [{section}]"
    try:
        return cls.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, cls, where)) from exc


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file into a dict.

    Raises:
        ConfigError: the file is missing, unparsable, or not a mapping.
    """
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except Exception as exc:  # each parser has its own error classes; all mean "cannot parse"
        reason = " ".join(str(exc).split())  # YAML's messages span lines; the CLI prints one
        raise ConfigError(f"cannot parse config file {path}: {reason}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at top level")
    return data


# What a strict type check expected, in the words of a config file.
_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true/false",
    "string_type": "a string",
    "list_type": "a list",
    "model_type": "a table",
    "is_instance_of": "a path string",  # only Path fields check instances
}


def _describe(exc: ValidationError, cls: type[BaseModel], where: str) -> str:
    """One line for a validation failure: each problem as ``where.field: what is wrong``.

    Unknown keys of one table are reported together, with the keys that table allows.
    """
    problems: dict[tuple[Any, ...], str] = {}
    unknown: dict[tuple[Any, ...], list[str]] = {}
    for err in exc.errors():
        loc = tuple(err["loc"])
        if err["type"] == "extra_forbidden":
            parent = loc[:-1]
            unknown.setdefault(parent, []).append(repr(loc[-1]))
            keys, allowed = ", ".join(unknown[parent]), ", ".join(_fields_at(cls, parent))
            problems[("unknown", parent)] = (
                f"{_dotted(where, parent)}: unknown key(s) {keys}; allowed keys: {allowed}"
            )
        elif err["type"] in _EXPECTED:
            problems[loc] = f"{_dotted(where, loc)}: expected {_EXPECTED[err['type']]}, got {err['input']!r}"
        elif err["type"] == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            problems[loc] = f"{_dotted(where, loc)}: {err['input']!r} is not one of {expected}"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            problems[loc] = f"{_dotted(where, loc)}: {msg[:1].lower()}{msg[1:]}, got {err['input']!r}"
    return "; ".join(problems.values())


def _dotted(where: str, loc: tuple[Any, ...]) -> str:
    return where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _fields_at(cls: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The keys the table at ``loc`` allows (empty when ``loc`` is not a table of ``cls``)."""
    model: Any = cls
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        model = field.annotation if field is not None else None
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
    return sorted(model.model_fields)
