"""Step 3 of a cycle: compute every closed window that is queued (new rows, late rows, a new reference).

A window is computed per model version, overall (segment '*') and per value of each segment column, from one
read of its rows. Its results replace any earlier ones in one transaction, and the window leaves the queue
only if no newer rows queued it again meanwhile, so a re-run never doubles a row and a crash loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

import numpy as np
import pyarrow as pa

from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.sources.logs import segment_column
from driftwatch.stats.decision import OUTPUT_FEATURE, PREDICTION_FEATURE, Thresholds, WindowDecision
from driftwatch.stats.feature_drift import (
    FeatureDrift,
    as_role,
    categorical_feature_stats,
    numeric_feature_stats,
)
from driftwatch.stats.judgement import judge_window, reference_counts
from driftwatch.stats.parallel import map_features
from driftwatch.stats.profile import CategoricalProfile, NumericProfile, ReferenceProfile
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.predictions import _window_filter
from driftwatch.storage.schema import feature_column, prediction_table, value_column

OVERALL = "*"


@dataclass(frozen=True)
class PlannedWindow:
    model_version: str
    start: datetime  # naive UTC
    end: datetime
    queued_at: datetime


@dataclass(frozen=True)
class SegmentResult:
    segment: str
    rows: int
    features: Sequence[FeatureDrift]
    decision: WindowDecision


@dataclass(frozen=True)
class WindowResult:
    window: PlannedWindow
    segments: Sequence[SegmentResult]

    @property
    def overall(self) -> SegmentResult:
        return next(s for s in self.segments if s.segment == OVERALL)


def plan_windows(db: Database, monitor: str, now: datetime) -> list[PlannedWindow]:
    """Queued windows that have closed by `now`, oldest first."""
    naive_now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    rows = (
        db.cursor()
        .execute(
            "SELECT model_version, window_start, window_end, queued_at FROM window_queue "
            "WHERE monitor = ? AND window_end <= ? ORDER BY window_start, model_version",
            [monitor, naive_now],
        )
        .fetchall()
    )
    return [PlannedWindow(str(r[0]), r[1], r[2], r[3]) for r in rows]


def thresholds_for(monitor: MonitorConfig) -> Thresholds:
    return monitor.drift


def compute_window(
    db: Database,
    monitor: MonitorConfig,
    features: FeatureSpec,
    profile: ReferenceProfile,
    window: PlannedWindow,
) -> WindowResult:
    """Read the window's rows once and compute every feature's statistics, overall and per segment."""
    cur = db.cursor()
    where, params = _window_filter(window.model_version, window.start, window.end)
    table = prediction_table(monitor.name)
    segments = monitor.predictions.segments
    thresholds = thresholds_for(monitor)

    # Segment membership as small integer codes, so numeric columns are fetched once and split in memory.
    seg_values: dict[str, list[str]] = {}
    seg_codes: dict[str, np.ndarray] = {}
    fetch_params = dict(params)
    select = [
        f"coalesce({feature_column(n)}, 'NaN'::DOUBLE) AS {feature_column(n)}" for n in features.numeric
    ]
    # The model's score and decision mix, when the profile has them, ride along as one more of each kind.
    numeric_names = list(features.numeric)
    categorical_names = list(features.categorical)
    if PREDICTION_FEATURE in profile.features:
        numeric_names.append(PREDICTION_FEATURE)
        select.append(
            f"coalesce({value_column(PREDICTION_FEATURE)}, 'NaN'::DOUBLE) AS {feature_column(PREDICTION_FEATURE)}"
        )
    if OUTPUT_FEATURE in profile.features:
        categorical_names.append(OUTPUT_FEATURE)
    window_features = FeatureSpec(tuple(numeric_names), tuple(categorical_names))
    for i, seg in enumerate(segments):
        col = segment_column(seg)
        values = [
            str(r[0])
            for r in cur.execute(
                f"SELECT DISTINCT {col} FROM {table} WHERE {where} ORDER BY 1", params
            ).fetchall()
        ]
        seg_values[seg] = values
        fetch_params[f"seg{i}"] = values
        select.append(f"list_position($seg{i}, {col})::INTEGER AS _seg{i}")
    select.append("1 AS _one")
    arrays = cur.execute(f"SELECT {', '.join(select)} FROM {table} WHERE {where}", fetch_params).fetchnumpy()
    total_rows = int(np.asarray(arrays["_one"]).size)
    numeric_arrays = {n: np.asarray(arrays[f"f:{n}"], dtype=np.float64) for n in window_features.numeric}
    for i, seg in enumerate(segments):
        seg_codes[seg] = np.asarray(arrays[f"_seg{i}"], dtype=np.int64)

    # Categorical counts for every segment in one grouped query per feature.
    cat_counts: dict[str, dict[str, dict[str | None, int]]] = {}
    for name in window_features.categorical:
        col = value_column(name)
        sets = ", ".join([f"({col})"] + [f"({segment_column(s)}, {col})" for s in segments])
        whens = " ".join(
            f"WHEN grouping({segment_column(s)}) = 0 THEN '{i}=' || {segment_column(s)}"
            for i, s in enumerate(segments)
        )
        seg_case = f"CASE {whens} ELSE '{OVERALL}' END" if segments else f"'{OVERALL}'"
        per_segment: dict[str, dict[str | None, int]] = {}
        rows = cur.execute(
            f"SELECT {seg_case} AS seg, {col}, count(*) FROM {table} WHERE {where} GROUP BY GROUPING SETS ({sets})",
            params,
        ).fetchall()
        for seg_key, value, count in rows:
            key = OVERALL if seg_key == OVERALL else _segment_label(segments, str(seg_key))
            per_segment.setdefault(key, {})[None if value is None else str(value)] = int(count)
        cat_counts[name] = per_segment

    results = [
        _segment_result(
            OVERALL, total_rows, None, window_features, profile, numeric_arrays, cat_counts, thresholds
        )
    ]
    for seg in segments:
        codes = seg_codes[seg]
        for j, value in enumerate(seg_values[seg], start=1):
            mask = codes == j
            label = f"{seg}={value}"
            results.append(
                _segment_result(
                    label,
                    int(mask.sum()),
                    mask,
                    window_features,
                    profile,
                    numeric_arrays,
                    cat_counts,
                    thresholds,
                )
            )
    return WindowResult(window, results)


def _segment_label(segments: tuple[str, ...], key: str) -> str:
    index, _, value = key.partition("=")
    return f"{segments[int(index)]}={value}"


def feature_statistics(
    features: FeatureSpec,
    profile: ReferenceProfile,
    numeric_arrays: Mapping[str, np.ndarray],
    cat_counts: Mapping[str, Mapping[str, Mapping[str | None, int]]],
    segment: str = OVERALL,
    mask: np.ndarray | None = None,
    rows: int | None = None,
) -> list[FeatureDrift]:
    """Every feature's statistics for one segment of a window: numeric ones first, then categorical ones.

    ``numeric_arrays`` holds the window's values per numeric feature (``mask`` selects the segment's rows),
    ``cat_counts`` the value counts per categorical feature and segment label. ``rows`` (default: the first
    array's length) decides whether the numeric features run on threads.
    """
    jobs: list[Callable[[], FeatureDrift]] = []
    for name in features.numeric:
        prof = profile.features.get(name)
        if isinstance(prof, NumericProfile):
            values = numeric_arrays[name] if mask is None else numeric_arrays[name][mask]
            jobs.append(partial(numeric_feature_stats, prof, values))
    size = rows if rows is not None else next((a.size for a in numeric_arrays.values()), 0)
    # The numeric features are the expensive part (a sort and a merge each): on every core.
    stats = [as_role(drift) for drift in map_features(jobs, size)]
    for name in features.categorical:
        prof = profile.features.get(name)
        if isinstance(prof, CategoricalProfile):
            stats.append(as_role(categorical_feature_stats(prof, cat_counts[name].get(segment, {}))))
    return stats


def _segment_result(
    label: str,
    rows: int,
    mask: np.ndarray | None,
    features: FeatureSpec,
    profile: ReferenceProfile,
    numeric_arrays: dict[str, np.ndarray],
    cat_counts: dict[str, dict[str, dict[str | None, int]]],
    thresholds: Thresholds,
) -> SegmentResult:
    stats = feature_statistics(features, profile, numeric_arrays, cat_counts, label, mask, rows)
    return SegmentResult(label, rows, stats, judge_window(stats, reference_counts(profile), thresholds))


def store_window(db: Database, monitor: str, profile_id: str, run_id: str, result: WindowResult) -> None:
    """Replace the window's stored results and take it off the queue, in one transaction."""
    w = result.window
    now = utcnow()
    features: list[dict[str, object]] = []
    stats: list[dict[str, object]] = []
    bins: list[dict[str, object]] = []
    summaries: list[dict[str, object]] = []
    for seg in result.segments:
        key = {
            "monitor": monitor,
            "model_version": w.model_version,
            "segment": seg.segment,
            "window_start": w.start,
        }
        for fs, fd in zip(seg.features, seg.decision.features, strict=True):
            feature = {**key, "feature": fs.name}
            features.append(
                {
                    **feature,
                    "window_end": w.end,
                    "kind": fs.kind,
                    "rows": fs.rows,
                    "status": fd.status,
                    "reason": fd.reason,
                    "profile_id": profile_id,
                    "run_id": run_id,
                    "computed_at": now,
                }
            )
            all_stats = dict(fs.stats)
            if fd.pvalue_adjusted is not None:
                all_stats["pvalue_adjusted"] = fd.pvalue_adjusted
            stats += [
                {
                    **feature,
                    "statistic": name,
                    "value": None if value is None or np.isnan(value) else float(value),
                }
                for name, value in all_stats.items()
            ]
            bins.append({**feature, "profile_id": profile_id, "counts": [int(c) for c in fs.bin_counts]})
        d = seg.decision
        summaries.append(
            {
                **key,
                "window_end": w.end,
                "rows": seg.rows,
                "features": len(seg.features),
                "features_warn": d.n_warn,
                "features_drift": d.n_drift,
                "drift_share": d.drift_share,
                "status": d.status,
                "run_id": run_id,
                "computed_at": now,
            }
        )

    key_params = [monitor, w.model_version, w.start]
    with db.transaction() as tx:
        for table in ("feature_results", "feature_stats", "feature_bins", "window_summaries"):
            tx.execute(
                f"DELETE FROM {table} WHERE monitor = ? AND model_version = ? AND window_start = ?",
                key_params,
            )
        for table, rows in (
            ("feature_results", features),
            ("feature_stats", stats),
            ("feature_bins", bins),
            ("window_summaries", summaries),
        ):
            if not rows:
                continue
            arrow = _arrow_table(rows)
            tx.register("_rows", arrow)
            try:
                tx.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _rows")
            finally:
                tx.unregister("_rows")
        tx.execute(
            "DELETE FROM window_queue WHERE monitor = ? AND model_version = ? AND window_start = ? AND queued_at <= ?",
            [*key_params, w.queued_at],
        )


def _arrow_table(rows: list[dict[str, object]]) -> pa.Table:
    # Columns that may be all-null in a window get their type spelled out (Arrow would infer `null`).
    types = {"value": pa.float64(), "drift_share": pa.float64(), "counts": pa.list_(pa.int64())}
    return pa.table({k: pa.array([r[k] for r in rows], type=types.get(k)) for k in rows[0]})


def compute_queued_windows(
    db: Database,
    monitor: MonitorConfig,
    features: FeatureSpec,
    profile: ReferenceProfile,
    run_id: str,
    now: datetime,
    on_window: Callable[[PlannedWindow, int, int], None] | None = None,
) -> list[WindowResult]:
    planned = plan_windows(db, monitor.name, now)
    results = []
    for i, window in enumerate(planned):
        if on_window:
            on_window(window, i, len(planned))
        result = compute_window(db, monitor, features, profile, window)
        store_window(db, monitor.name, profile.profile_id, run_id, result)
        results.append(result)
    return results
