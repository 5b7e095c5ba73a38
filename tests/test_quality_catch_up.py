"""A cycle that stops after storing its windows but before the data-quality stage loses nothing: the next cycle
judges the windows it left unjudged (re-reading their rows) and the stopped run's ingest (its rows read and
duplicated, its quarantined rows), as the multivariate stage catches up (storage.multivariate.windows_to_judge).
Real cycles on a real DuckDB file; the stop is the quality stage raising once."""

from __future__ import annotations

from datetime import UTC, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import driftwatch.pipeline.cycle as cycle
from driftwatch.config.loading import load_settings
from driftwatch.storage.database import Database
from driftwatch.storage.quality import quality_results
from test_streamed_windows import CONFIG, START, _frame


def _files(root: Path) -> None:
    rng = np.random.default_rng(7)
    pl.DataFrame(_frame(rng, 2500, 0.0)).write_parquet(root / "ref.parquet")
    (root / "preds").mkdir()
    for day, rows in enumerate((3000, 400)):
        frame = _frame(rng, rows, 0.2 * (day + 1))
        served = [START + timedelta(days=day, seconds=int(s)) for s in np.sort(rng.integers(1, 86000, rows))]
        ids = [f"d{day}-{i}" for i in range(rows)]
        if day == 1:
            ids[-1] = "d0-0"  # a request id stored already: one duplicate for the cycle-scope check
        pl.DataFrame({"request_id": ids, "timestamp": served, **frame}).write_parquet(
            root / "preds" / f"{day}.parquet"
        )
    (root / "driftwatch.yml").write_text(CONFIG)


def test_a_cycle_stopped_before_the_quality_stage_is_judged_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _files(tmp_path)
    settings = load_settings(tmp_path / "driftwatch.yml")
    monitor = settings.monitor("m")
    now = (START + timedelta(days=3)).replace(tzinfo=UTC)

    def stop(*args: object, **kwargs: object) -> None:
        raise RuntimeError("stopped between the window stage and the quality stage")

    with Database(settings.storage, settings.database) as db:
        with monkeypatch.context() as patched:
            patched.setattr(cycle, "check_quality", stop)
            with pytest.raises(RuntimeError, match="stopped between"):
                cycle.run_cycle(db, monitor, now=now)
        assert quality_results(db.cursor(), "m", None, None, None, None, 1000) == []
        second = cycle.run_cycle(db, monitor, now=now + timedelta(hours=1))
        assert second.ingest.rows_read == 0  # nothing new: only the catch-up can judge anything
        windows = quality_results(db.cursor(), "m", "window", None, None, None, 1000)
        starts = {r.window_start for r in windows}
        assert starts == {START.replace(tzinfo=UTC), (START + timedelta(days=1)).replace(tzinfo=UTC)}
        assert {r.run_id for r in windows} == {second.run_id}
        assert {(r.check, r.feature) for r in windows} >= {
            ("range", "x1"),
            ("constant", "n"),
            ("row_count", None),
        }
        ingest = {r.check: r for r in quality_results(db.cursor(), "m", "cycle", None, None, None, 1000)}
        assert "1 of 3,400 rows read" in ingest["duplicates"].reason
        assert ingest["duplicates"].value == pytest.approx(1 / 3400)
        # Judged once: a third cycle neither re-reads the windows nor counts the stopped run again.
        third = cycle.run_cycle(db, monitor, now=now + timedelta(hours=2))
        assert third.quality is not None and third.quality.windows == {} and third.quality.cycle == []
        again = quality_results(db.cursor(), "m", "window", None, None, None, 1000)
        assert {r.run_id for r in again} == {second.run_id}
