"""A version pair that first appears after retention deleted old rows (a newly added `versions:`, an alias move)
is compared over the windows whose rows are still stored, never over expired ones (0 rows) — review finding:
`windows_to_compare` had no retention watermark filter."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from _versions_sim import START, write_project
from driftwatch.config.loading import load_settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.storage.database import Database
from driftwatch.storage.retention import expired_before
from driftwatch.storage.versions import comparisons


def test_a_new_pair_is_not_compared_over_expired_windows(tmp_path: Path) -> None:
    config = write_project(tmp_path, days=5, rows=400, mode="shadow", effect=False, seed=1)
    full = "alerting: {backfill: 1d}\n" + config.read_text()
    retention = "    retention: {predictions: 2d, label_horizon: 1d}\n"
    config.write_text(full.split("    versions:")[0] + retention)  # first without `versions:`
    now = START + timedelta(days=5, hours=1)
    settings = load_settings(config)
    db = Database(settings.storage)
    first = run_cycle(db, settings.monitor("m"), now=now)
    assert first.retention is not None and first.retention.predictions_expired > 0
    watermark = expired_before(db.cursor(), "m")
    assert watermark is not None

    config.write_text(full.replace("    versions:", retention + "    versions:"))
    settings = load_settings(config)
    run_cycle(db, settings.monitor("m"), now=now)
    rows = comparisons(db.cursor(), "m", "1.4", "1.5")
    starts = sorted(r["window_start"] for r in rows)
    assert starts, "the windows still stored are compared"
    assert all(s >= watermark.replace(tzinfo=s.tzinfo) for s in starts), (starts, watermark)
    assert all(r["pairs"] > 0 and r["baseline_rows"] > 0 for r in rows)
