"""Version comparisons (baseline vs candidate per window): the rows they read and the results they store.

Two tables, created by ``storage.version_schema.VERSIONS_MIGRATION`` (appended to `storage.schema.MIGRATIONS`):

- `version_comparisons`: one row per monitor × (baseline, candidate) × window: mode, verdict and reasons, the
  output drift, the shadow statistics and the canary metric comparison.
- `version_details`: the per-segment and per-feature rows behind it (`kind` = 'segment_flips' for a shadow
  segment's flips, 'segment_metric' for a segment's metric difference on labelled rows (canary: each version's
  own; shadow: the same requests), 'input' for a canary input
  feature's shift).

A window is (re)compared when it has no comparison yet or when either version's drift or performance results
for it were computed after the comparison: a rerun with nothing new compares nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from driftwatch.durations import as_utc
from driftwatch.storage.alerts import naive
from driftwatch.storage.database import Database
from driftwatch.storage.retention import NOT_EXPIRED_SQL
from driftwatch.storage.schema import feature_column, prediction_table, segment_column

COMPARISON_COLUMNS = (
    "monitor",
    "baseline",
    "candidate",
    "window_start",
    "window_end",
    "mode",
    "status",
    "reasons",
    "baseline_rows",
    "candidate_rows",
    "pairs",
    "score_ks",
    "score_ks_pvalue",
    "score_psi",
    "decision_chi2_pvalue",
    "decision_js",
    "agreement",
    "agreement_low",
    "agreement_high",
    "flip_share",
    "score_diff_mean",
    "score_diff_quantiles",
    "metric",
    "baseline_value",
    "baseline_low",
    "baseline_high",
    "baseline_labels",
    "candidate_value",
    "candidate_low",
    "candidate_high",
    "candidate_labels",
    "metric_delta",
    "metric_delta_low",
    "metric_delta_high",
    "metric_delta_pvalue",
    "run_id",
    "computed_at",
)
DETAIL_COLUMNS = (
    "kind",
    "name",
    "n",
    "value",
    "other",
    "pvalue",
    "adjusted_pvalue",
    "flagged",
)


# The retention watermark filter (storage.retention), on the `both_versions` windows, binding $monitor.
_NOT_EXPIRED = NOT_EXPIRED_SQL.replace("window_start", "b.window_start", 1).replace("?", "$monitor")


@dataclass(frozen=True)
class ComparisonWindow:
    start: datetime
    end: datetime


def windows_to_compare(
    cur: duckdb.DuckDBPyConnection, monitor: str, baseline: str, candidate: str
) -> list[ComparisonWindow]:
    """Windows both versions have drift results for (overall) whose rows are still stored (not behind the
    retention watermark) that were never compared, or whose drift or performance results changed after the
    comparison was stored; oldest first. A pair that first appears (an alias move, a new `versions:`) is so
    compared over every window whose rows are kept, never over an expired one (0 rows)."""
    rows = cur.execute(
        f"""
        WITH both_versions AS (
            SELECT window_start, max(window_end) AS window_end, max(computed_at) AS changed
            FROM window_summaries
            WHERE monitor = $monitor AND segment = '*' AND model_version IN ($baseline, $candidate)
            GROUP BY window_start HAVING count(DISTINCT model_version) = 2
        ), performance AS (
            SELECT window_start, max(computed_at) AS changed FROM performance_results
            WHERE monitor = $monitor AND model_version IN ($baseline, $candidate) GROUP BY window_start
        )
        SELECT b.window_start, b.window_end FROM both_versions b
        LEFT JOIN performance p USING (window_start)
        LEFT JOIN version_comparisons c ON c.monitor = $monitor AND c.baseline = $baseline
            AND c.candidate = $candidate AND c.window_start = b.window_start
        WHERE (c.computed_at IS NULL OR c.computed_at < greatest(b.changed, coalesce(p.changed, b.changed)))
            AND {_NOT_EXPIRED}
        ORDER BY b.window_start
        """,
        {"monitor": monitor, "baseline": baseline, "candidate": candidate},
    ).fetchall()
    return [ComparisonWindow(r[0], r[1]) for r in rows]


def version_window_rows(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    model_version: str,
    window: ComparisonWindow,
    features: Sequence[str],
    segments: Sequence[str],
    truth: tuple[str, dict[str, object]] | None,
) -> pa.Table:
    """One version's rows of a window, in request-id order: `request_id`, `prediction`, `output`, `f<i>` per
    feature, `seg<i>` per segment and, with ``truth`` (an SQL expression over `label`/`label_value` and its
    parameters, from storage.label_truth), `truth` (NULL when not labelled yet)."""
    params: dict[str, object] = {
        "start": window.start,
        "end": window.end,
        "version": model_version,
        "monitor": monitor,
    }
    cols = ["p.request_id", "p.prediction", "p.output"]
    cols += [f"p.{feature_column(f)} AS f{i}" for i, f in enumerate(features)]
    cols += [f"p.{segment_column(s)} AS seg{i}" for i, s in enumerate(segments)]
    join = ""
    if truth is not None:
        expression, truth_params = truth
        params.update(truth_params)
        cols.append(f"{expression} AS truth")
        join = " LEFT JOIN labels l ON l.monitor = $monitor AND l.request_id = p.request_id"
    else:
        params.pop("monitor")
    sql = (
        f"SELECT {', '.join(cols)} FROM {prediction_table(monitor)} p{join} "
        "WHERE p.ts >= $start AND p.ts < $end AND p.model_version = $version ORDER BY p.request_id"
    )
    return cur.sql(sql, params=params).to_arrow_table()


def replace_comparison(db: Database, row: dict[str, Any], details: Sequence[dict[str, Any]]) -> None:
    """Store one window's comparison and its details, replacing an earlier one, in one transaction."""
    key = [row["monitor"], row["baseline"], row["candidate"], row["window_start"]]
    where = "monitor = ? AND baseline = ? AND candidate = ? AND window_start = ?"
    stored = {**row, "reasons": json.dumps(list(row["reasons"]))}
    with db.transaction() as tx:
        tx.execute(f"DELETE FROM version_details WHERE {where}", key)
        tx.execute(f"DELETE FROM version_comparisons WHERE {where}", key)
        tx.execute(
            f"INSERT INTO version_comparisons ({', '.join(COMPARISON_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in COMPARISON_COLUMNS)})",
            [stored[c] for c in COMPARISON_COLUMNS],
        )
        for detail in details:
            tx.execute(
                "INSERT INTO version_details (monitor, baseline, candidate, window_start, "
                f"{', '.join(DETAIL_COLUMNS)}) VALUES (?, ?, ?, ?, {', '.join('?' for _ in DETAIL_COLUMNS)})",
                [*key, *(detail[c] for c in DETAIL_COLUMNS)],
            )


# --- reading results (API, reports, metrics, alert samples) ---------------------------------------------------


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or ()]
    out = []
    for values in cur.fetchall():
        record = dict(zip(names, values, strict=True))
        if isinstance(record.get("reasons"), str):
            record["reasons"] = json.loads(record["reasons"])
        out.append(record)
    return out


def compared_pairs(cur: duckdb.DuckDBPyConnection, monitor: str) -> list[dict[str, Any]]:
    """Each (baseline, candidate) pair the monitor has comparisons for, with its window count and latest window."""
    cur.execute(
        "SELECT baseline, candidate, count(*) AS windows, max(window_start) AS latest_window "
        "FROM version_comparisons WHERE monitor = ? GROUP BY baseline, candidate ORDER BY baseline, candidate",
        [monitor],
    )
    return _dicts(cur)


def comparisons(
    cur: duckdb.DuckDBPyConnection, monitor: str, baseline: str, candidate: str, limit: int = 1000
) -> list[dict[str, Any]]:
    """The pair's comparisons, newest window first."""
    cur.execute(
        "SELECT * FROM version_comparisons WHERE monitor = ? AND baseline = ? AND candidate = ? "
        "ORDER BY window_start DESC LIMIT ?",
        [monitor, baseline, candidate, limit],
    )
    return _dicts(cur)


def comparison_details(
    cur: duckdb.DuckDBPyConnection, monitor: str, baseline: str, candidate: str, window_start: datetime
) -> list[dict[str, Any]]:
    cur.execute(
        f"SELECT {', '.join(DETAIL_COLUMNS)} FROM version_details WHERE monitor = ? AND baseline = ? "
        "AND candidate = ? AND window_start = ? ORDER BY kind, name",
        [monitor, baseline, candidate, window_start],
    )
    return _dicts(cur)


def latest_comparisons(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every monitor × pair's newest compared window (the /metrics gauges)."""
    cur.execute(
        "SELECT * FROM version_comparisons QUALIFY row_number() OVER "
        "(PARTITION BY monitor, baseline, candidate ORDER BY window_start DESC) = 1 "
        "ORDER BY monitor, baseline, candidate"
    )
    return _dicts(cur)


def comparisons_since(cur: duckdb.DuckDBPyConnection, monitor: str, run_id: str) -> list[dict[str, Any]]:
    """The comparisons a run stored (alert samples), oldest window first."""
    cur.execute(
        "SELECT * FROM version_comparisons WHERE monitor = ? AND run_id = ? ORDER BY window_start",
        [monitor, run_id],
    )
    return _dicts(cur)


_EPOCH = datetime(1970, 1, 1)  # naive UTC: before every stored time


@dataclass(frozen=True)
class VersionSampleRow:
    """What the alert samples read of one stored comparison."""

    baseline: str
    candidate: str
    window_start: datetime  # aware UTC
    window_end: datetime
    status: str
    agreement: float | None
    flip_share: float | None
    metric_delta: float | None
    baseline_value: float | None
    pairs: int
    candidate_labels: int | None
    computed_at: datetime


def comparison_sample_rows(
    cur: duckdb.DuckDBPyConnection, monitor: str, since: datetime | None, cutoff: datetime | None
) -> list[VersionSampleRow]:
    """Comparisons stored after ``since`` for windows starting at or after ``cutoff`` (None: no bound), oldest
    window first (the alert samples)."""
    rows = cur.execute(
        "SELECT baseline, candidate, window_start, window_end, status, agreement, flip_share, metric_delta, "
        "baseline_value, pairs, candidate_labels, computed_at FROM version_comparisons "
        "WHERE monitor = ? AND computed_at > ? AND window_start >= ? ORDER BY window_start, baseline, candidate",
        [monitor, naive(since) or _EPOCH, naive(cutoff) or _EPOCH],
    ).fetchall()
    return [
        VersionSampleRow(
            str(r[0]),
            str(r[1]),
            as_utc(r[2]),
            as_utc(r[3]),
            str(r[4]),
            r[5],
            r[6],
            r[7],
            r[8],
            int(r[9]),
            None if r[10] is None else int(r[10]),
            as_utc(r[11]),
        )
        for r in rows
    ]


def comparison_at(
    cur: duckdb.DuckDBPyConnection, monitor: str, baseline: str, candidate: str, window_start: datetime
) -> dict[str, Any] | None:
    """One window's comparison (naive UTC ``window_start``), or None."""
    cur.execute(
        "SELECT * FROM version_comparisons WHERE monitor = ? AND baseline = ? AND candidate = ? "
        "AND window_start = ?",
        [monitor, baseline, candidate, window_start],
    )
    rows = _dicts(cur)
    return rows[0] if rows else None
