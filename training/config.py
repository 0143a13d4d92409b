"""Loading stage configs from TOML or YAML into dataclasses, strictly.

Every stage takes one dataclass. A config file holds its fields at top level (or under a section named
after the stage, for the pipeline). Unknown keys are an error rather than a silent no-op, because a
misspelt ``learning_rat`` that is ignored costs a whole training run.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or value that cannot be used; the message names the file and key."""


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Parse a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file into a dict.

    Args:
        path: the config file.

    Raises:
        ConfigError: the file is missing, unparsable, or not a mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except Exception as exc:
        raise ConfigError(f"cannot parse config file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at top level")
    return data


def build(cls: type[T], data: dict[str, Any], *, where: str = "config", base_dir: Path | None = None) -> T:
    """Build dataclass ``cls`` from ``data``, recursing into nested dataclass fields.

    Relative paths (fields typed ``Path``) resolve against ``base_dir`` (the config file's folder) so a
    preset works from any working directory.

    Args:
        cls: the dataclass to build.
        data: the mapping read from a file.
        where: the location, for error messages (file and section).
        base_dir: the folder relative paths are taken from.

    Raises:
        ConfigError: an unknown key, a missing required key, or a value of the wrong type.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table/mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(repr(k) for k in unknown)}; "
            f"allowed keys: {', '.join(sorted(fields))}"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, where=f"{where}.{name}", base_dir=base_dir)
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def load(cls: type[T], path: str | Path, *, section: str | None = None) -> T:
    """Read ``path`` and build ``cls`` from it (or from its ``[section]``).

    Args:
        cls: the stage's config dataclass.
        path: a TOML or YAML file.
        section: a top-level table to read instead of the whole file.
    """
    path = Path(path)
    data = read_config_file(path)
    where = str(path)
    if section is not None and section in data and isinstance(data[section], dict):
        data = data[section]
        where = f"{path} [{section}]"
    return build(cls, data, where=where, base_dir=path.parent.resolve())


def to_dict(obj: Any) -> Any:
    """A dataclass as plain JSON-ready data (paths become strings)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def _coerce(tp: Any, value: Any, *, where: str, base_dir: Path | None) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        errors = []
        for arg in args:
            try:
                return _coerce(arg, value, where=where, base_dir=base_dir)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is typing.Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {list(typing.get_args(tp))}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (inner,) = typing.get_args(tp)[:1] or (Any,)
        items = [_coerce(inner, v, where=f"{where}[{i}]", base_dir=base_dir) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        return dict(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build(tp, value, where=where, base_dir=base_dir)
    if tp is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{where}: expected a path string, got {value!r}")
        p = Path(value).expanduser()
        return p if p.is_absolute() or base_dir is None else (base_dir / p).resolve()
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value
