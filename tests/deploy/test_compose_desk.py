"""The compose desk stack: PostgreSQL with its secret from the environment, the bot's ports as its settings
serve them, Prometheus scraping the ports the services really serve, Grafana provisioned.

Ports are read where they are set: a botkit command's flags through the real CLI parser, the bot's from the
settings botkit loads from the compose file's environment (``load_settings``), so a port changed in one place
and not the other fails here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import make_url

from botkit.cli import build_parser
from botkit.config import Settings, load_settings
from tests.deploy.compose_file import (
    DEPLOY,
    MissingVariable,
    compose,
    mount_target,
    published_container_ports,
    raw_compose,
)

SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret-1",
    "REDIS_PASSWORD": "redis-secret-4",
    "GRAFANA_ADMIN_PASSWORD": "gf-secret-2",
    "BOTKIT_WEB__SECRET": "web-secret-3",
}


@pytest.fixture
def stack() -> dict[str, Any]:
    return compose(SECRETS)


@pytest.fixture
def bot_settings(stack: dict[str, Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The settings `botkit run` gets in the bot container (no config file; the compose environment)."""
    for name in [n for n in __import__("os").environ if n.startswith("BOTKIT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no ./botkit.toml of the checkout's
    for name, value in stack["services"]["bot"]["environment"].items():
        monkeypatch.setenv(name, str(value))
    return load_settings()


def test_the_stack_has_the_desk_services(stack: dict[str, Any]) -> None:
    assert {"postgres", "prometheus", "grafana", "bot", "worker", "flower"} <= set(stack["services"])
    assert set(stack["volumes"]) == {"postgres-data", "prometheus-data", "grafana-data"}


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_stops_with_a_clear_line_without_a_secret(missing: str) -> None:
    """What the user sees: compose names the variable and where to set it, and starts nothing."""
    others = {name: value for name, value in SECRETS.items() if name != missing}
    with pytest.raises(MissingVariable, match=f"{missing} is missing a value: set {missing} in deploy/.env"):
        compose(others)
    with pytest.raises(MissingVariable, match=missing):
        compose({**others, missing: ""})  # set but empty is missing too (the ":?" form)


def test_postgres_keeps_its_data_and_reports_ready(stack: dict[str, Any]) -> None:
    postgres = stack["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")  # the official image
    assert mount_target(postgres, "postgres-data") == "/var/lib/postgresql/data"
    check = postgres["healthcheck"]["test"]
    assert check[:2] == ["CMD", "pg_isready"]
    env = postgres["environment"]
    assert check[check.index("--username") + 1] == env["POSTGRES_USER"]
    assert check[check.index("--dbname") + 1] == env["POSTGRES_DB"]
    assert env["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]


def _secret_keys(node: Any, path: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if re.search(r"PASSWORD|SECRET|TOKEN|DATABASE_URL", str(key)):
                found.append((where, value))
            found.extend(_secret_keys(value, where))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found.extend(_secret_keys(item, f"{path}[{i}]"))
    return found


def test_no_secret_is_written_in_the_file() -> None:
    secrets = _secret_keys(raw_compose())
    assert len(secrets) >= 3
    for where, value in secrets:
        assert re.search(r"\$\{[A-Z_]+:\?", str(value)), f"{where} is not taken from the environment: {value}"
    assert stack_secret_names() == set(SECRETS)


def stack_secret_names() -> set[str]:
    """The variables the file requires (``${NAME:?...}``)."""
    return set(re.findall(r"\$\{([A-Z_]+):\?", (DEPLOY / "compose.yaml").read_text()))


def test_the_bot_reaches_postgres_with_the_password_of_the_environment(
    stack: dict[str, Any], bot_settings: Settings
) -> None:
    assert bot_settings.database_url is not None
    url = make_url(bot_settings.database_url)
    postgres = stack["services"]["postgres"]["environment"]
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port) == ("postgres", 5432)
    assert (url.username, url.password, url.database) == (
        postgres["POSTGRES_USER"],
        SECRETS["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    for name in ("bot", "beat", "jobs"):  # every process that loads the desk waits for a ready database
        service = stack["services"][name]
        assert service["depends_on"]["postgres"] == {"condition": "service_healthy"}
        assert service["environment"]["BOTKIT_DATABASE_URL"] == bot_settings.database_url


def test_the_bot_serves_the_widget_console_and_metrics_on_its_published_ports(
    stack: dict[str, Any], bot_settings: Settings
) -> None:
    assert "web" in bot_settings.adapters
    assert "botkit.console" in bot_settings.plugins
    assert bot_settings.desk.enabled
    # Bound to every interface of the container, or nothing outside it could connect.
    assert bot_settings.web.listen == bot_settings.console.listen == "0.0.0.0"
    assert bot_settings.web.secret is not None
    assert bot_settings.web.secret.get_secret_value() == SECRETS["BOTKIT_WEB__SECRET"]
    bot = stack["services"]["bot"]
    assert bot_settings.desk.metrics_port is not None
    ports = {bot_settings.web.port, bot_settings.console.port, bot_settings.desk.metrics_port}
    assert ports <= published_container_ports(bot)
    # The console is published on the host's loopback only: agents reach it through an HTTPS proxy.
    assert f"127.0.0.1:{bot_settings.console.port}:{bot_settings.console.port}" in bot["ports"]


def _served_port(stack: dict[str, Any], service: str, bot_settings: Settings) -> int:
    """The port a scraped service serves its metrics on, read from what starts it."""
    command = [str(c) for c in stack["services"][service]["command"]]
    if service == "bot":
        assert command[:2] == ["botkit", "run"]
        assert bot_settings.desk.metrics_port is not None
        return bot_settings.desk.metrics_port
    if command[0] == "botkit":
        args = build_parser().parse_args(command[1:])
        return int(args.metrics_port)
    port = next(arg.removeprefix("--port=") for arg in command if arg.startswith("--port="))  # flower
    return int(port)


def test_prometheus_scrapes_the_ports_the_services_serve(
    stack: dict[str, Any], bot_settings: Settings
) -> None:
    prometheus = stack["services"]["prometheus"]
    config_path = next(a.split("=", 1)[1] for a in prometheus["command"] if a.startswith("--config.file="))
    assert mount_target(prometheus, "./prometheus/prometheus.yml") == config_path
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    scraped: set[str] = set()
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for group in job["static_configs"]:
            for target in group["targets"]:
                host, port = target.split(":")
                assert host in stack["services"], f"{job['job_name']}: no compose service {host}"
                served = _served_port(stack, host, bot_settings)
                assert int(port) == served, f"{job['job_name']} scrapes {target}, {host} serves {served}"
                assert served in published_container_ports(stack["services"][host])
                scraped.add(host)
    assert scraped == {"worker", "bot", "flower"}


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard(stack: dict[str, Any]) -> None:
    grafana = stack["services"]["grafana"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == SECRETS["GRAFANA_ADMIN_PASSWORD"]
    assert mount_target(grafana, "./grafana/provisioning") == "/etc/grafana/provisioning"
    provisioning = DEPLOY / "grafana" / "provisioning"
    [datasources] = [
        yaml.safe_load(p.read_text()) for p in sorted((provisioning / "datasources").glob("*.yaml"))
    ]
    [source] = datasources["datasources"]
    assert source["type"] == "prometheus"
    url = make_url(source["url"].replace("http://", "postgresql://", 1))  # any URL parser: host and port
    assert url.host == "prometheus"
    assert url.port == 9090
    assert "9090" in str(stack["services"]["prometheus"]["ports"])
    [providers] = [
        yaml.safe_load(p.read_text()) for p in sorted((provisioning / "dashboards").glob("*.yaml"))
    ]
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    assert mount_target(grafana, "./grafana/dashboards") == provider["options"]["path"]
    assert (DEPLOY / "grafana" / "dashboards" / "botkit.json").is_file()


def test_the_readme_and_comments_add_users_with_commands_botkit_accepts() -> None:
    """`botkit console add-user` as deploy/ tells people to type it, parsed by the real CLI parser."""
    found = 0
    for path in [DEPLOY / "README.md", DEPLOY / "compose.yaml", *sorted((DEPLOY / "systemd").glob("*"))]:
        for line in re.findall(r"botkit console add-user[^\n`]*", path.read_text()):
            argv = shlex.split(line)[1:]
            args = build_parser().parse_args(argv)
            assert args.handler is not None
            assert args.role in {"admin", "agent"}
            found += 1
    assert found >= 3


@pytest.mark.parametrize(("service", "role"), [("bot", "bot"), ("worker", "worker")])
def test_the_bot_and_worker_healthchecks_are_botkit_health_commands_the_cli_accepts(
    stack: dict[str, Any], service: str, role: str
) -> None:
    check = stack["services"][service]["healthcheck"]
    argv = check["test"]
    assert argv[:3] == ["CMD", "botkit", "health"], argv
    args = build_parser().parse_args(argv[2:])  # SystemExit on a flag the CLI does not know
    assert args.handler.__module__ == "botkit.health"
    assert (args.role, args.live, args.require_queue) == (role, False, False)
    # The check's own 2 s per step must fit in the healthcheck's timeout (Python's start-up included).
    assert int(check["timeout"].rstrip("s")) >= 10
