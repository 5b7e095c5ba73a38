"""A cycle reads a current stored reference profile on another thread while it ingests
(`pipeline.reference.ensure_reference_ahead`): the same windows and results as reading it first, and a
profile that cannot be read fails the run as before, after the rows are stored, which the next run then uses."""

from __future__ import annotations

import shutil
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import pytest

from _demo import DEMO_END, SMALL_DEMO, demo_project
from driftwatch.config.loading import load_settings
from driftwatch.pipeline import cycle, reference
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database
from driftwatch.storage.results import feature_results

MONITOR = "credit-default"


def cycled_twice(
    root: Path, monkeypatch: pytest.MonkeyPatch, ahead: bool
) -> tuple[Any, list[dict[str, Any]]]:
    """A demo project with its first half cycled (the profile stored), then the rest cycled in a fresh process
    state (no profile held in memory): the second cycle's summary and every stored result."""
    config = demo_project(root, SMALL_DEMO)
    settings = load_settings(config)
    logs = sorted((root / "data" / "predictions").iterdir())
    held = root / "later"
    held.mkdir()
    for f in logs[len(logs) // 2 :]:
        shutil.move(f, held / f.name)
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, settings.monitor(MONITOR), now=DEMO_END)
    for f in held.iterdir():
        shutil.move(f, root / "data" / "predictions" / f.name)
    reference._CACHE.clear()  # as in a new process: the profile is read from the database
    if not ahead:
        monkeypatch.setattr(
            cycle, "ensure_reference_ahead", partial(reference.ensure_reference_ahead, ahead=False)
        )
    with Database(settings.storage, settings.database) as db:
        summary = run_cycle(db, settings.monitor(MONITOR), now=DEMO_END)
        results = feature_results(db.cursor(), monitor=MONITOR)
    monkeypatch.undo()
    return summary, results


def test_the_profile_is_read_while_the_rows_are_ingested_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real_load, real_ingest = reference.load_profile, cycle.ingest_predictions

    def load_spy(*args: Any) -> Any:
        events.append(("load begins", threading.current_thread().name))
        time.sleep(0.3)  # a large reference: the ingest goes on meanwhile
        profile = real_load(*args)
        events.append(("load ends", threading.current_thread().name))
        return profile

    def ingest_spy(*args: Any, **kwargs: Any) -> Any:
        events.append(("ingest begins", threading.current_thread().name))
        out = real_ingest(*args, **kwargs)
        events.append(("ingest ends", threading.current_thread().name))
        return out

    with monkeypatch.context() as m:
        m.setattr(reference, "load_profile", load_spy)
        m.setattr(cycle, "ingest_predictions", ingest_spy)
        ahead, ahead_results = cycled_twice(tmp_path / "ahead", monkeypatch, ahead=True)
    second = events[events.index(("ingest ends", "MainThread")) + 1 :]  # the first cycle built the profile
    names = [e[0] for e in second]
    # Begun (on its own thread) before the ingest ended: the two ran at once.
    assert names.index("ingest begins") < names.index("ingest ends"), second
    assert names.index("load begins") < names.index("ingest ends"), second
    assert names.index("ingest begins") < names.index("load ends"), second  # not read to its end first
    assert next(t for e, t in second if e == "load begins").startswith("driftwatch-reference")

    first, first_results = cycled_twice(tmp_path / "first", monkeypatch, ahead=False)
    assert ahead.status == first.status == "ok"
    assert (ahead.windows_computed, ahead.ingest.rows_inserted) == (
        first.windows_computed,
        first.ingest.rows_inserted,
    )
    assert ahead.windows_computed > 0
    drop = ("computed_at", "run_id")
    assert [{k: v for k, v in r.items() if k not in drop} for r in ahead_results] == [
        {k: v for k, v in r.items() if k not in drop} for r in first_results
    ]


def test_a_profile_that_cannot_be_read_fails_the_run_and_keeps_the_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = demo_project(tmp_path, SMALL_DEMO)
    settings = load_settings(config)
    last = sorted((tmp_path / "data" / "predictions").iterdir())[-1]
    held = tmp_path / last.name
    shutil.move(last, held)
    table = f'"predictions:{MONITOR}"'
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, settings.monitor(MONITOR), now=DEMO_END)  # the profile is built and stored
        before = db.cursor().execute(f"SELECT count(*) FROM {table}").fetchone()
        shutil.move(held, last)
        reference._CACHE.clear()

        def broken(*args: Any) -> Any:
            raise duckdb.IOException("IO Error: the profile could not be read")

        monkeypatch.setattr(reference, "load_profile", broken)
        with pytest.raises(duckdb.IOException, match="the profile could not be read"):
            run_cycle(db, settings.monitor(MONITOR), now=DEMO_END)
        cur = db.cursor()
        error = cur.execute("SELECT status, error FROM runs ORDER BY started_at DESC LIMIT 1").fetchone()
        assert error is not None and error[0] == "failed" and "the profile could not be read" in error[1]
        after = cur.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert before is not None and after is not None and after[0] > before[0]  # stored before the failure
        queued = cur.execute("SELECT count(*) FROM window_queue").fetchone()
        assert queued is not None and queued[0] >= 1  # the new rows' window waits for the next run
        monkeypatch.undo()
        again = run_cycle(db, settings.monitor(MONITOR), now=DEMO_END)
        assert again.status == "ok" and again.windows_computed >= 1 and again.ingest.files_read == 0


def test_an_ingest_that_fails_leaves_no_read_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller may close the database as soon as the cycle returns: the profile's read has ended by then."""
    config = demo_project(tmp_path, SMALL_DEMO)
    settings = load_settings(config)
    real_load = reference.load_profile
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, settings.monitor(MONITOR), now=DEMO_END)  # the profile is built and stored
        reference._CACHE.clear()

        def slow_load(*args: Any) -> Any:
            time.sleep(0.5)  # still reading when the ingest fails
            return real_load(*args)

        def failing_ingest(*args: Any, **kwargs: Any) -> Any:
            raise ValueError("the ingest broke")

        monkeypatch.setattr(reference, "load_profile", slow_load)
        monkeypatch.setattr(cycle, "ingest_predictions", failing_ingest)
        with pytest.raises(ValueError, match="the ingest broke"):
            run_cycle(db, settings.monitor(MONITOR), now=DEMO_END)
        assert not [t for t in threading.enumerate() if t.name.startswith("driftwatch-reference")]
    # closed without "connection is busy": nothing was reading
