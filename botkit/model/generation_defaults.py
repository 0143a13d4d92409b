"""A model's own sampling defaults: the sampling fields of its ``generation_config.json``.

Precedence, per field: what the user set (``[model]`` in botkit.toml, ``BOTKIT_MODEL__*``) > what the
model directory's ``generation_config.json`` says > :class:`~botkit.types.SamplingParams`' built-in
defaults. ``ModelSettings.sampling_params()`` names the fields the user left unset
(``SamplingParams.from_model``); whatever holds the model fills them with :meth:`ModelSampling.fill`: the
in-process generator, and a queue worker for each request it takes, so a bot talking to workers gets the
served model's defaults without having its directory. The fields are those of
:data:`~botkit.types.MODEL_SAMPLING_FIELDS`; ``do_sample: false`` means greedy (temperature 0), as it does
for transformers' ``generate``.

A file that is there but unusable (not JSON, a sampling value of the wrong type or out of the range
``[model]`` accepts) is an error naming the file, raised when the model directory is checked, before
anything loads. The file says how the model is meant to be sampled (``botkit train tune-generation
--write`` writes it); serving the model some other way behind a log line would hide that, which is worse
than refusing to start, and it is how an unreadable ``config.json`` is treated too.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from botkit.config import ModelSettings
from botkit.types import MODEL_SAMPLING_FIELDS, SamplingParams

GENERATION_CONFIG = "generation_config.json"


class GenerationConfigError(ValueError):
    """The model's ``generation_config.json`` cannot be read, or holds an unusable sampling value."""


@dataclass(frozen=True)
class ModelSampling:
    """The sampling defaults one model directory asks for.

    Attributes:
        values: field name to value, only the fields the file sets (after ``do_sample``).
        greedy: the file says ``do_sample: false`` (so ``values["temperature"]`` is 0).
    """

    values: Mapping[str, float | int] = field(default_factory=dict)
    greedy: bool = False

    def fill(self, params: SamplingParams) -> SamplingParams:
        """``params`` with each field it names in ``from_model`` taken from this model, where it has one.

        The result names no field any more: it is final, and filling it again changes nothing.
        """
        if not params.from_model:
            return params
        chosen = {name: value for name, value in self.values.items() if name in params.from_model}
        return dataclasses.replace(params, from_model=frozenset(), **chosen)  # type: ignore[arg-type]

    def note(self, configured: SamplingParams | None = None) -> str:
        """For a ready line: ``"sampling from model: temperature 0.9, top_p 0.9"``, or ``""``.

        Args:
            configured: what the configuration asks for; only the fields it leaves to the model are
                named. None names every field the model sets (a worker: each request says its own).
        """
        used = [
            name
            for name in MODEL_SAMPLING_FIELDS
            if name in self.values and (configured is None or name in configured.from_model)
        ]
        if not used:
            return ""
        shown = [
            f"{name} {self.values[name]:g}"
            + (" (do_sample false)" if name == "temperature" and self.greedy else "")
            for name in used
        ]
        return "sampling from model: " + ", ".join(shown)


def read_model_sampling(model_dir: str | Path) -> ModelSampling:
    """The sampling defaults in ``model_dir/generation_config.json`` (none when there is no such file).

    Raises:
        GenerationConfigError: naming the file: not a JSON object, or a value ``[model]`` would refuse
            (``do_sample`` not a boolean, ``top_p`` above 1, ``top_k`` not an integer...).
    """
    path = Path(model_dir) / GENERATION_CONFIG
    if not path.is_file():
        return ModelSampling()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GenerationConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise GenerationConfigError(f"{path} should hold a JSON object, not {type(data).__name__}")
    # transformers writes null for a field it leaves unset; that is no value.
    given = {name: data[name] for name in MODEL_SAMPLING_FIELDS if data.get(name) is not None}
    do_sample = data.get("do_sample")
    if do_sample is not None and not isinstance(do_sample, bool):
        raise GenerationConfigError(f"{path} has an unusable do_sample: {do_sample!r} (true or false)")
    if do_sample is False:  # transformers decodes greedily then, whatever temperature says
        given["temperature"] = 0.0
    try:
        # The ranges [model] accepts, strictly: "0.9" or 40.5 is a broken file, not a value to coerce.
        checked = ModelSettings.model_validate(given, strict=True)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise GenerationConfigError(f"{path} has an unusable sampling value: {problems}") from exc
    return ModelSampling({name: getattr(checked, name) for name in given}, greedy=do_sample is False)
