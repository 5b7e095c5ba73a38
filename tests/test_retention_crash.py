"""kill -9 of `driftwatch run` during plain deletion (retention on, snapshots off; issue 19, item 4).

A real `driftwatch run` in a child process on a real DuckDB file, killed with SIGKILL at several moments after
its deletion step has started (the child prints a line when the first deletion batch begins; nothing else in
the CLI is changed). After each kill: no row that is kept has gone, only expired rows are missing. Then a
plain `driftwatch run` is run to the end: every expired row is gone, every kept row is there, the counts are
exact (the killed run's `rows_expired` is what it deleted before the kill, the re-run's what it left), the
killed run is marked `interrupted`, and the results computed from the deleted rows are unchanged.

The demo data ends at today's midnight (the CLI uses the real clock), so the cutoff is computed the same way.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from _demo import SMALL_DEMO
from driftwatch.config.loading import load_settings
from driftwatch.demo import write_demo_project
from driftwatch.pipeline.retention import prediction_cutoff
from driftwatch.storage.database import Database

pytestmark = pytest.mark.slow  # a dozen CLI processes: about a minute

RETENTION = {"predictions": "16d", "label_horizon": "14d", "batch_rows": 20}
# The real CLI, with one line printed when the deletion step starts its first batch.
CHILD = textwrap.dedent(
    """
    import sys
    import driftwatch.pipeline.retention as retention

    real = retention.delete_expired_predictions
    started = []

    def announced(*args, **kwargs):
        if not started:
            started.append(True)
            print("deleting", flush=True)
        return real(*args, **kwargs)

    retention.delete_expired_predictions = announced
    from driftwatch.cli import main

    sys.argv = ["driftwatch", "run", "--config", sys.argv[1]]
    main()
    """
)
RESULTS = (
    "SELECT model_version, segment, window_start, feature, statistic, value FROM feature_stats "
    "WHERE window_start < ? ORDER BY ALL"
)
PERFORMANCE = "SELECT * FROM performance_results WHERE window_start < ? ORDER BY ALL"


def _ids(db: Database, where: str, cutoff: datetime) -> set[str]:
    rows = db.cursor().execute(f'SELECT request_id FROM "predictions:credit-default" WHERE {where}', [cutoff])
    return {str(r[0]) for r in rows.fetchall()}


def _cli(config: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _project(root: Path) -> Path:
    """The small demo ending at today's midnight, without alerting (its 60d backfill would refuse a 16d
    retention); returns the config path."""
    config = write_demo_project(root, dataclasses.replace(SMALL_DEMO, end=None))
    data = yaml.safe_load(config.read_text())
    data.pop("alerting", None)
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def _with_retention(config: Path) -> None:
    data = yaml.safe_load(config.read_text())
    data["monitors"]["credit-default"]["retention"] = RETENTION
    config.write_text(yaml.safe_dump(data, sort_keys=False))


def _kill_during_deletion(script: Path, config: Path, delay: float) -> int:
    """Start the announced `driftwatch run`, SIGKILL it `delay` s after deletion began; its return code."""
    with subprocess.Popen(
        [sys.executable, str(script), str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "deleting":
                break
        else:
            raise AssertionError("the child finished without starting a deletion")
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        return child.returncode


def test_kill_9_during_deletion_keeps_every_kept_row_and_the_rerun_finishes_exactly(tmp_path: Path) -> None:
    config = _project(tmp_path / "demo")
    first = _cli(config)
    assert first.returncode == 0, first.stderr
    settings = load_settings(config)
    storage = settings.storage
    _with_retention(config)
    monitor = load_settings(config).monitor("credit-default")
    cutoff = prediction_cutoff(monitor, datetime.now(UTC))
    assert cutoff is not None
    with Database(storage) as db:
        kept = _ids(db, "ts >= ?", cutoff)
        old = _ids(db, "ts < ?", cutoff)
        results = db.cursor().execute(RESULTS, [cutoff]).fetchall()
        performance = db.cursor().execute(PERFORMANCE, [cutoff]).fetchall()
    assert len(old) == 12_000 and len(kept) == 24_000 and results and performance
    pristine = tmp_path / "pristine.duckdb"
    shutil.copyfile(storage, pristine)  # closed by the CLI: checkpointed, no WAL
    assert not Path(f"{storage}.wal").exists()
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    left_after_kill: list[int] = []
    for delay in (0.0, 0.1, 0.4, 1.0):
        shutil.copyfile(pristine, storage)
        code = _kill_during_deletion(script, config, delay)
        with Database(storage) as db:
            assert _ids(db, "ts >= ?", cutoff) == kept, f"a kept row is gone (kill {delay}s into deletion)"
            left = _ids(db, "ts < ?", cutoff)
            assert left <= old
            killed = (
                db.cursor().execute("SELECT status FROM runs ORDER BY started_at DESC LIMIT 1").fetchall()
            )
        # A kill can land after the run committed its end (deletion done, process exiting): then it is `ok`
        # with every expired row gone; otherwise it was cut short and is still `running`.
        cut_short = code == -signal.SIGKILL and killed != [("ok",)]
        if cut_short:
            assert killed == [("running",)]
        else:
            assert left == set(), "a run that finished left expired rows"
        left_after_kill.append(len(left))

        rerun = _cli(config)
        assert rerun.returncode == 0, rerun.stderr
        with Database(storage) as db:
            cur = db.cursor()
            assert _ids(db, "ts < ?", cutoff) == set()
            assert _ids(db, "ts >= ?", cutoff) == kept
            total = cur.execute('SELECT count(*) FROM "predictions:credit-default"').fetchall()
            assert total == [(len(kept),)]
            runs = cur.execute("SELECT status, rows_expired FROM runs ORDER BY started_at").fetchall()
            watermark = cur.execute("SELECT expired_before FROM retention_state").fetchall()
            assert cur.execute(RESULTS, [cutoff]).fetchall() == results
            assert cur.execute(PERFORMANCE, [cutoff]).fetchall() == performance
        # The first (full) run, the killed one, the re-run that finished the deletion. Exact counts: each run's
        # rows_expired is what it deleted (the killed one's too: counted batch by batch), 12,000 in all.
        killed_status = "interrupted" if cut_short else "ok"
        assert runs == [("ok", 0), (killed_status, len(old) - len(left)), ("ok", len(left))], (delay, runs)
        assert watermark == [(cutoff,)]

    print("expired rows left after each kill:", left_after_kill)
    partial = [n for n in left_after_kill if 0 < n < len(old)]
    assert len(partial) >= 2, left_after_kill  # the kills really landed in the middle of the deletion
