"""storage/alert_samples.py on a real DuckDB file, and what pipeline.alerts.collect_samples makes of its rows:
the bounds (stored strictly after `since`, window at or after `cutoff`), NaN as "no data", and the per-window
performance samples."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftwatch.config.monitors import MonitorConfig, PredictionSource, ReferenceSource
from driftwatch.pipeline.alerts import collect_samples
from driftwatch.storage import alert_samples as rows
from driftwatch.storage.database import Database

T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAY = timedelta(days=1)
NOW = T0 + 10 * DAY
# collect_samples reads the monitor's name and window only: the sources are never opened.
MONITOR = MonitorConfig("m", PredictionSource("unused/*.parquet"), ReferenceSource("unused.parquet"))


def naive(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "samples.duckdb")
    yield database
    database.close()


def add_feature_result(
    db: Database, start: datetime, computed: datetime, stats: dict[str, float], feature: str = "age"
) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO feature_results VALUES ('m', 'v1', '*', ?, ?, ?, 'numeric', 500, 'warn', '', 'p', 'r', ?)",
            [naive(start), naive(start + DAY), feature, naive(computed)],
        )
        for name, value in stats.items():
            tx.execute(
                "INSERT INTO feature_stats VALUES ('m', 'v1', '*', ?, ?, ?, ?)",
                [naive(start), feature, name, value],
            )


def add_performance(
    db: Database, start: datetime, metric: str, value: float, status: str, n_labels: int, coverage: float
) -> None:
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO performance_results (monitor, model_version, segment, window_start, metric, window_end, "
            "value, n_predictions, n_labels, coverage, status, reason, baseline, run_id, computed_at) "
            "VALUES ('m', 'v1', '*', ?, ?, ?, ?, 1000, ?, ?, ?, '', 0.9, 'r', ?)",
            [
                naive(start),
                metric,
                naive(start + DAY),
                value,
                n_labels,
                coverage,
                status,
                naive(T0 + 5 * DAY),
            ],
        )


def test_since_is_exclusive_and_the_window_cutoff_inclusive(db: Database) -> None:
    computed = T0 + 5 * DAY
    add_feature_result(db, T0, computed, {"psi": 0.3})
    add_feature_result(db, T0 + DAY, computed + timedelta(microseconds=1), {"psi": 0.1})
    cur = db.cursor()
    assert [r.window_start for r in rows.feature_result_rows(cur, "m", None, None)] == [T0, T0 + DAY]
    # Stored exactly at `since`: already evaluated. One microsecond later: new.
    assert [r.window_start for r in rows.feature_result_rows(cur, "m", computed, None)] == [T0 + DAY]
    # A window starting exactly at the cutoff is read; one starting before it is not.
    assert [r.window_start for r in rows.feature_result_rows(cur, "m", None, T0 + DAY)] == [T0 + DAY]
    assert rows.feature_result_rows(cur, "other", None, None) == []


def test_feature_rows_carry_every_statistic_by_name_and_aware_times(db: Database) -> None:
    add_feature_result(
        db, T0, T0 + DAY, {"psi": 0.3, "ks_pvalue": float("nan"), "missing_share_current": 0.5}
    )
    add_feature_result(db, T0, T0 + DAY, {}, feature="no_stats")
    found = {r.feature: r for r in rows.feature_result_rows(db.cursor(), "m", None, None)}
    age = found["age"]
    assert [name for name, _ in age.statistics] == ["ks_pvalue", "missing_share_current", "psi"]
    assert math.isnan(dict(age.statistics)["ks_pvalue"] or 0.0)  # as stored: the caller decides
    assert age.window_start == T0 and age.window_start.tzinfo is UTC and age.computed_at == T0 + DAY
    assert found["no_stats"].statistics == ()  # the LEFT JOIN's NULL is no statistic


def test_collected_samples_read_nan_as_no_data_and_alias_the_missing_share(db: Database) -> None:
    add_feature_result(
        db, T0, T0 + DAY, {"psi": 0.3, "ks_pvalue": float("nan"), "missing_share_current": 0.5}
    )
    batch = collect_samples(db, MONITOR, NOW)
    values = {s.metric: s.value for s in batch.samples if s.feature == "age"}
    assert values == {
        "psi": 0.3,
        "ks_pvalue": None,
        "missing_share_current": 0.5,
        "missing_share": 0.5,
        "drift_status": 1.0,
    }
    assert batch.through == T0 + DAY


def test_performance_window_samples_come_from_real_metrics_only(db: Database) -> None:
    add_performance(db, T0, "roc_auc", 0.71, "degraded", 120, 0.6)
    add_performance(db, T0, "estimated_roc_auc", 0.8, "estimate", 0, 0.0)
    add_performance(db, T0 + DAY, "roc_auc", 0.95, "insufficient_labels", 3, 0.01)
    batch = collect_samples(db, MONITOR, NOW)
    got = {(s.window_start, s.metric): (s.value, s.samples, s.baseline) for s in batch.samples}
    assert got[(T0, "roc_auc")] == (0.71, 120, 0.9)
    assert got[(T0, "estimated_roc_auc")] == (0.8, 0, 0.9)
    assert got[(T0, "performance_status")] == (1.0, 120, None)
    assert got[(T0, "label_coverage")] == (0.6, 120, None)
    assert got[(T0, "label_count")] == (120.0, 120, None)
    # The pipeline's label gate: a metric over too few labels is "no data", and so is the window's status.
    assert got[(T0 + DAY, "roc_auc")] == (None, 3, 0.9)
    assert got[(T0 + DAY, "performance_status")] == (None, 3, None)


def test_windows_without_data_counts_closed_windows_since_the_last_with_data(db: Database) -> None:
    assert rows.last_data_window_end(db.cursor(), "m", NOW) is None
    assert [s for s in collect_samples(db, MONITOR, NOW).samples if s.metric == "windows_without_data"] == []
    with db.transaction() as tx:  # a queued window counts as data once it is closed
        tx.execute(
            "INSERT INTO window_queue VALUES ('m', 'v1', ?, ?, ?, 'new rows')",
            [naive(T0 + 6 * DAY), naive(T0 + 7 * DAY), naive(T0)],
        )
    assert rows.last_data_window_end(db.cursor(), "m", NOW) == T0 + 7 * DAY
    (gap,) = [s for s in collect_samples(db, MONITOR, NOW).samples if s.metric == "windows_without_data"]
    assert (gap.window_start, gap.window_end, gap.value) == (NOW - DAY, NOW, 3.0)
