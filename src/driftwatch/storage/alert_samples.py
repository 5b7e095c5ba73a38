"""The stored results alert rules are evaluated on, read for one monitor: `pipeline.alerts.samples` turns these
rows into `alerting.model.Sample`s.

Each reader returns the rows stored after `since` (every row when None) for windows (or runs) starting at or
after `cutoff` (no lower bound when None), in a stable order, with times as timezone-aware UTC. "Stored after"
is `computed_at` for drift and performance results and `finished_at` for runs: the caller keeps the newest one
it saw as the next `since` (`alert_progress`).

Values are returned as stored (a NaN statistic stays NaN): what counts as "no data" is the caller's decision.
Every table read here is created by the numbered migrations (storage/schema.py), so the readers need no
"does the table or column exist" probe: a missing column is a schema bug and fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from driftwatch.durations import as_utc
from driftwatch.storage.alerts import naive
from driftwatch.storage.database import first_row

_EPOCH = datetime(1970, 1, 1)  # naive UTC: before every stored time


def _bound(ts: datetime | None) -> datetime:
    """A lower bound as the naive UTC the tables hold (None: no bound)."""
    return naive(ts) or _EPOCH


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class FeatureResultRow:
    """One feature's result in one window, with every statistic stored for it."""

    model_version: str
    segment: str
    window_start: datetime
    window_end: datetime
    feature: str
    rows: int
    status: str  # ok | warn | drift | insufficient_data
    computed_at: datetime
    statistics: tuple[tuple[str, float | None], ...]  # (statistic, value), by statistic name


def feature_result_rows(
    cur: duckdb.DuckDBPyConnection, monitor: str, since: datetime | None, cutoff: datetime | None
) -> list[FeatureResultRow]:
    """Feature results with their statistics, by window, model version, segment and feature."""
    rows = cur.execute(
        "SELECT r.model_version, r.segment, r.window_start, r.window_end, r.feature, r.rows, r.status, "
        "r.computed_at, list(s.statistic ORDER BY s.statistic), list(s.value ORDER BY s.statistic) "
        "FROM feature_results r LEFT JOIN feature_stats s "
        "USING (monitor, model_version, segment, window_start, feature) "
        "WHERE r.monitor = ? AND r.computed_at > ? AND r.window_start >= ? GROUP BY ALL "
        "ORDER BY r.window_start, r.model_version, r.segment, r.feature",
        [monitor, _bound(since), _bound(cutoff)],
    ).fetchall()
    out = []
    for version, segment, start, end, feature, n_rows, status, computed, names, values in rows:
        # A result without statistics comes out of the LEFT JOIN as one NULL name: no statistic.
        stats = tuple(
            (str(name), _float(value))
            for name, value in zip(names or [], values or [], strict=True)
            if name is not None
        )
        out.append(
            FeatureResultRow(
                model_version=str(version),
                segment=str(segment),
                window_start=as_utc(start),
                window_end=as_utc(end),
                feature=str(feature),
                rows=int(n_rows),
                status=str(status),
                computed_at=as_utc(computed),
                statistics=stats,
            )
        )
    return out


@dataclass(frozen=True)
class WindowSummaryRow:
    """One window's dataset-level verdict."""

    model_version: str
    segment: str
    window_start: datetime
    window_end: datetime
    rows: int
    drift_share: float | None
    status: str  # ok | warn | drift | insufficient_data
    computed_at: datetime


def window_summary_rows(
    cur: duckdb.DuckDBPyConnection, monitor: str, since: datetime | None, cutoff: datetime | None
) -> list[WindowSummaryRow]:
    """Window summaries, by window, model version and segment."""
    rows = cur.execute(
        "SELECT model_version, segment, window_start, window_end, rows, drift_share, status, computed_at "
        "FROM window_summaries WHERE monitor = ? AND computed_at > ? AND window_start >= ? "
        "ORDER BY window_start, model_version, segment",
        [monitor, _bound(since), _bound(cutoff)],
    ).fetchall()
    return [
        WindowSummaryRow(
            model_version=str(version),
            segment=str(segment),
            window_start=as_utc(start),
            window_end=as_utc(end),
            rows=int(n_rows),
            drift_share=_float(share),
            status=str(status),
            computed_at=as_utc(computed),
        )
        for version, segment, start, end, n_rows, share, status, computed in rows
    ]


@dataclass(frozen=True)
class FinishedRunRow:
    """A finished cycle's quarantine count, out of the rows it read."""

    started_at: datetime
    finished_at: datetime
    rows_quarantined: int
    rows_read: int  # ingested + duplicate + quarantined


def finished_run_rows(
    cur: duckdb.DuckDBPyConnection, monitor: str, since: datetime | None, cutoff: datetime | None
) -> list[FinishedRunRow]:
    """Runs finished after `since` and started at or after `cutoff`, by start."""
    rows = cur.execute(
        "SELECT started_at, finished_at, rows_quarantined, rows_ingested + rows_duplicate + rows_quarantined "
        "FROM runs WHERE monitor = ? AND finished_at IS NOT NULL AND finished_at > ? AND started_at >= ? "
        "ORDER BY started_at",
        [monitor, _bound(since), _bound(cutoff)],
    ).fetchall()
    return [
        FinishedRunRow(as_utc(started), as_utc(finished), int(quarantined), int(read))
        for started, finished, quarantined, read in rows
    ]


def last_data_window_end(
    cur: duckdb.DuckDBPyConnection, monitor: str, closed_by: datetime
) -> datetime | None:
    """The end of the latest window with data: computed (window_summaries), or queued and closed by
    `closed_by`. None when the monitor has no window at all."""
    found = first_row(
        cur.execute(
            "SELECT max(e) FROM (SELECT max(window_end) AS e FROM window_summaries WHERE monitor = ? "
            "UNION ALL SELECT max(window_end) FROM window_queue WHERE monitor = ? AND window_end <= ?)",
            [monitor, monitor, naive(closed_by)],
        )
    )
    return as_utc(found[0]) if found is not None and found[0] is not None else None


@dataclass(frozen=True)
class PerformanceRow:
    """One stored performance metric (or CBPE estimate, `estimated_*`) of one window."""

    model_version: str
    segment: str
    window_start: datetime
    window_end: datetime
    metric: str
    value: float | None
    n_labels: int
    coverage: float | None
    status: str  # insufficient_labels | ok | degraded | info | estimate
    baseline: float | None
    computed_at: datetime


def performance_rows(
    cur: duckdb.DuckDBPyConnection, monitor: str, since: datetime | None, cutoff: datetime | None
) -> list[PerformanceRow]:
    """Performance results, by window, model version, segment and metric."""
    rows = cur.execute(
        "SELECT model_version, segment, window_start, window_end, metric, value, n_labels, coverage, status, "
        "baseline, computed_at FROM performance_results "
        "WHERE monitor = ? AND computed_at > ? AND window_start >= ? "
        "ORDER BY window_start, model_version, segment, metric",
        [monitor, _bound(since), _bound(cutoff)],
    ).fetchall()
    return [
        PerformanceRow(
            model_version=str(version),
            segment=str(segment),
            window_start=as_utc(start),
            window_end=as_utc(end),
            metric=str(metric),
            value=_float(value),
            n_labels=int(n_labels),
            coverage=_float(coverage),
            status=str(status),
            baseline=_float(baseline),
            computed_at=as_utc(computed),
        )
        for version, segment, start, end, metric, value, n_labels, coverage, status, baseline, computed in rows
    ]
