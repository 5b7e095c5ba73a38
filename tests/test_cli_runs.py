"""`driftwatch runs`: the recorded cycles, newest first, read from a real DuckDB file after real cycles (an ok
one with an alert, one degraded by an unreadable file, one failed, another monitor's), through the CLI as
registered in driftwatch/cli/__init__.py."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from _service import TestClient
from driftwatch.api.app import create_app
from driftwatch.cli import app
from driftwatch.cli.runs import JSON_FIELDS, duration
from driftwatch.config.loading import load_settings
from driftwatch.config.server import ServerSettings
from driftwatch.errors import SourceError
from driftwatch.pipeline.alerts import alerting_settings, prepare_alerting
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.runs import start_run
from test_silences_cli import held  # a process holding the database, as `serve` does

NOW = datetime(2026, 3, 3, tzinfo=UTC)

CONFIG = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions: {path: logs/*, features: [age, region], prediction: score}
    reference: {path: train.parquet}
    features: {numeric: [age], categorical: [region]}
    min_rows: 1
  other:
    predictions: {path: other/*, features: [age, region], prediction: score}
    reference: {path: train.parquet}
    features: {numeric: [age], categorical: [region]}
    min_rows: 1
  broken:
    predictions: {path: other/*, features: [age, region], prediction: score}
    reference: {path: broken_train.parquet}
  pulled:
    predictions:
      features: [age, region]
      prediction: score
      database: {driver: duckdb, uri: "SERVING_DB", table: prediction_log}
    reference: {path: train.parquet}
    features: {numeric: [age], categorical: [region]}
"""

# One rule that fires on any window with rows: the ok run of `m` has an alert to show.
RULES = """\
channels:
  log: {type: log, path: alerts.log}
route: {channels: [log]}
groups:
  - name: test
    rules:
      - alert: AnyRows
        select: {monitor: m, metric: rows}
        condition: {op: ">", threshold: 0}
        for: 1
"""


# Holds the file as `driftwatch serve` would (DuckDB locks a file per process).
def lines(n: int, hour: int = 10) -> str:
    rows = [
        {"request_id": f"r{hour}-{i}", "timestamp": f"2026-03-02T{hour}:{i:02d}:00Z", "age": 20 + i}
        | {"region": "north", "score": 0.5}
        for i in range(n)
    ]
    return "".join(json.dumps(row) + "\n" for row in rows)


def truncated_parquet(path: Path) -> None:
    pl.DataFrame({"request_id": ["x"], "timestamp": ["2026-03-02T10:00:00Z"]}).write_parquet(path)
    path.write_bytes(path.read_bytes()[:40])


def _config(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for sub in ("logs", "other", "alert_rules"):
        (folder / sub).mkdir()
    pl.DataFrame({"age": [20.0, 40.0], "region": ["north", "south"]}).write_parquet(folder / "train.parquet")
    (folder / "broken_train.parquet").write_bytes(b"not parquet")
    # the serving database `pulled` reads: it has no prediction_log table, so its source fails every cycle
    with duckdb.connect(str(folder / "serving.duckdb")) as con:
        con.execute("CREATE TABLE other_table (x INTEGER)")
    (folder / "driftwatch.yml").write_text(CONFIG.replace("SERVING_DB", str(folder / "serving.duckdb")))
    return folder / "driftwatch.yml"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[str]]]:
    """Five real cycles, oldest first: `m` ok (an alert fires; one malformed line quarantined), `other` ok,
    `m` degraded (an unreadable file), `pulled` degraded (its database source fails), `broken` failed (its
    reference is no Parquet file). The run ids in that order; the database is closed."""
    config = _config(tmp_path_factory.mktemp("runs") / "project")
    folder = config.parent
    (folder / "alert_rules" / "rules.yml").write_text(RULES)
    (folder / "logs" / "a.ndjson").write_text(lines(10) + "not json\n")
    (folder / "other" / "a.ndjson").write_text(lines(4, hour=11))
    settings = load_settings(config)
    alerting = prepare_alerting(alerting_settings(settings))
    assert alerting is not None
    ids = []
    with Database(settings.storage, settings.database) as db:
        ids.append(run_cycle(db, settings.monitor("m"), now=NOW, alerting=alerting).run_id)
        ids.append(run_cycle(db, settings.monitor("other"), now=NOW).run_id)
        truncated_parquet(folder / "logs" / "broken.parquet")
        ids.append(run_cycle(db, settings.monitor("m"), now=NOW, alerting=alerting).run_id)
        ids.append(run_cycle(db, settings.monitor("pulled"), now=NOW).run_id)
        with pytest.raises(SourceError):
            run_cycle(db, settings.monitor("broken"), now=NOW)
        ids.append(db.cursor().execute("SELECT run_id FROM runs WHERE monitor = 'broken'").fetchall()[0][0])
    yield config, ids


def invoke(config: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["runs", "--config", str(config), *args])


def as_json(config: Path, *args: str) -> list[dict[str, Any]]:
    result = invoke(config, "--format", "json", *args)
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def flat(text: str) -> str:
    """Table text with the borders and wrapping gone: a long cell wraps onto several lines."""
    return " ".join(text.replace("│", " ").split())


def test_the_table_lists_the_runs_newest_first_with_their_status(project: tuple[Path, list[str]]) -> None:
    config, ids = project
    result = invoke(config)
    assert result.exit_code == 0, result.output
    text = result.stdout
    positions = [text.index(run_id[:8]) for run_id in ids]
    assert positions == sorted(positions, reverse=True)  # newest first
    rows = {run_id: next(line for line in text.splitlines() if run_id[:8] in line) for run_id in ids}
    statuses = ["ok", "ok", "degraded", "degraded", "failed"]
    monitors = ["m", "other", "m", "pulled", "broken"]
    for run_id, status, monitor in zip(ids, statuses, monitors, strict=True):
        assert f" {status} " in rows[run_id] and f"│ {monitor} " in rows[run_id], rows[run_id]
    assert "1 firing, 1 enqueued" in rows[ids[0]] and "1 firing, 0 enqueued" in rows[ids[2]]
    for header in ("monitor", "run", "started (UTC)", "duration", "status", "ingested", "quarantined"):
        assert header in text
    assert "windows" in text and "alerts" in text and "error / warnings" in text
    assert "runs shown" not in text  # all 5 fit in the default --limit 20


def test_json_has_every_field_with_its_value(project: tuple[Path, list[str]]) -> None:
    config, ids = project
    rows = as_json(config)
    assert [r["run_id"] for r in rows] == ids[::-1]
    assert all(list(r) == list(JSON_FIELDS) for r in rows)  # stable keys, in a stable order
    failed, pulled, degraded, other, first = rows
    assert first["monitor"] == "m" and first["status"] == "ok" and first["trigger"] == "cli"
    assert (first["rows_ingested"], first["rows_quarantined"], first["files_failed"]) == (10, 1, 0)
    assert first["windows_computed"] == 1 and first["error"] is None
    assert (first["alerts_firing"], first["alerts_enqueued"], first["alerts_suppressed"]) == (1, 1, 0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", first["started_at"])
    assert first["finished_at"] >= first["started_at"] and first["seconds"] >= 0
    # no alerting in its cycle: the alert columns are null, not 0
    assert other["status"] == "ok" and other["rows_ingested"] == 4 and other["alerts_firing"] is None
    assert (
        degraded["status"] == "degraded" and degraded["files_failed"] == 1 and degraded["rows_ingested"] == 0
    )
    assert degraded["alerts_firing"] == 1 and degraded["alerts_enqueued"] == 0  # still firing, nothing new
    assert pulled["status"] == "degraded" and pulled["files_failed"] == 1
    assert (
        failed["status"] == "failed" and failed["windows_computed"] == 0 and failed["alerts_firing"] is None
    )
    assert failed["finished_at"] is not None and failed["error"]


def test_the_error_names_the_source_that_failed_and_why(project: tuple[Path, list[str]]) -> None:
    config, ids = project
    broken = str(config.parent / "logs" / "broken.parquet")
    pulled, degraded = as_json(config, "--status", "degraded")
    assert degraded["error"] == (
        f"degraded: 1 unreadable this cycle (predictions {broken}); no predictions were read"
    )
    note, warning = pulled["error"].split("; warning: ")
    assert (
        note
        == "degraded: 1 unreadable this cycle (predictions duckdb:prediction_log); no predictions were read"
    )
    assert warning.startswith("source duckdb:prediction_log failed this cycle: ")
    assert "prediction_log does not exist" in warning and warning.endswith("(retried next cycle)")
    (failed,) = as_json(config, "--status", "failed")
    assert failed["error"].startswith("SourceError: ") and "broken_train.parquet" in failed["error"]

    table = invoke(config, "--monitor", "pulled").stdout
    # the warning starts a line of its own in the cell
    assert re.search(r"^│.*│ warning: source duckdb:prediction_log failed", table, re.M), table
    text = flat(table)
    assert "predictions duckdb:prediction_log); no predictions were read" in text
    assert "Table with name prediction_log does not exist! (retried next cycle)" in text
    failed_text = flat(invoke(config, "-s", "failed").stdout)  # a long path may be folded mid-word
    assert "SourceError:" in failed_text and "cannot read as parquet: not a Parquet file" in failed_text


def test_the_api_serves_the_same_runs(project: tuple[Path, list[str]]) -> None:
    """GET /api/runs reads the same storage query: the same runs, fields and values as `--format json`."""
    config, _ = project
    cli = as_json(config)
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        client = TestClient(create_app(settings, db, ServerSettings(), token="t0k"))
        api = client.get("/api/runs").json()
        assert client.get("/api/monitors/m/runs").json()["items"] == [
            r for r in api["items"] if r["monitor"] == "m"
        ]
    assert api["total"] == len(cli) and [{k: r[k] for k in JSON_FIELDS} for r in api["items"]] == cli


def test_monitor_and_status_filters(project: tuple[Path, list[str]]) -> None:
    config, ids = project
    assert [r["run_id"] for r in as_json(config, "--monitor", "m")] == [ids[2], ids[0]]
    assert [r["run_id"] for r in as_json(config, "-m", "other")] == [ids[1]]
    assert [r["run_id"] for r in as_json(config, "--status", "ok")] == [ids[1], ids[0]]
    several = as_json(config, "--status", "failed", "--status", "degraded")
    assert [r["run_id"] for r in several] == [ids[4], ids[3], ids[2]]
    assert as_json(config, "--status", "failed,degraded") == several
    assert [r["run_id"] for r in as_json(config, "--monitor", "m", "--status", "ok")] == [ids[0]]
    assert as_json(config, "--status", "interrupted") == []
    none = invoke(config, "--monitor", "other", "--status", "failed")
    assert none.exit_code == 0 and "no runs with monitor other and status failed" in none.stdout


def test_limit_keeps_the_newest(project: tuple[Path, list[str]]) -> None:
    config, ids = project
    assert [r["run_id"] for r in as_json(config, "--limit", "2")] == [ids[4], ids[3]]
    table = invoke(config, "-n", "1")
    assert table.exit_code == 0 and ids[4][:8] in table.stdout and ids[3][:8] not in table.stdout
    assert "1 of 5 runs shown, newest first (--limit for more)" in table.stdout
    assert invoke(config, "--limit", "0").exit_code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--monitor", "nope"], "monitors.nope: no such monitor (known: broken, m, other, pulled)"),
        (["--status", "burning"], "--status must be one of running, ok, degraded, failed, interrupted"),
        (["--format", "yaml"], "--format must be table or json"),
    ],
)
def test_bad_input_is_one_error_line_exit_2(
    project: tuple[Path, list[str]], args: list[str], message: str
) -> None:
    config, _ = project
    result = invoke(config, *args)
    assert result.exit_code == 2, result.output
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ") and message in line, line
    if args[0] == "--monitor":
        assert str(config) in line  # the file and key to fix


def test_a_missing_config_exits_2(tmp_path: Path) -> None:
    result = invoke(tmp_path / "nowhere.yml")
    assert result.exit_code == 2 and "nowhere.yml" in result.stderr


def test_an_empty_database_says_there_are_no_runs(tmp_path: Path) -> None:
    config = _config(tmp_path / "empty")
    table = invoke(config)
    assert table.exit_code == 0, table.output
    assert "no runs recorded yet: run `driftwatch run` first" in table.stdout
    assert as_json(config) == []


def test_a_run_left_running_is_shown_as_cut_short(tmp_path: Path) -> None:
    config = _config(tmp_path / "stuck")
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db, db.transaction() as tx:
        start_run(tx, "f" * 32, "m", "schedule", utcnow())
    (row,) = as_json(config)
    assert (row["status"], row["finished_at"], row["seconds"]) == ("running", None, None)
    text = flat(invoke(config).stdout)
    assert "ffffffff" in text and "1 run(s) still `running`: their process stopped" in text


def test_while_the_server_holds_the_file_it_names_the_endpoint(tmp_path: Path) -> None:
    config = _config(tmp_path / "held")
    settings = load_settings(config)
    Database(settings.storage, settings.database).close()
    with held(config):
        every = invoke(config)
        one = invoke(config, "--monitor", "other")
    for result, endpoint in ((every, "GET /api/runs"), (one, "GET /api/monitors/other/runs")):
        assert result.exit_code == 2, result.output
        text = " ".join(result.stderr.split())
        assert "is in use by another process (is `driftwatch serve` running?)" in text
        assert text.endswith(f"Read them from the server instead: {endpoint}")


def test_duration_cells() -> None:
    assert [duration(s) for s in (None, 0.04, 59.94, 65, 3599.6, 3725)] == [
        "-",
        "0.0s",
        "59.9s",
        "1m 05s",
        "1h 00m",
        "1h 02m",
    ]
