"""A real Prometheus (Debian's package) against a real `driftwatch serve`, and promtool on the shipped files.

- `promtool check config deploy/prometheus.yml` and `promtool check rules deploy/prometheus-rules.yml`;
- `promtool test rules deploy/prometheus-rules.test.yml`: the shipped alerts fire (and stay quiet) as
  documented, on input series whose names and label names are checked here against what driftwatch's
  /metrics really exports, so the unit tests cannot drift away from the service;
- a Prometheus on 127.0.0.1 scrapes a `driftwatch serve` subprocess every second with the shipped rules
  loaded, and its HTTP API returns driftwatch's series.

The binaries come from `.ci/install-prometheus` (apt-get install prometheus) when missing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from _service import MONITOR, TOKEN, TestClient, make_project
from driftwatch.api.app import create_app
from driftwatch.api.metrics import DriftwatchCollector
from driftwatch.config.loading import load_settings
from driftwatch.pipeline.alerts import alerting_settings, prepare_alerting
from driftwatch.pipeline.cycle import run_monitor
from driftwatch.storage.database import Database

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
EXE = Path(sys.executable).parent / "driftwatch"
PROMETHEUS_LABELS = {"job", "instance"}  # added by Prometheus at scrape time


@dataclass(frozen=True)
class Binaries:
    prometheus: str
    promtool: str


@pytest.fixture(scope="session")
def binaries() -> Binaries:
    """Debian's prometheus and promtool; installed with .ci/install-prometheus when missing."""
    if not (shutil.which("prometheus") and shutil.which("promtool")):
        done = subprocess.run(
            [str(ROOT / ".ci" / "install-prometheus")], capture_output=True, text=True, timeout=900
        )
        if done.returncode != 0:
            pytest.skip(f"prometheus is not installed and could not be: {done.stderr.strip()[-500:]}")
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    assert prometheus and promtool
    return Binaries(prometheus, promtool)


def promtool(binaries: Binaries, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binaries.promtool, *args], capture_output=True, text=True, timeout=120, cwd=DEPLOY)


def test_promtool_checks_the_config_and_the_rules(binaries: Binaries) -> None:
    config = promtool(binaries, "check", "config", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr
    assert "1 rule files found" in config.stdout  # the rule file the config names resolves
    rules = promtool(binaries, "check", "rules", "prometheus-rules.yml")
    assert rules.returncode == 0, rules.stdout + rules.stderr
    count = sum(
        len(g["rules"]) for g in yaml.safe_load((DEPLOY / "prometheus-rules.yml").read_text())["groups"]
    )
    assert f"SUCCESS: {count} rules found" in rules.stdout


def test_promtool_unit_tests_of_the_shipped_alerts(binaries: Binaries) -> None:
    done = promtool(binaries, "test", "rules", "prometheus-rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    # every shipped alert is exercised, firing at least once
    tests = yaml.safe_load((DEPLOY / "prometheus-rules.test.yml").read_text())["tests"]
    fired = {c["alertname"] for t in tests for c in t["alert_rule_test"] if c["exp_alerts"]}
    shipped = {
        r["alert"]
        for g in yaml.safe_load((DEPLOY / "prometheus-rules.yml").read_text())["groups"]
        for r in g["rules"]
    }
    assert fired == shipped, shipped - fired


def test_promtool_unit_tests_can_fail(binaries: Binaries, tmp_path: Path) -> None:
    """The same tests against a rule file with one threshold changed fail, naming the alert."""
    shutil.copy(DEPLOY / "prometheus-rules.test.yml", tmp_path)
    rules = (DEPLOY / "prometheus-rules.yml").read_text()
    assert "> 0.05" in rules
    (tmp_path / "prometheus-rules.yml").write_text(rules.replace("> 0.05", "> 0.10"))
    done = subprocess.run(
        [binaries.promtool, "test", "rules", "prometheus-rules.test.yml"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode != 0 and "DriftwatchRowsQuarantined" in done.stdout + done.stderr


def _exported_label_names(tmp_path: Path) -> dict[str, set[str]]:
    """Series name → label names, from a real /metrics after a demo cycle with alerting (families with no
    sample in this small project, e.g. channel health, are read from the collector's declared labels)."""
    settings = load_settings(make_project(tmp_path / "p"))
    found: dict[str, set[str]] = {}
    with Database(settings.storage, settings.database) as db:
        alerting = prepare_alerting(alerting_settings(settings))
        run_monitor(db, settings, MONITOR, trigger="test", alerting=alerting)
        text = TestClient(create_app(settings, db, token=TOKEN)).get("/metrics").text
        for family in DriftwatchCollector(settings, db, None, 50).collect():
            suffix = "_total" if family.type == "counter" else ""
            found[family.name + suffix] = set(getattr(family, "_labelnames", ()))
    for line in text.splitlines():
        if match := re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? ", line):
            found[match.group(1)] = set(re.findall(r'([a-zA-Z_]\w*)="', match.group(2) or ""))
    return found


def test_unit_test_series_are_shaped_like_driftwatch_metrics(tmp_path: Path) -> None:
    exported = _exported_label_names(tmp_path)
    tests = yaml.safe_load((DEPLOY / "prometheus-rules.test.yml").read_text())["tests"]
    checked = 0
    for case in tests:
        for item in case["input_series"]:
            match = re.fullmatch(r"([a-zA-Z_:][\w:]*)\{(.*)\}", item["series"])
            assert match, item["series"]
            name, labels = match.group(1), set(re.findall(r'(\w+)="', match.group(2)))
            assert PROMETHEUS_LABELS <= labels, item["series"]
            if name == "up":
                continue
            assert name in exported, f"{name} is not a series driftwatch exports"
            assert labels - PROMETHEUS_LABELS == exported[name], (name, labels, exported[name])
            checked += 1
    assert checked >= 8


# --- a real Prometheus scraping a real driftwatch serve -------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Any, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what}: process exited\n{log.read_text()[-3000:]}"
        try:
            last = check()
            if last:
                return last
        except httpx.TransportError as error:
            last = error
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last})\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass(frozen=True)
class Stack:
    driftwatch: str
    prometheus: str


@pytest.fixture(scope="session")
def stack(binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`driftwatch serve` on a demo project, and Prometheus scraping it every second with the shipped rules."""
    root = tmp_path_factory.mktemp("prometheus-stack")
    config = make_project(root / "project")
    dw_port, prom_port = free_port(), free_port()
    dw_log, prom_log = root / "driftwatch.log", root / "prometheus.log"
    with dw_log.open("wb") as out:
        server = subprocess.Popen(
            [str(EXE), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", str(dw_port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DRIFTWATCH_TOKEN": TOKEN},
        )
    prom_config = root / "prometheus.yml"
    shipped = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    job = shipped["scrape_configs"][0]
    prom_config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(DEPLOY / r) for r in shipped["rule_files"]],
                "scrape_configs": [
                    {
                        "job_name": job["job_name"],
                        "metrics_path": job["metrics_path"],
                        "static_configs": [{"targets": [f"127.0.0.1:{dw_port}"]}],
                    }
                ],
            }
        )
    )
    prometheus: subprocess.Popen[bytes] | None = None
    try:
        dw = f"http://127.0.0.1:{dw_port}"

        def caught_up() -> bool:
            monitors = httpx.get(f"{dw}/health", timeout=5).json()["monitors"]
            return all(m["last_run_status"] == "ok" and not m["cycle_running"] for m in monitors)

        wait_for("driftwatch catch-up cycle", caught_up, server, dw_log, timeout=180)
        with prom_log.open("wb") as out:
            prometheus = subprocess.Popen(
                [
                    binaries.prometheus,
                    f"--config.file={prom_config}",
                    f"--storage.tsdb.path={root / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        prom = f"http://127.0.0.1:{prom_port}"
        wait_for(
            "prometheus ready",
            lambda: httpx.get(f"{prom}/-/ready", timeout=5).status_code == 200,
            prometheus,
            prom_log,
        )
        yield Stack(dw, prom)
    finally:
        if prometheus is not None:
            stop(prometheus)
        stop(server)


def query(stack: Stack, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{stack.prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


@pytest.mark.slow  # a server start with its catch-up cycle, and a Prometheus: ~20-40 s
def test_prometheus_scrapes_driftwatch(stack: Stack) -> None:
    deadline = time.monotonic() + 60
    while not (up := query(stack, 'up{job="driftwatch"}')) or up[0]["value"][1] != "1":
        assert time.monotonic() < deadline, f"target never up: {up}"
        time.sleep(0.5)
    monitors = query(stack, "driftwatch_monitors")
    assert [float(s["value"][1]) for s in monitors] == [1.0]
    psi = query(stack, f'driftwatch_feature_psi{{monitor="{MONITOR}"}}')
    assert len(psi) >= 3 and all(s["metric"]["job"] == "driftwatch" for s in psi)
    ok = query(stack, f'driftwatch_cycles_total{{monitor="{MONITOR}", status="ok"}}')
    assert ok and float(ok[0]["value"][1]) >= 1
    # the shipped rules are loaded and evaluate without error against the real series
    deadline = time.monotonic() + 30
    while True:
        groups = httpx.get(f"{stack.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if rules and all(r.get("lastEvaluation", "").startswith("20") for r in rules):
            break
        assert time.monotonic() < deadline, groups
        time.sleep(0.5)
    assert {r["health"] for r in rules} == {"ok"}, [(r["name"], r.get("lastError")) for r in rules]
    firing = [a for r in rules for a in r.get("alerts", []) if a["state"] == "firing"]
    assert firing == []  # a healthy service: none of its own alerts fire
