"""The container set-up, checked without a Docker engine: files parse, reference files that exist, name metrics
that driftwatch really exports, and run the same command the README gives."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from _service import TOKEN, TestClient, make_project
from driftwatch.api.app import create_app
from driftwatch.config import load_settings
from driftwatch.config_server import ServerSettings
from driftwatch.pipeline.cycle import run_monitor
from driftwatch.storage.database import Database

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "driftwatch.json").read_text())


def test_compose_services_and_mounted_files_exist() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"driftwatch", "prometheus", "grafana"}
    assert services["driftwatch"]["build"] == "."
    assert services["driftwatch"]["env_file"] == ".env"  # secrets from an env file, never inline
    assert "environment" not in services["driftwatch"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                if source == "./data":
                    continue  # the user's own data folder
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is not in the repo"
    assert (ROOT / "deploy" / "env.example").is_file()


def test_prometheus_config_and_rules_are_well_formed() -> None:
    prom = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    job = prom["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["driftwatch:8080"]
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus-rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert rule["expr"].count("(") == rule["expr"].count(")")
            assert re.fullmatch(r"\d+[smhd]", rule.get("for", "1m"))


def test_grafana_provisioning_points_at_the_dashboard() -> None:
    ds = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert ds["datasources"][0]["url"] == "http://prometheus:9090"
    uid = ds["datasources"][0]["uid"]
    prov = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/driftwatch.yml").read_text())
    assert prov["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    for panel in DASHBOARD["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == uid
            assert panel["targets"]


def _metric_names(expr: str) -> set[str]:
    return {re.sub(r"_total$", "", m) for m in re.findall(r"driftwatch_[a-z_]+", expr)}


def test_every_metric_the_dashboard_and_rules_use_is_exported(tmp_path: Path) -> None:
    """Scrape a real /metrics after a demo cycle with labels and alerting, and find each name there."""
    settings = load_settings(make_project(tmp_path / "p"))
    with Database(settings.storage, settings.database) as db:
        from driftwatch.pipeline.alerts import alerting_settings, prepare_alerting

        run_monitor(
            db,
            settings,
            "credit-default",
            trigger="test",
            alerting=prepare_alerting(alerting_settings(settings)),
        )
        client = TestClient(create_app(settings, db, ServerSettings(), token=TOKEN))
        text = client.get("/metrics").text
    exported = {
        re.sub(r"_total$", "", line.split()[2]) for line in text.splitlines() if line.startswith("# TYPE")
    }
    used: set[str] = set()
    for panel in DASHBOARD["panels"]:
        for target in panel.get("targets", []):
            used |= _metric_names(target["expr"])
    used |= _metric_names(DASHBOARD["templating"]["list"][0]["query"])
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus-rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            used |= _metric_names(rule["expr"])
    assert len(used) >= 10
    assert used <= exported, sorted(used - exported)


def _readme_serve_line() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Run it as a service", 1)[1].split("\n## ", 1)[0]
    line = next(
        ln for ln in section.splitlines() if "driftwatch serve" in ln and ln.strip().startswith("driftwatch")
    )
    return shlex.split(line.strip())


def test_dockerfile_runs_the_readme_commands() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    run = re.search(r"^RUN (.+?)(?:\\\n.*)?$", docker, re.M)
    assert run is not None
    readme = (ROOT / "README.md").read_text()
    setup = "python3 -m venv .venv && .venv/bin/pip install -q uv"
    assert setup in run.group(1) and setup in readme
    cmd: list[Any] = json.loads(re.search(r"^CMD (\[.+\])$", docker, re.M).group(1))  # type: ignore[union-attr]
    assert cmd[0] == ".venv/bin/driftwatch"
    serve = _readme_serve_line()
    assert cmd[1:3] == serve[1:3] == ["serve", "--config"]
    assert {"--host", "--port"} <= set(serve) and {"--host", "--port"} <= set(cmd)


@pytest.mark.parametrize("path", ["Dockerfile", "docker-compose.yml", "deploy/env.example"])
def test_no_secret_values_in_deploy_files(path: str) -> None:
    text = (ROOT / path).read_text()
    assert "hooks.slack.com" not in text and "xoxb-" not in text
