"""Drift windows in the database: the queue of windows to (re)compute, a window's rows read for its statistics,
and its stored results (feature results, statistics, mergeable bin counts, the window summary).

`pipeline.windows` keeps the logic (what to compute, how to judge it); the SQL is here. A window holds the rows
with ``start <= ts < end`` (`storage.predictions.window_filter`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from driftwatch.storage.database import Database, registered
from driftwatch.storage.predictions import window_filter
from driftwatch.storage.retention import NOT_EXPIRED_SQL
from driftwatch.storage.schema import (
    PREDICTION_COLUMN,
    feature_column,
    prediction_table,
    quote_identifier,
    segment_column,
    value_column,
)

RESULT_TABLES = ("feature_results", "feature_stats", "feature_bins", "window_summaries")
"""The tables holding a computed window's results, all keyed by monitor × model version × window start."""

_ALL_ROWS = "*"  # the grouping key of the all-rows set (a segment's key is "<index>=<value>")
SegmentKey = tuple[int, str] | None
"""A group of a window's rows: (index of the segment column, its value), or None for all rows."""


@dataclass(frozen=True)
class PlannedWindow:
    """A queued window: its rows are ``start <= ts < end`` (naive UTC) of one model version ('*': all)."""

    model_version: str
    start: datetime  # naive UTC
    end: datetime
    queued_at: datetime


@dataclass(frozen=True)
class WindowArrays:
    """A window's numeric columns and segment codes, from one read of its rows.

    ``numeric`` holds float64 arrays (missing = NaN) per feature name; ``segment_codes`` per segment column an
    int64 array with the 1-based position of the row's value in the list passed in (0: not in it).
    """

    rows: int
    numeric: Mapping[str, npt.NDArray[np.float64]]
    segment_codes: Mapping[str, npt.NDArray[np.int64]]


@dataclass
class WindowRows:
    """A computed window's rows, one list of column → value dicts per results table."""

    feature_results: list[dict[str, object]] = field(default_factory=list)
    feature_stats: list[dict[str, object]] = field(default_factory=list)
    feature_bins: list[dict[str, object]] = field(default_factory=list)
    window_summaries: list[dict[str, object]] = field(default_factory=list)

    def by_table(self) -> dict[str, list[dict[str, object]]]:
        return {table: getattr(self, table) for table in RESULT_TABLES}


@dataclass(frozen=True)
class StoredBins:
    """One window's mergeable bin counts of one feature (`feature_bins`), with the feature's kind."""

    model_version: str
    window_start: datetime
    feature: str
    profile_id: str
    counts: npt.NDArray[np.int64]
    kind: str


# --- the queue ------------------------------------------------------------------------------------------------


def pending_windows(cur: duckdb.DuckDBPyConnection, monitor: str, now: datetime) -> list[PlannedWindow]:
    """The monitor's queued windows that have closed by `now` (naive UTC: ``end <= now``), oldest first."""
    rows = cur.execute(
        "SELECT model_version, window_start, window_end, queued_at FROM window_queue "
        f"WHERE monitor = ? AND window_end <= ? AND {NOT_EXPIRED_SQL} ORDER BY window_start, model_version",
        [monitor, now, monitor],
    ).fetchall()
    return [PlannedWindow(str(r[0]), r[1], r[2], r[3]) for r in rows]


def requeue_computed_windows(
    cur: duckdb.DuckDBPyConnection, monitor: str, reason: str, now: datetime
) -> None:
    """Queue every window with stored results again (a window already queued keeps its entry)."""
    cur.execute(
        "INSERT INTO window_queue SELECT DISTINCT monitor, model_version, window_start, window_end, ?, ? "
        f"FROM window_summaries WHERE monitor = ? AND {NOT_EXPIRED_SQL} ON CONFLICT DO NOTHING",
        [now, reason, monitor, monitor],
    )


# --- a window's rows ------------------------------------------------------------------------------------------


def segment_values(
    cur: duckdb.DuckDBPyConnection, monitor: str, window: PlannedWindow, segment: str
) -> list[str]:
    """The distinct values a segment column takes in the window, sorted."""
    where, params = window_filter(window.model_version, window.start, window.end)
    col = segment_column(segment)
    rows = cur.execute(
        f"SELECT DISTINCT {col} FROM {prediction_table(monitor)} WHERE {where} ORDER BY 1", params
    ).fetchall()
    return [str(r[0]) for r in rows]


def window_arrays(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    window: PlannedWindow,
    numeric: Sequence[str],
    segments: Mapping[str, Sequence[str]],
    score_as: str | None = None,
) -> WindowArrays:
    """The window's numeric feature columns and segment codes in one read.

    ``segments`` maps each segment column to its values (`segment_values`): a row's code is its value's 1-based
    position there. With ``score_as`` the model's score comes along as one more numeric array under that name.
    """
    sql, fetch_params, names = window_arrays_query(monitor, window, numeric, segments, score_as)
    return as_window_arrays(cur.execute(sql, fetch_params).fetchnumpy(), names, segments)


def window_arrays_query(
    monitor: str,
    window: PlannedWindow,
    numeric: Sequence[str],
    segments: Mapping[str, Sequence[str]],
    score_as: str | None = None,
) -> tuple[str, dict[str, object], list[str]]:
    """The statement `window_arrays` runs, its parameters and the numeric names it returns (also read in
    record batches by `storage.window_batches`)."""
    where, params = window_filter(window.model_version, window.start, window.end)
    names = list(numeric)
    select = [f"coalesce({feature_column(n)}, 'NaN'::DOUBLE) AS {feature_column(n)}" for n in numeric]
    if score_as is not None:
        names.append(score_as)
        column = quote_identifier(PREDICTION_COLUMN)
        select.append(f"coalesce({column}, 'NaN'::DOUBLE) AS {feature_column(score_as)}")
    fetch_params: dict[str, object] = dict(params)
    for i, (segment, values) in enumerate(segments.items()):
        fetch_params[f"seg{i}"] = list(values)
        select.append(f"list_position($seg{i}, {segment_column(segment)})::INTEGER AS _seg{i}")
    select.append("1 AS _one")
    return f"SELECT {', '.join(select)} FROM {prediction_table(monitor)} WHERE {where}", fetch_params, names


def as_window_arrays(
    arrays: Mapping[str, object], names: Sequence[str], segments: Mapping[str, Sequence[str]]
) -> WindowArrays:
    """`WindowArrays` from the columns of `window_arrays_query`'s result (all of it, or one batch)."""
    return WindowArrays(
        rows=int(np.asarray(arrays["_one"]).size),
        numeric={n: np.asarray(arrays[f"f:{n}"], dtype=np.float64) for n in names},
        segment_codes={
            segment: np.asarray(arrays[f"_seg{i}"], dtype=np.int64) for i, segment in enumerate(segments)
        },
    )


def category_counts_by_segment(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    window: PlannedWindow,
    feature: str,
    segments: Sequence[str],
) -> dict[SegmentKey, dict[str | None, int]]:
    """Value → count (None: missing) of one categorical feature in the window, for all rows (key None) and
    per value of each segment column (key (segment index, value)), in one grouped query."""
    where, params = window_filter(window.model_version, window.start, window.end)
    col = value_column(feature)
    sets = ", ".join([f"({col})"] + [f"({segment_column(s)}, {col})" for s in segments])
    whens = " ".join(
        f"WHEN grouping({segment_column(s)}) = 0 THEN '{i}=' || {segment_column(s)}"
        for i, s in enumerate(segments)
    )
    seg_case = f"CASE {whens} ELSE '{_ALL_ROWS}' END" if segments else f"'{_ALL_ROWS}'"
    rows = cur.execute(
        f"SELECT {seg_case} AS seg, {col}, count(*) FROM {prediction_table(monitor)} WHERE {where} "
        f"GROUP BY GROUPING SETS ({sets})",
        params,
    ).fetchall()
    counts: dict[SegmentKey, dict[str | None, int]] = {}
    for seg_key, value, count in rows:
        key: SegmentKey = None
        if seg_key != _ALL_ROWS:
            index, _, seg_value = str(seg_key).partition("=")
            key = (int(index), seg_value)
        counts.setdefault(key, {})[None if value is None else str(value)] = int(count)
    return counts


# --- a window's results ---------------------------------------------------------------------------------------


def replace_window_results(db: Database, monitor: str, window: PlannedWindow, rows: WindowRows) -> None:
    """Replace the window's stored results with ``rows`` and take it off the queue, in one transaction.

    The window leaves the queue only if nothing queued it again after ``window.queued_at`` (newer rows arrived
    while it was computed), so a re-run never loses them.
    """
    key = [monitor, window.model_version, window.start]
    with db.transaction() as tx:
        for table in RESULT_TABLES:
            tx.execute(
                f"DELETE FROM {table} WHERE monitor = ? AND model_version = ? AND window_start = ?", key
            )
        for table, table_rows in rows.by_table().items():
            if not table_rows:
                continue
            with registered(tx, "_rows", _arrow_table(table_rows)):
                tx.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
        tx.execute(
            "DELETE FROM window_queue WHERE monitor = ? AND model_version = ? AND window_start = ? AND queued_at <= ?",
            [*key, window.queued_at],
        )


def _arrow_table(rows: list[dict[str, object]]) -> pa.Table:
    # Columns that may be all-null in a window get their type spelled out (Arrow would infer `null`).
    types = {"value": pa.float64(), "drift_share": pa.float64(), "counts": pa.list_(pa.int64())}
    return pa.table({k: pa.array([r[k] for r in rows], type=types.get(k)) for k in rows[0]})


def stored_bins(cur: duckdb.DuckDBPyConnection, monitor: str, segment: str) -> list[StoredBins]:
    """Every stored window's bin counts of a monitor's segment, with each feature's kind, by window start."""
    rows = cur.execute(
        "SELECT b.model_version, b.window_start, b.feature, b.profile_id, b.counts, r.kind "
        "FROM feature_bins b JOIN feature_results r USING (monitor, model_version, segment, window_start, feature) "
        "WHERE b.monitor = ? AND b.segment = ? ORDER BY b.window_start",
        [monitor, segment],
    ).fetchall()
    return [
        StoredBins(str(v), start, str(f), str(pid), np.asarray(counts, dtype=np.int64), str(kind))
        for v, start, f, pid, counts, kind in rows
    ]
