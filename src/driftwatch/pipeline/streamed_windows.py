"""A scheduled window too large to read whole: its numeric features counted batch by batch into partials.

Used by `pipeline.windows.compute_window` when the window holds more rows than the monitor's `stream_rows`.
The window's numeric columns and segment codes are read in record batches of that many rows
(`storage.window_batches`); each batch is counted into one running partial per feature and segment
(`stats.partials.Accumulator`), which are finished into the same statistics as the in-memory path: every
statistic bit for bit except Wasserstein, an estimate within `FeatureDrift.wasserstein_bound`
(docs/scale.md). Categorical features need no change: their counts are already aggregated by DuckDB.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import duckdb
import numpy as np

from driftwatch.stats.feature_drift import FeatureDrift, as_role
from driftwatch.stats.parallel import map_features
from driftwatch.stats.partials import Accumulator, finish
from driftwatch.stats.profile import NumericProfile, ReferenceProfile
from driftwatch.storage.window_batches import window_array_batches, window_row_count
from driftwatch.storage.windows import PlannedWindow, WindowArrays

OVERALL = "*"


def streams(
    cur: duckdb.DuckDBPyConnection, monitor: str, window: PlannedWindow, stream_rows: int | None
) -> bool:
    """True when the window holds more than `stream_rows` rows (one count); never without the setting."""
    return stream_rows is not None and window_row_count(cur, monitor, window) > stream_rows


def counted_numeric(numeric: Sequence[str], score_as: str | None, profile: ReferenceProfile) -> list[str]:
    """The features a window's partials count: the numeric ones the profile holds as numeric, then the score."""
    return [
        n
        for n in (*numeric, *((score_as,) if score_as else ()))
        if isinstance(profile.features.get(n), NumericProfile)
    ]


def segment_labels(segments: Mapping[str, Sequence[str]]) -> list[str]:
    """'*' then 'column=value' for every configured segment value: the labels a window's results are kept by."""
    return [OVERALL, *(f"{seg}={value}" for seg, values in segments.items() for value in values)]


def streamed_numeric_statistics(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    window: PlannedWindow,
    numeric: Sequence[str],
    score_as: str | None,
    segments: Mapping[str, Sequence[str]],
    profile: ReferenceProfile,
    batch_rows: int,
) -> tuple[dict[str, list[FeatureDrift]], dict[str, int]]:
    """Per segment label ('*', 'column=value'): the numeric features' statistics, in the order of `numeric`
    (then the score), and the label's rows."""
    names = counted_numeric(numeric, score_as, profile)
    labels = segment_labels(segments)
    accumulators = {name: {label: Accumulator(profile.features[name]) for label in labels} for name in names}
    rows = dict.fromkeys(labels, 0)
    for batch in window_array_batches(cur, monitor, window, numeric, segments, score_as, batch_rows):
        masks = segment_masks(batch, segments)
        rows[OVERALL] += batch.rows
        for label, mask in masks.items():
            rows[label] += int(np.count_nonzero(mask))
        jobs = [
            functools.partial(_count_batch, batch.numeric[name], masks, accumulators[name]) for name in names
        ]
        map_features(jobs, batch.rows)
    drift = {
        label: [
            as_role(finish(accumulators[name][label].partial(), profile.features[name])) for name in names
        ]
        for label in labels
    }
    return drift, rows


def segment_masks(batch: WindowArrays, segments: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    """Each segment label's rows of the batch (codes are 1-based positions in the segment's values)."""
    return {
        f"{seg}={value}": batch.segment_codes[seg] == j
        for seg, values in segments.items()
        for j, value in enumerate(values, start=1)
    }


def _count_batch(
    values: np.ndarray, masks: Mapping[str, np.ndarray], accumulators: Mapping[str, Accumulator]
) -> None:
    """One feature's batch into its accumulators: all rows, then each segment's (one thread per feature)."""
    accumulators[OVERALL].add_values(values)
    for label, mask in masks.items():
        accumulators[label].add_values(values[mask])
