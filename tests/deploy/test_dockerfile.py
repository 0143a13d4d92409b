"""deploy/Dockerfile builds a bot image (no CUDA) and a worker image; nothing the packaging contradicts.

No image can be built here (no registry of base images is reachable), so these read the Dockerfile the way
the builder does: stages by ``FROM ... AS name``, instructions with their continuation lines joined. The
extras each target installs are expanded through pyproject.toml, so a change there that would put torch
into the bot image other than through the knowledge base (CPU wheel) fails here. ``make lint`` runs
hadolint on the same file.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from botkit.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
MODEL_STACK = {"torch", "transformers", "safetensors"}


def _stages() -> dict[str, list[tuple[str, str]]]:
    """Each named stage's instructions as (KEYWORD, arguments), continuation lines joined."""
    text = (ROOT / "deploy" / "Dockerfile").read_text().replace("\\\n", " ")
    stages: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", rest.strip(), flags=re.I)
            assert match, f"every stage is named: FROM {rest}"
            current = stages.setdefault(match[2], [("FROM", match[1])])
            continue
        current.append((keyword.upper(), " ".join(rest.split())))
    return stages


def _last(stage: list[tuple[str, str]], keyword: str) -> str:
    found = [rest for kw, rest in stage if kw == keyword]
    assert found, f"no {keyword} in the stage"
    return found[-1]


def _installed_extras(stage: list[tuple[str, str]]) -> set[str]:
    """The extras named by ``pip install "/src[...]"`` in the stage's RUN lines."""
    extras: set[str] = set()
    for keyword, rest in stage:
        if keyword == "RUN":
            for group in re.findall(r'"/src\[([^\]]+)\]"', rest):
                extras |= set(group.split(","))
    return extras


def _requirement_names(extras: set[str]) -> set[str]:
    """The distributions the core and these extras require, ``botkit[...]`` references followed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    optional: dict[str, list[str]] = project["optional-dependencies"]
    names: set[str] = set()
    pending, seen = list(extras), set()
    requirements = list(project["dependencies"])
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in optional[extra]:
            inner = re.fullmatch(r"botkit\[([^\]]+)\]", requirement)
            if inner:
                pending.extend(inner[1].split(","))
            else:
                requirements.append(requirement)
    for requirement in requirements:
        names.add(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower())
    return names


def _torch_pin(text: str) -> str:
    pins = set(re.findall(r"torch==([0-9][0-9.]*)", text))
    assert len(pins) == 1, f"one torch version, not {pins}"
    return pins.pop()


def test_one_dockerfile_builds_a_bot_and_a_worker() -> None:
    stages = _stages()
    assert {"bot", "worker"} <= set(stages)
    base_images = {stage[0][1] for stage in stages.values() if stage[0][1] not in stages}
    # One Python base and no image of its own torch: pip would replace that torch with pyproject's pin.
    assert len(base_images) == 1, base_images
    assert base_images.pop().startswith("python:")


def test_the_bot_image_installs_the_desk_and_the_model_stack_only_for_the_knowledge_base() -> None:
    bot = _stages()["bot"]
    extras = _installed_extras(bot)
    assert {"queue", "telegram", "discord", "slack", "web", "kb", "postgres"} <= extras
    names = _requirement_names(extras)
    assert {"psycopg", "starlette", "uvicorn", "sentence-transformers"} <= names
    # torch and transformers come in with the knowledge base's embeddings only, never for the dialogue model.
    without_kb = _requirement_names(extras - {"kb"})
    assert not without_kb & MODEL_STACK, f"the bot's extras {extras - {'kb'}} pull in the model stack"


def test_the_bot_image_takes_the_cpu_torch_before_the_package() -> None:
    """The bot embeds questions on the CPU: the CUDA wheel's libraries (several GB) would be dead weight."""
    bot = _stages()["bot"]
    default = dict(rest.split("=", 1) for keyword, rest in bot if keyword == "ARG" and "=" in rest)[
        "BOT_TORCH_INDEX"
    ]
    assert default == "https://download.pytorch.org/whl/cpu"
    install = next(rest for keyword, rest in bot if keyword == "RUN" and "/src[" in rest)
    torch_first = install.index('--index-url "$BOT_TORCH_INDEX" "torch==')
    assert torch_first < install.index('"/src['), "torch first, so that installing the package keeps it"


def test_the_image_copies_every_folder_the_package_installs() -> None:
    """setup.py installs adapters/, training/ and console/ under botkit.: the image needs all of them."""
    roots = re.search(r"ROOTS = \{([^}]*)\}", (ROOT / "setup.py").read_text())
    assert roots
    folders = set(re.findall(r'"botkit[.a-z]*": "([a-z]+)"', roots[1]))
    assert "console" in folders
    copied = {shlex.split(rest)[0] for keyword, rest in _stages()["source"] if keyword == "COPY"}
    assert folders <= copied, f"not in the image: {folders - copied}"


def test_the_worker_image_installs_the_model_and_the_queue() -> None:
    extras = _installed_extras(_stages()["worker"])
    assert {"model", "queue"} <= extras
    assert MODEL_STACK | {"celery", "prometheus-client"} <= _requirement_names(extras)


def test_torch_is_pinned_to_one_version_everywhere() -> None:
    pyproject = _torch_pin((ROOT / "pyproject.toml").read_text())
    assert _torch_pin((ROOT / "Makefile").read_text()) == pyproject
    assert _torch_pin((ROOT / "deploy" / "Dockerfile").read_text()) == pyproject


@pytest.mark.parametrize("target", ["bot", "worker"])
def test_the_images_run_as_an_ordinary_user(target: str) -> None:
    stages = _stages()
    user = _last(stages[target], "USER")
    assert user not in {"root", "0"}
    uid = re.search(r"--uid (\d+)", _last(stages["base"], "RUN"))
    assert uid, "the base stage creates the user with a fixed id"
    assert user in {uid[1], "botkit"}, "the USER is the one the base stage creates"


@pytest.mark.parametrize(("target", "command"), [("bot", "run"), ("worker", "worker")])
def test_each_image_runs_its_botkit_command(target: str, command: str) -> None:
    argv = json.loads(_last(_stages()[target], "CMD"))
    assert argv[:2] == ["botkit", command]
    args = build_parser().parse_args(argv[1:])
    assert getattr(args, "handler", None) is not None


def test_the_worker_health_check_probes_the_metrics_port_it_serves() -> None:
    worker = _stages()["worker"]
    argv = json.loads(_last(worker, "CMD"))
    port = argv[argv.index("--metrics-port") + 1]
    assert f"127.0.0.1:{port}/metrics" in _last(worker, "HEALTHCHECK")
    assert _last(worker, "EXPOSE") == port
    # The bot opens no port to probe in polling mode; its supervisor's restart policy is its health check.
    assert _last(_stages()["bot"], "HEALTHCHECK") == "NONE"


def test_the_build_context_leaves_out_the_virtual_environment() -> None:
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
    assert "*" in ignore, "everything is left out but what the package is built from"
    copied: set[str] = set()
    for keyword, rest in _stages()["source"]:
        if keyword == "COPY":
            copied |= set(shlex.split(rest)[:-1])
    assert {f"!{path}" for path in copied} <= set(ignore)
