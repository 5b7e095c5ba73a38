"""kill -9 during snapshot + delete (issue 19, item 4, first part): no row is deleted without being in a
completed snapshot, and the next pass finishes the job. A real subprocess, killed with SIGKILL at several
moments after it has opened the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from _demo import DEMO_END
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.snapshots import MANIFEST, manifest_files
from driftwatch.storage.database import Database

CUTOFF = datetime(2026, 10, 16)
CHILD = textwrap.dedent(
    """
    import dataclasses, sys
    from datetime import timedelta
    from _demo import DEMO_END
    from driftwatch.config.loading import load_settings
    from driftwatch.config.retention import RetentionSettings
    from driftwatch.pipeline.retention import expire_rows
    from driftwatch.storage.database import Database

    settings = load_settings(sys.argv[1])
    retention = RetentionSettings(
        predictions=timedelta(days=16), label_horizon=timedelta(days=14), batch_rows=int(sys.argv[3]),
        snapshot=sys.argv[2],
    )
    mon = dataclasses.replace(settings.monitor("credit-default"), retention=retention)
    with Database(settings.storage) as db:
        print("ready", flush=True)
        expire_rows(db, mon, DEMO_END)
    print("done", flush=True)
    """
)


def _ids(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> set[str]:
    return {str(r[0]) for r in con.execute(sql, params).fetchall()}


def _snapshotted_ids(folder: Path) -> set[str]:
    """Request ids in the COMPLETED snapshots (those with a manifest)."""
    files = [f for d in folder.iterdir() if (fs := manifest_files(d)) for f in fs] if folder.exists() else []
    if not files:
        return set()
    with duckdb.connect() as con:
        return _ids(con, "SELECT request_id FROM read_parquet(?, hive_partitioning = false)", [files])


def _check(storage: Path, folder: Path, old: set[str]) -> set[str]:
    """The invariant after a kill: every old row gone from the table is in a completed snapshot."""
    with Database(storage) as db:
        cur = db.cursor()
        present = _ids(cur, 'SELECT request_id FROM "predictions:credit-default" WHERE ts < ?', [CUTOFF])
        done = cur.execute("SELECT path FROM snapshots WHERE status IN ('complete', 'applied')").fetchall()
    for (path,) in done:
        assert (Path(path) / MANIFEST).is_file(), f"a snapshot recorded complete has no manifest: {path}"
    gone = old - present
    assert gone <= _snapshotted_ids(folder), f"{len(gone - _snapshotted_ids(folder))} row(s) deleted unsaved"
    return present


def _state(storage: Path, folder: Path) -> tuple[int, int, tuple[str, ...]]:
    with Database(storage) as db:
        cur = db.cursor()
        left = cur.execute(
            'SELECT count(*) FROM "predictions:credit-default" WHERE ts < ?', [CUTOFF]
        ).fetchall()
        statuses = tuple(
            str(r[0]) for r in cur.execute("SELECT status FROM snapshots ORDER BY created_at").fetchall()
        )
    return int(left[0][0]), len(list(folder.iterdir())) if folder.exists() else 0, statuses


@pytest.mark.slow
def test_kill_9_during_snapshot_and_delete_loses_no_row(demo_settings: Settings, tmp_path: Path) -> None:
    with Database(demo_settings.storage) as db:
        run_cycle(db, demo_settings.monitor("credit-default"), now=DEMO_END)
        old = _ids(db.cursor(), 'SELECT request_id FROM "predictions:credit-default" WHERE ts < ?', [CUTOFF])
    assert len(old) == 12_000
    snap = tmp_path / "snap"
    folder = snap / "credit-default"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
    }
    kills = 0
    states: list[tuple[int, int, tuple[str, ...]]] = []
    for delay in (0.0, 0.05, 0.15, 0.3, 0.6, 1.0, 1.5):
        with subprocess.Popen(
            [sys.executable, str(script), str(demo_settings.config_path), str(snap), "300"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        ) as child:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            time.sleep(delay)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
        kills += child.returncode == -signal.SIGKILL
        states.append(_state(demo_settings.storage, folder))
        _check(demo_settings.storage, folder, old)
    assert kills >= 3, states  # most passes were really cut short
    print("after each kill (old rows left, snapshot folders, record statuses):", states)
    # A last pass, not killed, finishes: every old row is gone and every one of them is in a snapshot.
    done = subprocess.run(
        [sys.executable, str(script), str(demo_settings.config_path), str(snap), "300"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0 and "done" in done.stdout, done.stderr
    assert _check(demo_settings.storage, folder, old) == set()
    assert old <= _snapshotted_ids(folder)
    # No half-written snapshot is left visible: every folder has its manifest, no temporary folder remains.
    assert all((d / MANIFEST).is_file() for d in folder.iterdir()), sorted(p.name for p in folder.iterdir())
