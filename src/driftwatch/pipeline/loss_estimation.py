"""Estimated MAE and RMSE of a regression monitor's windows before their labels arrive (Direct Loss Estimation).

The loss models (`performance.loss_estimation`) are fit on the reference's features, prediction and target once
per process and kept in memory, keyed by the reference profile id (which fingerprints the reference file and
its features) and the performance reference id (its target and prediction columns): a changed reference refits
them. They are never stored: a pickled model in the database would be code run on load, and refitting costs
seconds once per process. Each window's estimate reads the window's own prediction rows' features
(`storage.labels.window_label_rows`), so it exists as soon as the predictions do; the realized MAE/RMSE
replace nothing and are stored beside it once labels arrive. docs/performance.md ("Estimation for regression models").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa

from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.config.performance import REGRESSION
from driftwatch.errors import SourceError
from driftwatch.performance.loss_estimation import (
    REGRESSION_ESTIMATED,
    LossModel,
    encode_categories,
    estimate_losses,
    fit_loss_model,
)
from driftwatch.pipeline.fitted import LatestFit, floats
from driftwatch.pipeline.reference import reference_layout
from driftwatch.sources.files import Readable, first_line, read_source, source_file
from driftwatch.sources.reference_rows import reference_loss_rows
from driftwatch.storage.database import Database

if TYPE_CHECKING:
    from driftwatch.performance.baseline import Baseline

ESTIMATE_PREFIX = "estimated_"  # as pipeline.performance's CBPE rows
MAX_REFERENCE_ROWS = (
    20_000  # a repeatable sample beyond this: the fit is seconds, and the estimate barely moves
)
_SCORE = "_ref_score"
_FITS: LatestFit[LossEstimator | str] = LatestFit()  # a fitted estimator, or why there is none


@dataclass(frozen=True, eq=False)
class LossEstimator:
    """A fitted loss model and how to turn a window's stored feature columns into its input."""

    model: LossModel
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    categories: Mapping[str, tuple[str, ...]]  # categorical feature → the reference's values (their codes)

    @property
    def features(self) -> tuple[str, ...]:
        """The feature names in the order of the `x<i>` columns both reads produce."""
        return self.numeric + self.categorical

    def design(self, table: pa.Table) -> np.ndarray:
        """The (n, d) loss-model input of a table with `x<i>` columns (`design_of`)."""
        return design_of(table, len(self.numeric), self.categorical, self.categories)


def design_of(
    table: pa.Table, n_numeric: int, categorical: tuple[str, ...], categories: Mapping[str, tuple[str, ...]]
) -> np.ndarray:
    """Numbers as float (missing: NaN), then categories coded by the reference's values (a value the reference
    never had is NaN, as missing: the trees' missing-value branch)."""
    columns = [floats(table.column(f"x{i}")) for i in range(n_numeric)]
    for j, name in enumerate(categorical):
        values = table.column(f"x{n_numeric + j}").to_pylist()
        columns.append(encode_categories([None if v is None else str(v) for v in values], categories[name]))
    design = np.column_stack(columns) if columns else np.zeros((table.num_rows, 0))
    # Ingest refuses ±inf (docs/values.md); one stored by an older version counts as missing, as for the score.
    return np.where(np.isinf(design), np.nan, design)


def fitted_loss_model(
    db: Database, monitor: MonitorConfig, reference_id: str | None, features: FeatureSpec, profile_id: str
) -> LossEstimator | str | None:
    """The monitor's fitted loss model, or the note why there is none; None when DLE does not apply (not a
    regression monitor, or its reference has no target or prediction: ``reference_id`` is None)."""
    ref = monitor.reference
    if monitor.task != REGRESSION or reference_id is None or ref.target is None or ref.prediction is None:
        return None
    if not features.names:
        return "no loss estimate: the monitor has no features"
    key = (str(db.path), monitor.name, profile_id, reference_id)
    return _FITS.get(key, lambda: _fit(db.cursor(), monitor, features))


def _fit(
    cur: duckdb.DuckDBPyConnection, monitor: MonitorConfig, features: FeatureSpec
) -> LossEstimator | str:
    ref = monitor.reference
    assert ref.target is not None and ref.prediction is not None
    layout = reference_layout(monitor, features, output=ref.target, extra_numeric={_SCORE: ref.prediction})

    def read(readable: Readable) -> pa.Table:
        return reference_loss_rows(cur, readable, layout, MAX_REFERENCE_ROWS)

    try:
        table = read_source(cur, source_file(ref.path, ref.format), read)
    except duckdb.Error as exc:
        raise SourceError(
            ref.path, f"cannot read the reference for the loss model: {first_line(exc)}"
        ) from None
    categories = {
        name: tuple(
            sorted(
                {str(v) for v in table.column(f"x{len(features.numeric) + j}").to_pylist() if v is not None}
            )
        )
        for j, name in enumerate(features.categorical)
    }
    design = design_of(table, len(features.numeric), features.categorical, categories)
    try:
        model = fit_loss_model(design, floats(table.column("score")), floats(table.column("truth")))
    except ValueError as exc:
        return f"no loss estimate: {exc}"
    return LossEstimator(model, features.numeric, features.categorical, categories)


def loss_estimate_rows(
    estimator: LossEstimator,
    design: np.ndarray,
    score: np.ndarray,
    baseline: Mapping[str, Baseline],
    shared: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The DLE estimates (`estimated_mae`, `estimated_rmse`) of one window × segment, each with the interval
    the realized value should fall in once labels arrive (performance.loss_estimation)."""
    predicted = int(np.isfinite(score).sum())
    estimates = estimate_losses(estimator.model, design, score)
    rows = []
    for metric in REGRESSION_ESTIMATED:
        value, interval = estimates[metric]
        base = baseline.get(metric)
        rows.append(
            {
                "metric": ESTIMATE_PREFIX + metric,
                "value": value,
                "low": interval.low,
                "high": interval.high,
                "stderr": interval.stderr,
                "status": "estimate",
                "reason": f"DLE estimate from {predicted:,} predictions, no labels; blind to concept drift",
                "baseline": base.value if base else None,
                **shared,
            }
        )
    return rows
