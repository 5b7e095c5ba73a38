"""A cycle that could not read one of its sources records `degraded` (not `ok`), names what it missed, and says
so everywhere a run's outcome is read: `runs`, the CLI summary and exit code, the API's run result, /metrics.
A degraded cycle still ran every step, so the quality stage's catch-up does not count its rows again."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from _configs import MONITOR_TAIL
from _service import TestClient
from driftwatch.api.app import create_app
from driftwatch.api.metrics import metrics_registry, render
from driftwatch.config.loading import load_settings
from driftwatch.config.server import ServerSettings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.quality import unjudged_runs
from driftwatch.storage.runs import start_run

NOW = datetime(2026, 3, 3, tzinfo=UTC)

CONFIG = (
    """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*
      features: [age, income, region]
      prediction: score
"""
    + MONITOR_TAIL
)


def good_lines(n: int) -> str:
    return "".join(
        json.dumps(
            {
                "request_id": f"r{i}",
                "timestamp": f"2026-03-02T10:{i:02d}:00Z",
                "age": 20 + i,
                "income": 1000.5 * i,
                "region": "north",
                "score": 0.5,
            }
        )
        + "\n"
        for i in range(n)
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    pl.DataFrame({"age": [20.0, 40.0], "income": [1.0, 2.0], "region": ["north", "south"]}).write_parquet(
        tmp_path / "train.parquet"
    )
    (tmp_path / "driftwatch.yml").write_text(CONFIG)
    return tmp_path


def truncated_parquet(path: Path) -> None:
    pl.DataFrame({"request_id": ["x"], "timestamp": ["2026-03-02T10:00:00Z"]}).write_parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def runs(db: Database) -> list[tuple[str, int, str | None]]:
    return db.cursor().execute("SELECT status, files_failed, error FROM runs ORDER BY started_at").fetchall()


def test_an_unreadable_file_makes_the_run_degraded_and_names_it(project: Path) -> None:
    (project / "logs" / "good.ndjson").write_text(good_lines(10))
    truncated_parquet(project / "logs" / "broken.parquet")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = run_cycle(db, settings.monitor("m"), now=NOW)
        assert summary.ingest.rows_inserted == 10  # what could be read was stored and judged
        assert summary.windows_computed == 1
        assert summary.status == "degraded"
        broken = str(project / "logs" / "broken.parquet")
        assert summary.status_note == f"degraded: 1 unreadable this cycle (predictions {broken})"
        [(status, failed, error)] = runs(db)
        assert (status, failed) == ("degraded", 1)
        assert error == summary.status_note
        metrics = render(metrics_registry(settings, db, None, 10)).decode()
        assert 'driftwatch_cycles_total{monitor="m",status="degraded"} 1.0' in metrics
        assert 'driftwatch_last_cycle_duration_seconds{monitor="m",status="degraded"}' in metrics
        assert 'driftwatch_last_cycle_files_failed{monitor="m"} 1.0' in metrics
        # it ran to its end: it is a successful cycle for "cycles stalled" (the source has its own alert)
        assert 'driftwatch_last_successful_cycle_timestamp_seconds{monitor="m"}' in metrics

        # The broken file is read again next cycle (nothing lost); once it is gone the run is ok again.
        again = run_cycle(db, settings.monitor("m"), now=NOW)
        assert again.status == "degraded"
        (project / "logs" / "broken.parquet").unlink()
        fixed = run_cycle(db, settings.monitor("m"), now=NOW)
        assert fixed.status == "ok" and fixed.status_note is None
        assert [r[0] for r in runs(db)] == ["degraded", "degraded", "ok"]


def test_a_run_that_read_no_predictions_says_so(project: Path) -> None:
    truncated_parquet(project / "logs" / "broken.parquet")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = run_cycle(db, settings.monitor("m"), now=NOW)
        assert summary.status == "degraded"
        assert summary.status_note is not None and summary.status_note.endswith("; no predictions were read")


def test_many_unreadable_files_are_listed_briefly(project: Path) -> None:
    for i in range(7):
        truncated_parquet(project / "logs" / f"b{i}.parquet")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        summary = run_cycle(db, settings.monitor("m"), now=NOW)
    assert summary.status_note is not None
    assert summary.status_note.startswith("degraded: 7 unreadable this cycle (predictions ")
    assert " and 2 more)" in summary.status_note


def test_a_degraded_run_is_not_judged_again_by_the_next_cycle(project: Path) -> None:
    """The quality stage's catch-up counts the rows of runs that stopped before it; a degraded run did not."""
    (project / "logs" / "good.ndjson").write_text(good_lines(10))
    truncated_parquet(project / "logs" / "broken.parquet")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        run_cycle(db, settings.monitor("m"), now=NOW)
        assert [r[0] for r in runs(db)] == ["degraded"]
        with db.transaction() as tx:
            start_run(tx, "next", "m", "cli", utcnow())
        caught_up = unjudged_runs(db.cursor(), "m", "next")
        assert (caught_up.since, caught_up.rows_read) == (None, 0)


def test_driftwatch_run_prints_degraded_and_exits_3(project: Path) -> None:
    (project / "logs" / "good.ndjson").write_text(good_lines(10))
    truncated_parquet(project / "logs" / "broken.parquet")
    cmd = [sys.executable, "-m", "driftwatch.cli", "run", "--config", str(project / "driftwatch.yml")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stderr
    assert "degraded: 1 unreadable this cycle (predictions " in done.stdout
    assert "unreadable file" in done.stdout
    (project / "logs" / "broken.parquet").unlink()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "degraded" not in done.stdout
    # The process ends with os._exit once the command returns (`cli.process.ended_quickly`): what it wrote is
    # all there, the database closed cleanly and both runs recorded.
    with Database(project / "dw.duckdb") as db:
        assert [r[0] for r in runs(db)] == ["degraded", "ok"]
        stored = db.cursor().execute('SELECT count(*) FROM "predictions:m"').fetchone()
    assert stored == (10,)


def test_the_api_run_and_runs_say_degraded(project: Path) -> None:
    (project / "logs" / "good.ndjson").write_text(good_lines(10))
    truncated_parquet(project / "logs" / "broken.parquet")
    settings = load_settings(project / "driftwatch.yml")
    with Database(settings.storage) as db:
        client = TestClient(
            create_app(settings, db, ServerSettings(), token="t0k"), raise_server_exceptions=False
        )
        auth = {"Authorization": "Bearer t0k"}
        ran = client.post("/api/monitors/m/runs", headers=auth)
        assert ran.status_code == 200, ran.text
        body = ran.json()
        assert body["status"] == "degraded"
        assert body["error"].startswith("degraded: 1 unreadable this cycle (predictions ")
        runs = client.get("/api/runs", params={"status": "degraded"}, headers=auth).json()
        assert runs["total"] == 1 and runs["items"][0]["files_failed"] == 1
        health = client.get("/health").json()
        assert [m["last_run_status"] for m in health["monitors"]] == ["degraded"]
