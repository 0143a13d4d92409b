"""Pick the generator the configuration asks for: in-process (default) or the Celery queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botkit.model.loader import ModelLoadError, check_model_dir, default_model_dir

if TYPE_CHECKING:
    from botkit.config import Settings
    from botkit.types import Generator

NO_DEFAULT_MODEL = (
    "no default model is installed yet: name one with --model DIR (or [model] path in botkit.toml, or "
    "BOTKIT_MODEL__PATH); train one with `botkit train pipeline --config training/presets/default.toml`"
)


def model_path(settings: Settings) -> str:
    """The model directory to load: the configured one, else the shipped default."""
    chosen = settings.model.path or default_model_dir()
    if chosen is None:
        raise ModelLoadError(NO_DEFAULT_MODEL)
    return str(check_model_dir(chosen))


def build_generator(settings: Settings) -> Generator:
    """The generator for ``settings.queue.backend``.

    ``local`` loads the model into this process; ``celery`` only connects to the queue (the model lives
    in the workers started with ``botkit worker``).
    """
    if settings.queue.backend == "celery":
        from botkit.queue.client import CeleryGenerator

        generator: Generator = CeleryGenerator.from_settings(settings)
        return generator
    from botkit.model.local import LocalGenerator

    return LocalGenerator.from_path(
        model_path(settings),
        device=settings.model.device,
        dtype=settings.model.dtype,
        max_batch=settings.model.max_batch,
        timeout_s=settings.model.timeout_s,
        engine=settings.model.engine,
    )
