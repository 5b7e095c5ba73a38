"""A week merged from stored daily partial counts equals the week computed directly on its rows."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import numpy as np
import pytest

from _demo import DEMO_END
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.reference import ensure_reference
from driftwatch.pipeline.rollup import rollup_results
from driftwatch.stats.feature_drift import categorical_feature_stats, numeric_feature_stats
from driftwatch.storage.database import Database
from driftwatch.storage.predictions import window_category_counts, window_values


def test_weekly_rollup_equals_direct_computation(demo_settings: Settings, demo_db: Database) -> None:
    mon = demo_settings.monitor("credit-default")
    run_cycle(demo_db, mon, now=DEMO_END)
    weekly = rollup_results(demo_db, mon, timedelta(days=7))
    assert weekly, "no roll-up rows"
    profile = ensure_reference(demo_db, mon).profile
    cur = demo_db.cursor()
    checked = 0
    for row in weekly:
        start = datetime.fromisoformat(row["window_start"].replace("Z", "+00:00")).replace(tzinfo=None)
        end = datetime.fromisoformat(row["window_end"].replace("Z", "+00:00")).replace(tzinfo=None)
        name = row["feature"]
        prof = profile.features[name]
        if row["kind"] == "numeric":
            values = window_values(cur, mon.name, "v3.2", start, end, (name,))[name]
            direct = numeric_feature_stats(prof, values)  # type: ignore[arg-type]
        else:
            direct = categorical_feature_stats(
                prof, window_category_counts(cur, mon.name, "v3.2", start, end, name)
            )  # type: ignore[arg-type]
        assert row["rows"] == direct.rows
        for stat in (
            "psi",
            "js_distance",
            "hellinger",
            "missing_share_current",
            "chi2_statistic",
            "chi2_pvalue",
            "unseen_share",
        ):
            if stat in direct.stats:
                expected = direct.get(stat)
                got = row[stat]
                if np.isnan(expected):
                    assert got is None
                else:
                    assert got == pytest.approx(expected, rel=1e-12, abs=1e-15), (name, stat)
                checked += 1
    assert checked > 50
    # The drift planted in the last weeks shows up in the roll-up.
    last = [r for r in weekly if r["window_start"] == weekly[-1]["window_start"]]
    assert {r["feature"] for r in last if r["status"] == "drift"} >= {"income", "region"}


def test_rollup_cli_json_and_bad_width(demo_settings: Settings) -> None:
    with Database(demo_settings.storage) as db:
        run_cycle(db, demo_settings.monitor("credit-default"), now=DEMO_END)
    base = [sys.executable, "-m", "driftwatch.cli", "results", "--config", str(demo_settings.config_path)]
    done = subprocess.run(
        [*base, "--rollup", "7d", "--format", "json"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {r["windows"] for r in rows} <= set(range(1, 8)) and max(r["windows"] for r in rows) == 7
    assert all(
        r["window_start"].endswith("T00:00:00Z")
        and datetime.fromisoformat(r["window_start"][:10]).weekday() == 0
        for r in rows
    )
    bad = subprocess.run([*base, "--rollup", "5h"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "whole multiple of the window (1d)" in bad.stderr
