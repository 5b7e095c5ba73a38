"""MLflow Model Registry references against a real `mlflow server` (sqlite backend, local artifacts, loopback).

One server per session; each test registers its own model (unique name) so tests do not see each other's
aliases. The data: version 1 was trained on x ~ N(0, 1), version 2 on x ~ N(1.5, 1). Windows of each version
come from that version's distribution, so a window compared with ITS version's reference is quiet, and one
compared with the other version's reference is at drift (KS D ≈ 0.55): the per-version check can fail.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import polars as pl
import pytest

import _early
from driftwatch.api.push import push_predictions
from driftwatch.config.loading import load_settings
from driftwatch.config.mlflow import MlflowSettings
from driftwatch.config.monitors import MonitorConfig
from driftwatch.errors import ConfigError, SourceError
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.registry import resolve_alias
from driftwatch.pipeline.runner import CycleRunner
from driftwatch.reports.site import overview_page, render_reports, window_page
from driftwatch.storage.database import Database

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mlflow") is None,
    reason="mlflow is not installed (the dev dependency group has it; `pip install 'driftwatch[mlflow]'`)",
)

DAY1 = datetime(2026, 3, 1, tzinfo=UTC)
MEANS = {1: 0.0, 2: 1.5}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    def __init__(self, root: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(root / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{root / 'mlflow.db'}",
                "--artifacts-destination",
                str(root / "artifacts"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.root = root
        self.ready = False

    def wait_ready(self) -> None:
        """Poll /health until the server answers; it may have been started early (tests/_early.py)."""
        if self.ready:
            return
        root = self.root
        deadline = time.monotonic() + 180  # the first start migrates the sqlite schema: ~30 s on 2 busy cores
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    self.ready = True
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(20)
        self.log.close()


# Started in the background right after collection when a selected test needs it (tests/_early.py).
EARLY_STARTS = {"mlflow_server": MlflowServer} if importlib.util.find_spec("mlflow") else {}


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server: MlflowServer = _early.take(
        "mlflow_server", lambda: tmp_path_factory.mktemp("mlflow"), MlflowServer
    )
    server.wait_ready()
    saved = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = server.url
    try:
        yield server
    finally:
        server.stop()
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved


def _client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


def _training(mean: float, seed: int, n: int = 2000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"x": rng.normal(mean, 1.0, n), "region": rng.choice(["north", "south"], n)})


class Registry:
    """A registered model with versions whose runs carry their training data (the documented conventions)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.client = _client()
        self.name = f"fraud-{uuid.uuid4().hex[:8]}"
        self.experiment = self.client.create_experiment(self.name)
        self.client.create_registered_model(self.name)

    def run(self) -> str:
        run_id: str = self.client.create_run(self.experiment).info.run_id
        return run_id

    def version_with_artifact(self, mean: float, seed: int, folder: str = "reference") -> int:
        """A version whose run logged its training data as an artifact `reference/train.parquet`."""
        run_id = self.run()
        local = self.root / f"train-{run_id}.parquet"
        _training(mean, seed).write_parquet(local)
        self.client.log_artifact(run_id, str(local), artifact_path=folder)
        self.client.set_terminated(run_id)
        return self._register(run_id)

    def version_with_dataset_input(self, mean: float, seed: int) -> int:
        """A version whose run logged its training data as a dataset input (source: a local file)."""
        from mlflow.entities import Dataset, DatasetInput, InputTag

        run_id = self.run()
        local = self.root / f"input-{run_id}.parquet"
        _training(mean, seed).write_parquet(local)
        dataset = Dataset(
            name="train", digest="d" + run_id[:8], source_type="local", source=json.dumps({"uri": str(local)})
        )
        tags = [InputTag(key="mlflow.data.context", value="training")]
        self.client.log_inputs(run_id, datasets=[DatasetInput(dataset=dataset, tags=tags)])
        return self._register(run_id)

    def version_without_data(self) -> int:
        return self._register(self.run())

    def _register(self, run_id: str) -> int:
        mv = self.client.create_model_version(self.name, f"runs:/{run_id}/model", run_id=run_id)
        return int(mv.version)

    def alias(self, alias: str, version: int) -> None:
        self.client.set_registered_model_alias(self.name, alias, str(version))

    def tags(self, version: int) -> dict[str, str]:
        return dict(self.client.get_model_version(self.name, str(version)).tags)


class Project:
    FEATURES = "    features:\n      numeric: [x]\n      categorical: [region]\n"

    def __init__(
        self,
        root: Path,
        model: str,
        mlflow_options: str = "      mlflow: {write_back: true}",
        features: str | None = None,
        versioned: bool = True,
    ) -> None:
        self.root = root
        features = self.FEATURES if features is None else features
        (root / "logs").mkdir()
        (root / "driftwatch.yml").write_text(
            f"""\
storage: dw.duckdb
monitors:
  fraud:
    predictions:
      path: logs/*.parquet
      {"model_version: model_version" if versioned else "id: request_id"}
      features: [x, region]
    reference:
      path: mlflow://models/{model}@champion
{mlflow_options}
{features}    min_rows: 50
"""
        )
        self.settings = load_settings(root / "driftwatch.yml")
        self.monitor: MonitorConfig = self.settings.monitor("fraud")
        self.db = Database(root / "dw.duckdb")

    def log(self, name: str, version: str, mean: float, day: int, seed: int, n: int = 600) -> None:
        rng = np.random.default_rng(seed)
        start = DAY1 + timedelta(days=day)
        pl.DataFrame(
            {
                "request_id": [f"{name}-{i}" for i in range(n)],
                "timestamp": [start + timedelta(seconds=60 * i) for i in range(n)],
                "model_version": [version] * n,
                "x": rng.normal(mean, 1.0, n),
                "region": rng.choice(["north", "south"], n),
            }
        ).write_parquet(self.root / "logs" / f"{name}.parquet")

    def cycle(self, day: int) -> Any:
        return run_cycle(self.db, self.monitor, now=DAY1 + timedelta(days=day))

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        return self.db.cursor().execute(sql, list(params)).fetchall()

    def x_result(self, version: str, day: int) -> tuple[str, str, str, float]:
        """(status, profile_id, run_id, KS D) of feature x in the overall window of `version` on `day`."""
        row = self.rows(
            "SELECT r.status, r.profile_id, r.run_id, s.value FROM feature_results r JOIN feature_stats s "
            "USING (monitor, model_version, segment, window_start, feature) WHERE r.monitor = 'fraud' "
            "AND r.model_version = ? AND r.segment = '*' AND r.feature = 'x' AND r.window_start = ? "
            "AND s.statistic = 'ks_statistic'",
            version,
            (DAY1 + timedelta(days=day)).replace(tzinfo=None),
        )
        assert len(row) == 1, row
        return (str(row[0][0]), str(row[0][1]), str(row[0][2]), float(row[0][3]))

    def version_profiles(self) -> dict[int, str]:
        return {int(v): str(p) for v, p in self.rows("SELECT version, profile_id FROM registry_versions")}


class WriteDenyingProxy:
    """Forwards HTTP to the MLflow server; with `deny_writes` it answers every set-tag with 403, as a server
    would to a read-only token."""

    def __init__(self, target: str) -> None:
        self.deny_writes = False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.deny_writes and "set-tag" in self.path:
                    self._answer(403, b'{"error_code": "PERMISSION_DENIED", "message": "read-only token"}')
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                got = httpx.request(
                    self.command, target + self.path, headers=headers, content=body, timeout=30
                )
                self._answer(
                    got.status_code, got.content, got.headers.get("content-type", "application/json")
                )

            def _answer(self, status: int, content: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registry(tmp_path: Path, mlflow_server: MlflowServer) -> Registry:
    return Registry(tmp_path)


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_each_version_is_compared_with_its_own_training_data_and_an_alias_move_keeps_history(
    tmp_path: Path, registry: Registry
) -> None:
    v1 = registry.version_with_artifact(MEANS[1], seed=1)
    v2 = registry.version_with_artifact(MEANS[2], seed=2)
    registry.alias("champion", v1)
    p = Project(tmp_path, registry.name)
    # Day 0: the champion (v1) and a shadow v2, each scoring traffic like its own training data.
    p.log("d0-v1", str(v1), MEANS[1], day=0, seed=11)
    p.log("d0-v2", str(v2), MEANS[2], day=0, seed=12)
    first = p.cycle(day=2)
    assert first.windows_computed == 2 and not first.warnings
    profiles = p.version_profiles()
    assert set(profiles) == {v1, v2} and profiles[v1] != profiles[v2]
    status1, pid1, run1, d1 = p.x_result(str(v1), 0)
    status2, pid2, run2, d2 = p.x_result(str(v2), 0)
    assert (pid1, pid2) == (profiles[v1], profiles[v2])
    # Against its own reference each is quiet; against the other one D would be ~0.55 (drift).
    assert status1 != "drift" and status2 != "drift" and d1 < 0.1 and d2 < 0.1
    assert p.rows("SELECT profile_id FROM reference_profiles WHERE is_current") == [(profiles[v1],)]
    assert p.rows("SELECT path FROM reference_profiles WHERE profile_id = ?", profiles[v2])[0][0].startswith(
        f"mlflow://models/{registry.name}/{v2} (run "
    )
    assert p.rows("SELECT version, previous_version FROM registry_changes") == [(v1, None)]

    # The alias moves: v2 is the new champion. Day 1 has v2 traffic and traffic of a version the registry
    # does not know, which is compared with whatever the reference names now (v2).
    registry.alias("champion", v2)
    p.log("d1-v2", str(v2), MEANS[2], day=1, seed=13)
    p.log("d1-unknown", "canary-7", MEANS[2], day=1, seed=14)
    second = p.cycle(day=3)
    assert second.windows_computed == 2 and not second.profile_rebuilt
    assert second.registry_change == f"mlflow://models/{registry.name}@champion: version {v1} → version {v2}"
    assert p.rows("SELECT version, previous_version FROM registry_changes ORDER BY changed_at") == [
        (v1, None),
        (v2, v1),
    ]
    assert p.rows("SELECT profile_id FROM reference_profiles WHERE is_current") == [(profiles[v2],)]
    assert p.x_result(str(v2), 1)[1] == profiles[v2]
    unknown = p.x_result("canary-7", 1)
    assert unknown[1] == profiles[v2] and unknown[0] != "drift"
    # The old version's history is not recomputed: same run, same profile.
    assert p.x_result(str(v1), 0)[1:3] == (pid1, run1)
    assert p.x_result(str(v2), 0)[1:3] == (pid2, run2)
    # The change is on the monitor's overview page, and each window page names its version's reference.
    render_reports(p.db, p.settings, monitor="fraud")
    overview = (p.settings.reports_dir / overview_page("fraud")).read_text()
    assert f"mlflow://models/{registry.name}@champion → version {v2}" in overview
    assert f"version {v1} → {v2}" in overview
    window = p.settings.reports_dir / window_page("fraud", str(v2), "*", datetime(2026, 3, 1))
    assert f"mlflow://models/{registry.name}/{v2} (run" in window.read_text()
    # The cache holds one download per version; a third cycle reads nothing from the artifact store again.
    downloads = sorted(q.name for q in (tmp_path / ".driftwatch-mlflow").rglob("*.parquet"))
    assert len(downloads) == 2
    assert p.cycle(day=3).windows_computed == 0
    assert sorted(q.name for q in (tmp_path / ".driftwatch-mlflow").rglob("*.parquet")) == downloads


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_write_back_sets_the_latest_window_summary_as_version_tags_idempotently(
    tmp_path: Path, registry: Registry
) -> None:
    v1 = registry.version_with_artifact(MEANS[1], seed=1)
    v2 = registry.version_with_artifact(MEANS[2], seed=2)
    registry.alias("champion", v1)
    p = Project(tmp_path, registry.name)
    p.log("d0-v1", str(v1), MEANS[1], day=0, seed=21)
    p.log("d1-v1", str(v1), MEANS[2], day=1, seed=22)  # v1 sees v2-like traffic on day 1: drift
    p.log("d0-v2", str(v2), MEANS[2], day=0, seed=23)
    p.cycle(day=3)
    prefix = "driftwatch.fraud"
    tags1, tags2 = registry.tags(v1), registry.tags(v2)
    assert tags1[f"{prefix}.window_start"] == "2026-03-02T00:00:00Z"  # the latest window of v1
    assert (
        tags1[f"{prefix}.drift_status"]
        == p.rows(
            "SELECT status FROM window_summaries WHERE model_version = ? AND segment = '*' AND window_start = ?",
            str(v1),
            datetime(2026, 3, 2),
        )[0][0]
    )
    assert tags1[f"{prefix}.drift_status"] == "drift" and tags1[f"{prefix}.features_drift"].startswith("1/")
    assert tags2[f"{prefix}.window_start"] == "2026-03-01T00:00:00Z"
    assert tags2[f"{prefix}.drift_status"] != "drift"
    assert float(tags2[f"{prefix}.drift_share"]) == 0.0
    assert p.rows("SELECT version, status FROM registry_writebacks ORDER BY version") == [
        (v1, "ok"),
        (v2, "ok"),
    ]
    runs_before = len(registry.client.search_runs([registry.experiment]))
    # Recomputing the same windows writes the same values and creates no run.
    p.rows(
        "INSERT INTO window_queue SELECT DISTINCT monitor, model_version, window_start, window_end, "
        "now(), 'test' FROM window_summaries"
    )
    assert p.cycle(day=3).windows_computed == 3
    assert registry.tags(v1) == tags1 and registry.tags(v2) == tags2
    assert len(registry.client.search_runs([registry.experiment])) == runs_before


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_a_failed_write_back_is_recorded_and_retried_without_failing_the_cycle(
    tmp_path: Path, registry: Registry, mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = registry.version_with_artifact(MEANS[1], seed=1)
    registry.alias("champion", v1)
    p = Project(tmp_path, registry.name)
    p.log("v1", str(v1), MEANS[1], day=0, seed=71)
    proxy = WriteDenyingProxy(mlflow_server.url)
    try:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.url)
        proxy.deny_writes = True
        denied = p.cycle(day=2)
        assert denied.windows_computed == 1  # the cycle went on
        assert any(f"write-back to mlflow://models/{registry.name}/{v1} failed" in w for w in denied.warnings)
        status, error = p.rows("SELECT status, error FROM registry_writebacks")[0]
        assert status == "failed" and "read-only token" in error
        assert p.rows("SELECT status FROM runs") == [("ok",)]
        assert "driftwatch.fraud.drift_status" not in registry.tags(v1)
        proxy.deny_writes = False
        retried = p.cycle(day=2)  # no new window: the failed write-back alone is tried again
        assert retried.windows_computed == 0 and not retried.warnings
    finally:
        proxy.stop()
    assert p.rows("SELECT status, error FROM registry_writebacks") == [("ok", None)]
    assert registry.tags(v1)["driftwatch.fraud.window_start"] == "2026-03-01T00:00:00Z"


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_logs_without_model_version_use_and_write_back_to_the_version_named_now(
    tmp_path: Path, registry: Registry
) -> None:
    v1 = registry.version_with_artifact(MEANS[1], seed=1)
    v2 = registry.version_with_artifact(MEANS[2], seed=2)
    registry.alias("champion", v2)
    p = Project(tmp_path, registry.name, versioned=False)
    p.log("all", "ignored", MEANS[2], day=0, seed=81)
    assert p.cycle(day=2).windows_computed == 1
    assert p.x_result("*", 0)[1] == p.version_profiles()[v2] and set(p.version_profiles()) == {v2}
    assert registry.tags(v2)["driftwatch.fraud.window_start"] == "2026-03-01T00:00:00Z"
    assert "driftwatch.fraud.window_start" not in registry.tags(v1)


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_dataset_input_convention_version_tag_mapping_and_resolve_alias(
    tmp_path: Path, registry: Registry
) -> None:
    v1 = registry.version_with_artifact(MEANS[1], seed=1, folder="training")
    v2 = registry.version_with_dataset_input(MEANS[2], seed=2)
    registry.client.set_model_version_tag(registry.name, str(v1), "git_sha", "aaa111")
    registry.client.set_model_version_tag(registry.name, str(v2), "git_sha", "bbb222")
    registry.alias("champion", v1)
    registry.alias("challenger", v2)
    options = "      mlflow: {artifact_path: training, version_tag: git_sha}"
    p = Project(tmp_path, registry.name, options)
    p.log("a", "aaa111", MEANS[1], day=0, seed=31)
    p.log("b", "bbb222", MEANS[2], day=0, seed=32)
    assert p.cycle(day=2).windows_computed == 2
    profiles = p.version_profiles()
    assert p.x_result("aaa111", 0)[1] == profiles[v1]
    b = p.x_result("bbb222", 0)
    assert b[1] == profiles[v2] and b[0] != "drift"  # v2's data came from its logged dataset input
    assert not registry.tags(v1).get("driftwatch.fraud.drift_status")  # write_back is off by default
    tagged = MlflowSettings(version_tag="git_sha")
    assert resolve_alias(tagged, registry.name, "challenger") == "bbb222"
    assert resolve_alias(MlflowSettings(), registry.name, "challenger") == str(v2)
    with pytest.raises(SourceError, match="no-such-alias"):
        resolve_alias(MlflowSettings(), registry.name, "no-such-alias")


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_a_version_without_training_data_waits_and_the_others_go_on(
    tmp_path: Path, registry: Registry
) -> None:
    v1 = registry.version_with_artifact(MEANS[1], seed=1)
    v2 = registry.version_without_data()
    registry.alias("champion", v1)
    p = Project(tmp_path, registry.name)
    p.log("v1", str(v1), MEANS[1], day=0, seed=41)
    p.log("v2", str(v2), MEANS[1], day=0, seed=42)
    summary = p.cycle(day=2)
    assert summary.windows_computed == 1
    assert any(
        f"mlflow://models/{registry.name}/{v2}" in w and "no training data" in w for w in summary.warnings
    )
    assert p.rows("SELECT model_version FROM window_queue") == [(str(v2),)]
    error = p.rows("SELECT status, error FROM runs ORDER BY started_at DESC LIMIT 1")[0]
    assert error[0] == "ok" and "no training data" in error[1]


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_registry_down_fails_the_cycle_clearly_and_the_next_cycle_retries(
    tmp_path: Path, registry: Registry, mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = registry.version_with_artifact(MEANS[1], seed=1)
    registry.alias("champion", v1)
    p = Project(tmp_path, registry.name)
    p.log("v1", str(v1), MEANS[1], day=0, seed=51)
    dead = f"http://127.0.0.1:{_free_port()}"  # nothing listens there: connection refused
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    started = time.monotonic()
    with pytest.raises(SourceError, match=f"MLflow registry at {dead}"):
        p.cycle(day=2)
    assert time.monotonic() - started < 60  # bounded retries, not MLflow's default minutes of backoff
    status, error = p.rows("SELECT status, error FROM runs")[0]
    assert status == "failed" and f"mlflow://models/{registry.name}@champion" in error
    assert p.rows("SELECT count(*) FROM window_summaries") == [(0,)]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    assert p.cycle(day=2).windows_computed == 1


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_pushed_predictions_take_the_features_of_the_version_the_alias_names(
    tmp_path: Path, registry: Registry
) -> None:
    v1 = registry.version_with_artifact(MEANS[1], seed=1)
    registry.alias("champion", v1)
    p = Project(tmp_path, registry.name, features="")  # features inferred from v1's training data
    rng = np.random.default_rng(61)
    records = [
        {
            "request_id": f"push-{i}",
            "timestamp": (DAY1 + timedelta(minutes=i)).isoformat(),
            "model_version": str(v1),
            "x": float(rng.normal()),
            "region": "north" if i % 2 else "south",
        }
        for i in range(100)
    ]
    pushed = push_predictions(p.db, CycleRunner(p.settings, p.db), p.monitor, records)
    assert pushed.inserted == 100
    assert p.rows("SELECT count(*) FROM registry_changes") == [(0,)]  # a push records nothing
    summary = p.cycle(day=2)
    assert summary.features == ("x", "region") and summary.windows_computed == 1
    assert p.x_result(str(v1), 0)[1] == p.version_profiles()[v1]


def test_config_refuses_bad_registry_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def load(reference: str) -> MonitorConfig:
        (tmp_path / "driftwatch.yml").write_text(
            f"storage: dw.duckdb\nmonitors:\n  m:\n    predictions: {{path: logs/*.parquet}}\n"
            f"    reference:\n{reference}\n"
        )
        return load_settings(tmp_path / "driftwatch.yml").monitor("m")

    mon = load("      path: mlflow://models/fraud model@champion")
    assert mon.reference.registry is not None
    assert (mon.reference.registry.model, mon.reference.registry.alias) == ("fraud model", "champion")
    assert mon.reference.path == "mlflow://models/fraud model@champion"
    fixed = load("      path: mlflow://models/fraud/3\n      mlflow: {artifact_path: data/train.csv}")
    assert fixed.reference.registry is not None and fixed.reference.registry.version == 3
    assert fixed.reference.registry.settings.artifact_path == "data/train.csv"
    with pytest.raises(ConfigError, match="expected mlflow://models/<name>@<alias>"):
        load("      path: mlflow://fraud@champion")
    with pytest.raises(ConfigError, match="applies only to a registry reference"):
        load("      path: train.parquet\n      mlflow: {write_back: true}")
    with pytest.raises(ConfigError, match="relative to the run's artifact root"):
        load("      path: mlflow://models/fraud/3\n      mlflow: {artifact_path: ../x}")
    with pytest.raises(ConfigError, match="reference.mlflow.writeback: unknown key"):
        load("      path: mlflow://models/fraud/3\n      mlflow: {writeback: true}")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"pip install 'driftwatch\[mlflow\]'"):
        load("      path: mlflow://models/fraud@champion")


def test_driftwatch_import_does_not_import_mlflow() -> None:
    code = "import sys, driftwatch.cli, driftwatch.pipeline.cycle; print('mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_versions_baseline_and_candidate_may_name_registry_aliases_resolved_each_cycle(
    tmp_path: Path, registry: Registry
) -> None:
    """`versions: {baseline: '@champion', candidate: '@challenger'}` compares the versions the aliases name in
    that cycle: after the aliases swap, the next cycle compares the other way round."""
    v1 = registry.version_with_artifact(MEANS[1], seed=1)
    v2 = registry.version_with_artifact(MEANS[1], seed=2)
    registry.alias("champion", v1)
    registry.alias("challenger", v2)
    versions = "    versions: {baseline: '@champion', candidate: '@challenger', mode: shadow}\n"
    p = Project(tmp_path, registry.name, features=Project.FEATURES + versions)
    p.log("d0-v1", str(v1), MEANS[1], day=0, seed=11)
    p.log("d0-v2", str(v2), MEANS[1], day=0, seed=12)
    first = p.cycle(day=2).versions
    assert first is not None and (first.baseline, first.candidate) == (str(v1), str(v2))
    assert [w.start for w in first.windows] == [DAY1.replace(tzinfo=None)]
    stored = p.rows("SELECT DISTINCT baseline, candidate FROM version_comparisons WHERE monitor = 'fraud'")
    assert stored == [(str(v1), str(v2))]

    registry.alias("champion", v2)
    registry.alias("challenger", v1)
    swapped = p.cycle(day=2).versions
    assert swapped is not None and (swapped.baseline, swapped.candidate) == (str(v2), str(v1))
    assert [w.start for w in swapped.windows] == [DAY1.replace(tzinfo=None)]


def test_versions_refuse_an_alias_without_a_registry_reference(tmp_path: Path) -> None:
    (tmp_path / "driftwatch.yml").write_text(
        "storage: dw.duckdb\nmonitors:\n  m:\n    predictions: {path: logs/*.parquet}\n"
        "    reference: train.parquet\n    versions: {baseline: '@champion', candidate: v2}\n"
    )
    with pytest.raises(
        ConfigError, match=r"versions\.baseline.*registry alias needs the monitor's reference"
    ):
        load_settings(tmp_path / "driftwatch.yml")


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_a_removed_version_alias_is_a_run_warning_and_retention_still_runs(
    tmp_path: Path, registry: Registry
) -> None:
    """`@challenger` removed after a promotion: the comparison step cannot resolve it. The cycle records a
    warning and goes on (retention deletes expired rows) instead of failing every cycle from then on."""
    v1 = registry.version_with_artifact(MEANS[1], seed=1)
    v2 = registry.version_with_artifact(MEANS[1], seed=2)
    registry.alias("champion", v1)
    registry.alias("challenger", v2)
    extra = "    versions: {baseline: '@champion', candidate: '@challenger', mode: shadow}\n"
    extra += "    retention: {predictions: 1w}\n"  # the shortest the default alerting.backfill allows
    p = Project(tmp_path, registry.name, features=Project.FEATURES + extra)
    p.log("d0-v1", str(v1), MEANS[1], day=0, seed=11)
    p.log("d0-v2", str(v2), MEANS[1], day=0, seed=12)
    first = p.cycle(day=2)
    assert first.versions is not None and len(first.versions.windows) == 1

    registry.client.delete_registered_model_alias(registry.name, "challenger")
    p.log("d3-v1", str(v1), MEANS[1], day=3, seed=13)
    later = p.cycle(day=9)  # did not raise
    assert later.versions is None
    assert any("version comparison skipped" in w and "challenger" in w for w in later.warnings), (
        later.warnings
    )
    assert later.retention.predictions_expired > 0  # the step after the comparison ran
    status, error = p.rows("SELECT status, error FROM runs ORDER BY started_at DESC LIMIT 1")[0]
    assert status == "ok" and "version comparison skipped" in error
    assert p.rows("SELECT count(*) FROM version_comparisons")[0][0] == 1  # the earlier comparison is kept


@pytest.mark.slow  # the session's mlflow server takes 30-90 s to start
def test_the_pushed_layout_follows_the_alias_when_it_moves(
    tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pushed-features layout of an mlflow:// reference is kept per registry version the alias names (asked
    again every REGISTRY_RECHECK_S), not per os.stat of the URL, which never changes."""
    from driftwatch.api import push as push_module
    from driftwatch.pipeline.registry import CACHE_FOLDER

    v1 = registry.version_with_artifact(MEANS[1], seed=1)
    v2 = registry.version_with_artifact(MEANS[2], seed=2)
    registry.alias("champion", v1)
    p = Project(tmp_path, registry.name, features="")  # features inferred from the version's training data
    runner = CycleRunner(p.settings, p.db)

    def push(batch: str) -> None:
        records = [
            {
                "request_id": f"{batch}-{i}",
                "timestamp": (DAY1 + timedelta(minutes=i)).isoformat(),
                "model_version": str(v1),
                "x": float(i),
                "region": "north",
            }
            for i in range(20)
        ]
        assert push_predictions(p.db, runner, p.monitor, records).inserted == 20

    def downloaded() -> int:
        return sum(1 for f in (tmp_path / CACHE_FOLDER).rglob("*") if f.is_file())

    push("a")
    first = downloaded()
    assert first >= 1  # v1's training data, read for the features
    registry.alias("champion", v2)
    push("b")  # within the recheck interval: the layout is reused, the registry not asked
    assert downloaded() == first
    monkeypatch.setattr(push_module, "REGISTRY_RECHECK_S", 0.0, raising=False)
    push("c")  # the alias names v2 now: its training data are read for the layout
    assert downloaded() > first
