"""The window page's "Multivariate drift" section: each method's statistic, bar or interval, status and reason
(docs/statistics-decisions.md, "Multivariate drift")."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

from driftwatch.durations import to_naive_utc
from driftwatch.reports.contexts import Table
from driftwatch.storage.multivariate import MultivariateRow, multivariate_fingerprints, multivariate_results

METHOD_LABELS = {"reconstruction": "PCA reconstruction error", "classifier": "domain classifier AUC"}


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4g}"


def _bars(row: MultivariateRow) -> str:
    if row.method == "classifier":
        if row.low is None or row.high is None:
            return "–"
        return f"95 % interval [{_number(row.low)}, {_number(row.high)}]; drift when the lower bound > {_number(row.drift_bar)}"
    if row.warn_bar is None:
        return "–"
    return f"warn > {_number(row.warn_bar)}, drift > {_number(row.drift_bar)}"


def multivariate_table(
    cur: duckdb.DuckDBPyConnection, monitor: str, model_version: str, segment: str, window_start: datetime
) -> Table | None:
    """The window's multivariate results as a table; None when there are none (off, or a segment's page: the
    methods judge all rows of a window only)."""
    if segment != "*":
        return None
    # Only this window's results: [start, start + 1 µs), not every later window's to filter here.
    start = to_naive_utc(window_start)
    rows = multivariate_results(
        cur, monitor, model_version=model_version, start=start, end=start + timedelta(microseconds=1)
    )
    if not rows:
        return None
    return Table(
        ("method", "status", "value", "bars", "rows used", "reason"),
        tuple(
            (
                METHOD_LABELS.get(r.method, r.method),
                r.status,
                _number(r.value),
                _bars(r),
                f"{r.rows:,} of {r.window_rows:,}",
                r.reason,
            )
            for r in sorted(rows, key=lambda r: r.method, reverse=True)
        ),
    )


def with_multivariate(
    cur: duckdb.DuckDBPyConnection, monitor: str, fingerprints: dict[tuple[str, str, datetime], str]
) -> dict[tuple[str, str, datetime], str]:
    """The window pages' fingerprints, the all-rows pages' extended with their multivariate results."""
    extra = multivariate_fingerprints(cur, monitor)
    return {
        key: value + "|" + extra[(key[0], key[2])] if key[1] == "*" and (key[0], key[2]) in extra else value
        for key, value in fingerprints.items()
    }
