"""Step 3 of a cycle: compute every closed window that is queued (new rows, late rows, a new reference).

A window is computed per model version, overall (segment '*') and per value of each segment column, from one
read of its rows. Its results replace any earlier ones in one transaction, and the window leaves the queue
only if no newer rows queued it again meanwhile, so a re-run never doubles a row and a crash loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import duckdb
import numpy as np

from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.durations import to_naive_utc
from driftwatch.pipeline.cluster_windows import ClusterWindows, NumericStatistics
from driftwatch.pipeline.streamed_windows import streamed_numeric_statistics, streams
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
from driftwatch.storage.windows import (
    PlannedWindow,
    SegmentKey,
    WindowRows,
    category_counts_by_segment,
    pending_windows,
    replace_window_results,
    segment_values,
    window_arrays,
)

OVERALL = "*"


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
    return pending_windows(db.cursor(), monitor, to_naive_utc(now))


def thresholds_for(monitor: MonitorConfig) -> Thresholds:
    return monitor.drift


def compute_window(
    db: Database,
    monitor: MonitorConfig,
    features: FeatureSpec,
    profile: ReferenceProfile,
    window: PlannedWindow,
    cluster: ClusterWindows | None = None,
) -> WindowResult:
    """Read the window's rows once and compute every feature's statistics, overall and per segment.
    With `cluster` (a monitor's `compute:`), a window over its `min_rows` is counted on the Dask cluster."""
    cur = db.cursor()
    segments = monitor.predictions.segments
    # The model's score and decision mix, when the profile has them, ride along as one more of each kind.
    score = PREDICTION_FEATURE in profile.features
    categorical_names = list(features.categorical)
    if OUTPUT_FEATURE in profile.features:
        categorical_names.append(OUTPUT_FEATURE)
    window_features = FeatureSpec(
        (*features.numeric, PREDICTION_FEATURE) if score else features.numeric, tuple(categorical_names)
    )
    # Segment membership as small integer codes, so numeric columns are fetched once and split in memory.
    seg_values = {seg: segment_values(cur, monitor.name, window, seg) for seg in segments}
    # Categorical counts for every segment in one grouped query per feature.
    cat_counts = {
        name: _by_segment_label(
            segments, category_counts_by_segment(cur, monitor.name, window, name, segments)
        )
        for name in window_features.categorical
    }
    thresholds = thresholds_for(monitor)
    from_partials = _partials_statistics(cur, monitor, features, score, seg_values, profile, window, cluster)
    if from_partials is not None:
        numeric, rows = from_partials
        return WindowResult(
            window,
            [
                _judged(
                    label,
                    rows[label],
                    [*drift, *categorical_statistics(window_features, profile, cat_counts, label)],
                    profile,
                    thresholds,
                )
                for label, drift in numeric.items()
            ],
        )
    arrays = window_arrays(
        cur, monitor.name, window, features.numeric, seg_values, PREDICTION_FEATURE if score else None
    )
    numeric_arrays = dict(arrays.numeric)
    results = [
        _segment_result(
            OVERALL, arrays.rows, None, window_features, profile, numeric_arrays, cat_counts, thresholds
        )
    ]
    for seg in segments:
        codes = arrays.segment_codes[seg]
        for j, value in enumerate(seg_values[seg], start=1):
            mask = codes == j
            results.append(
                _segment_result(
                    f"{seg}={value}",
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


def _partials_statistics(
    cur: duckdb.DuckDBPyConnection,
    monitor: MonitorConfig,
    features: FeatureSpec,
    score: bool,
    seg_values: Mapping[str, Sequence[str]],
    profile: ReferenceProfile,
    window: PlannedWindow,
    cluster: ClusterWindows | None,
) -> NumericStatistics | None:
    """The numeric features' statistics from partials: on the cluster (`compute:`, over its `min_rows`), else
    streamed on this machine (over `stream_rows`); None: the window is read whole."""
    score_as = PREDICTION_FEATURE if score else None
    if cluster is not None:
        done = cluster.numeric_statistics(
            cur, monitor.name, window, features.numeric, score_as, seg_values, profile
        )
        if done is not None:
            return done
    if monitor.stream_rows is not None and streams(cur, monitor.name, window, monitor.stream_rows):
        return streamed_numeric_statistics(
            cur, monitor.name, window, features.numeric, score_as, seg_values, profile, monitor.stream_rows
        )
    return None


def _by_segment_label(
    segments: tuple[str, ...], counts: Mapping[SegmentKey, dict[str | None, int]]
) -> dict[str, dict[str | None, int]]:
    """Counts keyed by segment label: '*' for all rows, 'column=value' for a segment's rows."""
    return {
        OVERALL if key is None else f"{segments[key[0]]}={key[1]}": value_counts
        for key, value_counts in counts.items()
    }


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
    return [*stats, *categorical_statistics(features, profile, cat_counts, segment)]


def categorical_statistics(
    features: FeatureSpec,
    profile: ReferenceProfile,
    cat_counts: Mapping[str, Mapping[str, Mapping[str | None, int]]],
    segment: str = OVERALL,
) -> list[FeatureDrift]:
    """The categorical features' statistics for one segment, from their counts."""
    stats = []
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
    return _judged(label, rows, stats, profile, thresholds)


def _judged(
    label: str, rows: int, stats: Sequence[FeatureDrift], profile: ReferenceProfile, thresholds: Thresholds
) -> SegmentResult:
    return SegmentResult(label, rows, stats, judge_window(stats, reference_counts(profile), thresholds))


def store_window(db: Database, monitor: str, profile_id: str, run_id: str, result: WindowResult) -> None:
    """Replace the window's stored results and take it off the queue, in one transaction."""
    w = result.window
    now = utcnow()
    rows = WindowRows()
    for seg in result.segments:
        key = {
            "monitor": monitor,
            "model_version": w.model_version,
            "segment": seg.segment,
            "window_start": w.start,
        }
        for fs, fd in zip(seg.features, seg.decision.features, strict=True):
            feature = {**key, "feature": fs.name}
            rows.feature_results.append(
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
            if fs.wasserstein_bound is not None:  # a streamed window (docs/scale.md): W1 is an estimate
                all_stats["wasserstein_norm_bound"] = fs.wasserstein_bound
            if fd.pvalue_adjusted is not None:
                all_stats["pvalue_adjusted"] = fd.pvalue_adjusted
            rows.feature_stats += [
                {
                    **feature,
                    "statistic": name,
                    "value": None if value is None or np.isnan(value) else float(value),
                }
                for name, value in all_stats.items()
            ]
            rows.feature_bins.append(
                {**feature, "profile_id": profile_id, "counts": [int(c) for c in fs.bin_counts]}
            )
        d = seg.decision
        rows.window_summaries.append(
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

    replace_window_results(db, monitor, w, rows)


def compute_queued_windows(
    db: Database,
    monitor: MonitorConfig,
    features: FeatureSpec,
    profile: ReferenceProfile,
    run_id: str,
    now: datetime,
    on_window: Callable[[PlannedWindow, int, int], None] | None = None,
    profile_for: Callable[[PlannedWindow], ReferenceProfile | None] | None = None,
    warnings: list[str] | None = None,
) -> list[WindowResult]:
    """`profile_for`: a profile per window (a registry reference: its model version's; None leaves the window
    queued for a later cycle); without it every window is compared with `profile`. `warnings` gets the
    windows a monitor's `compute:` cluster could not take (computed here instead)."""
    planned = plan_windows(db, monitor.name, now)
    results = []
    cluster = ClusterWindows(monitor.compute) if monitor.compute is not None and planned else None
    try:
        for i, window in enumerate(planned):
            if on_window:
                on_window(window, i, len(planned))
            window_profile = profile_for(window) if profile_for is not None else profile
            if window_profile is None:
                continue
            result = compute_window(db, monitor, features, window_profile, window, cluster)
            store_window(db, monitor.name, window_profile.profile_id, run_id, result)
            results.append(result)
    finally:
        if cluster is not None:
            cluster.close()
            if warnings is not None:
                warnings += cluster.warnings
    return results
