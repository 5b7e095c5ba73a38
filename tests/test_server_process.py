"""The real service: `driftwatch serve` as a subprocess on 127.0.0.1, driven over HTTP.

One scenario (a module fixture) starts the server on a fresh demo project, waits for its catch-up cycle, pushes
a day of logs (and labels), runs a cycle through the API, reads results and metrics, checks that a CLI write
command is refused while the server holds the database, stops the server with SIGTERM, restarts it and checks
that nothing was lost or doubled. The tests below assert on what it recorded.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from _service import DAYS, MONITOR, ROWS_PER_DAY, TOKEN, labels_for, make_project, next_day_records

pytestmark = pytest.mark.slow  # one scenario of ~30-60 s: two server starts, a first numba compile

EXE = Path(sys.executable).parent / "driftwatch"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    config: Path
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, "DRIFTWATCH_TOKEN": TOKEN}
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(EXE), "serve", "--config", str(self.config), "--port", str(self.port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120)

    def wait_ready(self, timeout: float = 90) -> dict[str, Any]:
        """Until /health answers and the catch-up cycle has succeeded."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                last = httpx.get(f"{self.url}/health", timeout=5).json()
                if all(m["last_run_status"] == "ok" and not m["cycle_running"] for m in last["monitors"]):
                    return dict(last)
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready: {last}\n{self.log.read_text()}")

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def run_and_stop(server: Server) -> tuple[httpx.Response, int]:
    """POST …/runs, and SIGTERM the server while that cycle runs: the cycle must finish and answer, and the
    server must then exit 0. (If the cycle is over before the signal goes, the check is only weaker.)"""
    answer: dict[str, httpx.Response] = {}

    def run() -> None:
        with server.client() as http:
            answer["run"] = http.post(f"/api/monitors/{MONITOR}/runs", headers=AUTH)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 30
    while thread.is_alive() and time.monotonic() < deadline:
        health = httpx.get(f"{server.url}/health", timeout=10).json()
        if health["monitors"][0]["cycle_running"]:
            break
        time.sleep(0.02)
    code = server.stop()
    thread.join(60)
    return answer["run"], code


@dataclass
class Scenario:
    facts: dict[str, Any] = field(default_factory=dict)
    reports_dir: Path | None = None


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp("serve")
    config = make_project(root / "demo")
    records = next_day_records(root / "extra")
    facts: dict[str, Any] = {}
    out = Scenario(facts, root / "demo" / "reports")
    server = Server(config, root / "server.log")
    try:
        server.start()
        facts["health"] = server.wait_ready()
        facts["cli"] = subprocess.run(
            [str(EXE), "run", "--config", str(config)], capture_output=True, text=True, timeout=120
        )
        facts["cli_results"] = subprocess.run(
            [str(EXE), "results", "--config", str(config)], capture_output=True, text=True, timeout=120
        )
        with server.client() as http:
            facts["before"] = http.get(f"/api/monitors/{MONITOR}").json()
            facts["push"] = http.post(
                f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json={"records": records}
            )
            facts["labels"] = http.post(
                f"/api/monitors/{MONITOR}/labels", headers=AUTH, json={"records": labels_for(records)}
            )
            facts["unauthorised"] = http.post(f"/api/monitors/{MONITOR}/runs")
        facts["run"], facts["stop_code"] = run_and_stop(server)
        facts["log_after_stop"] = server.log.read_text()

        server.port = free_port()
        server.start()
        server.wait_ready()
        with server.client() as http:
            facts["after"] = http.get(f"/api/monitors/{MONITOR}").json()
            facts["results"] = http.get(
                f"/api/monitors/{MONITOR}/results", params={"from": "2026-11-01T00:00:00Z"}
            ).json()
            facts["metrics"] = http.get("/metrics", follow_redirects=False)
            facts["reports"] = http.get("/api/reports").json()["items"]
            if facts["reports"]:
                page = http.get(facts["reports"][0]["url"])
                facts["report_page"] = page
                # Every relative script/link the page uses resolves under /reports/ too.
                facts["report_assets"] = {
                    src: http.get(str(page.url.join(src))).status_code
                    for src in re.findall(r'(?:src|href)="([^"#:]+\.(?:js|css|html))"', page.text)
                }
            facts["repush"] = http.post(f"/api/monitors/{MONITOR}/predictions", headers=AUTH, json=records)
            facts["after_repush"] = http.get(f"/api/monitors/{MONITOR}").json()
            facts["runs"] = http.get("/api/runs").json()
        facts["second_stop_code"] = server.stop()
        yield out
    finally:
        server.kill()


def test_serves_health_after_the_catch_up_cycle(scenario: Scenario) -> None:
    (monitor,) = scenario.facts["health"]["monitors"]
    assert monitor["name"] == MONITOR and monitor["last_successful_cycle"] is not None
    assert monitor["next_scheduled_cycle"] is not None  # the cron job is scheduled
    assert scenario.facts["health"]["scheduler_running"] is True
    before = scenario.facts["before"]
    assert before["predictions_stored"] == DAYS * ROWS_PER_DAY and before["windows_computed"] == DAYS


def test_push_then_run_then_read(scenario: Scenario) -> None:
    facts = scenario.facts
    assert facts["push"].status_code == 200, facts["push"].text
    assert facts["push"].json()["inserted"] == ROWS_PER_DAY
    assert facts["labels"].status_code == 200, facts["labels"].text
    assert facts["unauthorised"].status_code == 401
    assert facts["run"].status_code == 200, facts["run"].text  # finished although SIGTERM came meanwhile
    run = facts["run"].json()
    assert [w["window_start"] for w in run["windows"]] == ["2026-11-01T00:00:00Z"]
    assert facts["results"]["total"] == 10  # 8 features + 2 model outputs
    assert facts["after"]["predictions_stored"] == (DAYS + 1) * ROWS_PER_DAY
    assert facts["after"]["windows_computed"] == DAYS + 1 and facts["after"]["windows_queued"] == 0


def test_metrics_are_scraped_without_redirect(scenario: Scenario) -> None:
    response = scenario.facts["metrics"]
    assert response.status_code == 200
    text = response.text
    assert f'driftwatch_last_successful_cycle_timestamp_seconds{{monitor="{MONITOR}"}}' in text
    assert f'driftwatch_feature_psi{{feature="income",model_version="v3.2",monitor="{MONITOR}"}}' in text
    assert "driftwatch_scheduler_running 1.0" in text
    assert f'driftwatch_next_scheduled_cycle_timestamp_seconds{{monitor="{MONITOR}"}}' in text


def test_cli_write_command_is_refused_while_the_server_runs(scenario: Scenario) -> None:
    cli = scenario.facts["cli"]
    assert cli.returncode == 2
    lines = [line for line in cli.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, cli.stderr
    assert "is in use by another process" in lines[0]
    assert f"POST /api/monitors/{MONITOR}/runs" in lines[0]


def test_cli_read_command_while_the_server_runs_points_to_the_read_endpoint(scenario: Scenario) -> None:
    cli = scenario.facts["cli_results"]
    assert cli.returncode == 2
    lines = [line for line in cli.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, cli.stderr
    assert f"GET /api/monitors/{MONITOR}/results" in lines[0] and "POST" not in lines[0]


def test_sigterm_stops_cleanly_and_a_restart_loses_or_doubles_nothing(scenario: Scenario) -> None:
    facts = scenario.facts
    assert facts["stop_code"] == 0, facts["log_after_stop"]
    assert "stopped cleanly" in facts["log_after_stop"]
    assert TOKEN not in facts["log_after_stop"]
    # Counts through the API after the restart: nothing lost, nothing doubled.
    before, after = facts["before"], facts["after"]
    assert after["predictions_stored"] == before["predictions_stored"] + ROWS_PER_DAY
    assert after["rows_quarantined"] == before["rows_quarantined"]
    if facts["labels"].status_code == 200:
        assert after["labels_stored"] == before["labels_stored"] + facts["labels"].json()["new"]
    repush = facts["repush"].json()
    assert (repush["inserted"], repush["duplicate"]) == (0, ROWS_PER_DAY)
    assert facts["after_repush"]["predictions_stored"] == after["predictions_stored"]
    triggers = [r["trigger"] for r in facts["runs"]["items"]]
    assert triggers.count("startup") == 2 and triggers.count("api") == 1
    assert all(r["status"] == "ok" for r in facts["runs"]["items"])
    assert facts["second_stop_code"] == 0


def test_a_report_link_can_be_followed(scenario: Scenario) -> None:
    if not scenario.facts["reports"]:
        pytest.skip(
            f"no report files in {scenario.reports_dir} yet: report rendering is not wired into the cycle"
        )
    page = scenario.facts["report_page"]
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    broken = {src: code for src, code in scenario.facts["report_assets"].items() if code != 200}
    assert not broken, broken


# --- silences on the running service ---------------------------------------------------------------------


def _curl_from_hint(stderr: str, server: Server) -> list[str]:
    """The curl command a refused `driftwatch silence ...` prints, aimed at this server's port."""
    import shlex

    (line,) = [line for line in stderr.splitlines() if line.strip()]
    assert "is in use by another process" in line, line
    words = shlex.split(line[line.index("curl ") :])
    return [w.replace("http://127.0.0.1:8080", server.url) for w in words]


def _run_curl(words: list[str]) -> subprocess.CompletedProcess[str]:
    # The hint leaves `$DRIFTWATCH_TOKEN` for the shell: run it through one, with the token in the environment.
    import shlex

    command = " ".join(shlex.quote(w) if not w.startswith("Authorization:") else f'"{w}"' for w in words)
    env = {**os.environ, "DRIFTWATCH_TOKEN": TOKEN}
    return subprocess.run(
        ["sh", "-c", command + " -s -w '\\n%{http_code}'"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture(scope="module")
def silence_scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A running server; `silence add` and `silence expire` refused by the CLI, then done with the curl
    commands their errors print."""
    import json

    root = tmp_path_factory.mktemp("serve-silences")
    config = make_project(root / "demo")
    server = Server(config, root / "server.log")
    facts: dict[str, Any] = {}
    try:
        server.start()
        server.wait_ready()
        add = [str(EXE), "silence", "add", "--match", "feature=income", "--until", "2d"]
        add += ["--comment", "campaign traffic; retraining", "--config", str(config)]
        facts["cli_add"] = subprocess.run(add, capture_output=True, text=True, timeout=120)
        added = _run_curl(_curl_from_hint(facts["cli_add"].stderr, server))
        facts["curl_add"] = added
        body, _, code = added.stdout.rpartition("\n")
        facts["added"] = (int(code), json.loads(body))
        with server.client() as http:
            facts["listed"] = http.get("/api/silences").json()
        sid = facts["added"][1]["id"]
        expire = [str(EXE), "silence", "expire", sid, "--config", str(config)]
        facts["cli_expire"] = subprocess.run(expire, capture_output=True, text=True, timeout=120)
        expired = _run_curl(_curl_from_hint(facts["cli_expire"].stderr, server))
        body, _, code = expired.stdout.rpartition("\n")
        facts["expired"] = (int(code), json.loads(body))
        with server.client() as http:
            facts["after"] = http.get("/api/silences").json()
            facts["all"] = http.get("/api/silences", params={"all": "true"}).json()
        facts["stop_code"] = server.stop()
        yield facts
    finally:
        server.kill()


def test_silences_through_the_running_server_with_the_cli_hint(silence_scenario: dict[str, Any]) -> None:
    facts = silence_scenario
    assert facts["cli_add"].returncode == 2 and "curl -X POST" in facts["cli_add"].stderr
    code, silence = facts["added"]
    assert code == 201, facts["curl_add"]
    assert silence["matchers"] == {"feature": "income"} and silence["state"] == "active"
    assert [s["id"] for s in facts["listed"]["items"]] == [silence["id"]]
    assert facts["cli_expire"].returncode == 2 and "curl -X DELETE" in facts["cli_expire"].stderr
    code, expired = facts["expired"]
    assert code == 200 and expired["state"] == "expired" and expired["expired_at"] is not None
    assert facts["after"]["items"] == []
    assert [s["state"] for s in facts["all"]["items"]] == ["expired"]
    assert facts["stop_code"] == 0
