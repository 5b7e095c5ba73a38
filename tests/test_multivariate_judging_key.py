"""What `multivariate_results.profile_key` holds (documented in storage/multivariate_schema.py, since the applied
migration cannot be edited): the judging key, the fitted profile's key plus the verdict settings, never the key
of a `multivariate_profiles` row; a change of a verdict setting re-judges without refitting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from _multivariate_data import write_project
from driftwatch.config.loading import load_settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.multivariate import judging_key
from driftwatch.storage.database import Database

NOW = datetime(2026, 1, 10, tzinfo=UTC)


def test_results_hold_the_judging_key_not_the_profile_key(tmp_path: Path) -> None:
    settings = load_settings(
        write_project(tmp_path, days=2, rows_per_day=400, flipped_days=set(), multivariate="true")
    )
    monitor = settings.monitor("mv")
    with Database(settings.storage, settings.database) as db:
        run_cycle(db, monitor, now=NOW)
        cur = db.cursor()
        [(fitted,)] = cur.execute("SELECT profile_key FROM multivariate_profiles").fetchall()
        stored = {
            k for (k,) in cur.execute("SELECT DISTINCT profile_key FROM multivariate_results").fetchall()
        }
        mv = monitor.multivariate
        min_rows = mv.min_rows if mv.min_rows is not None else monitor.min_rows
        assert stored == {judging_key(fitted, mv, min_rows)}
        assert fitted not in stored

        # A verdict setting changes the judging key only: every window is judged again, the profile is reused.
        wider = replace(monitor, multivariate=replace(mv, margin=mv.margin + 0.01))
        again = run_cycle(db, wider, now=NOW)
        assert again.multivariate is not None and again.multivariate.windows == 2
        assert not again.multivariate.profile_rebuilt
        assert cur.execute("SELECT count(*) FROM multivariate_profiles").fetchone() == (1,)
        [(new_key,)] = cur.execute("SELECT DISTINCT profile_key FROM multivariate_results").fetchall()
        assert new_key == judging_key(fitted, wider.multivariate, min_rows) != next(iter(stored))
