"""Estimated accuracy and macro precision/recall/F1/AUC of a multiclass monitor's windows before labels arrive.

Multiclass CBPE (`performance.multiclass_estimation`) on the per-class probabilities the monitor logs
(`predictions.probabilities`, stored as `p:<class>` columns with each prediction row). The per-class isotonic
calibrators are fit on the reference's probabilities and `target` once per process and kept in memory, keyed by
the reference profile id and the reference file's identity with the classes and target (a changed reference,
or a changed class list, refits them), with `MEMBERS` more sets fit on bootstrap resamples whose spread widens
each interval by the calibrators' own error. Like the regression loss model (`pipeline.loss_estimation`) they are
never stored: refitting costs seconds once per process, and nothing read back from the database is run as code.
Each window's estimate reads its own prediction rows' probabilities, so it exists as soon as the predictions do;
the realized metrics are stored beside it once labels arrive. docs/performance.md ("Estimation for multiclass
classifiers").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.performance import MULTICLASS
from driftwatch.errors import SourceError
from driftwatch.performance.metrics import compute_metrics
from driftwatch.performance.multiclass_estimation import (
    MULTICLASS_ESTIMATED,
    MulticlassCalibrator,
    estimate_multiclass,
    fit_multiclass_calibrator,
    multiclass_estimate_intervals,
)
from driftwatch.performance.uncertainty import Interval
from driftwatch.pipeline.fitted import LatestFit, floats
from driftwatch.sources.files import Readable, first_line, read_source, source_file
from driftwatch.sources.identity import reference_identity
from driftwatch.sources.logs import LogLayout
from driftwatch.sources.reference_probabilities import reference_class_rows
from driftwatch.storage.database import Database

if TYPE_CHECKING:
    from driftwatch.performance.baseline import Baseline

ESTIMATE_PREFIX = "estimated_"  # as pipeline.performance's binary CBPE rows
MAX_REFERENCE_ROWS = 50_000  # a repeatable sample beyond this: K isotonic fits of it take well under a second
INTERVAL_SEED = 0  # fixed: the same rows give the same interval, so a recomputation without change is a no-op
# The calibrators' own error: this many calibrator sets fit on seeded bootstrap resamples of the reference, whose
# spread of estimates widens each interval (see `multiclass_estimate_rows`). 20 gives the SD within ~±16 %.
MEMBERS = 20
MEMBER_ROWS = (
    20_000  # the members' spread is read on a seeded sample of a larger window (it barely depends on n)
)
_FITS: LatestFit[MulticlassEstimator | str] = LatestFit()  # a fitted estimator, or why there is none


@dataclass(frozen=True, eq=False)
class MulticlassEstimator:
    """The fitted per-class calibrators, and the reference's own realized metrics (each estimate's baseline)."""

    calibrator: MulticlassCalibrator
    classes: tuple[str, ...]
    rows: int  # reference rows the calibrators were fit on
    baseline: Mapping[str, float]
    members: tuple[MulticlassCalibrator, ...] = ()  # fit on bootstrap resamples of the same rows


def fitted_multiclass_estimator(
    db: Database, monitor: MonitorConfig, profile_id: str
) -> MulticlassEstimator | str | None:
    """The monitor's fitted calibrators, or the note why there are none; None when multiclass CBPE does not
    apply (not a multiclass monitor, or no `predictions.probabilities`)."""
    classes = monitor.predictions.probabilities
    ref = monitor.reference
    if monitor.task != MULTICLASS or not classes or ref.target is None:
        return None
    settings = {
        "target": ref.target,
        "format": ref.format,
        "classes": [[c.name, c.column, *c.path] for c in classes],
    }
    key = (str(db.path), monitor.name, profile_id, reference_identity(ref.path, settings))
    return _FITS.get(key, lambda: _fit(db.cursor(), monitor))


def _fit(cur: duckdb.DuckDBPyConnection, monitor: MonitorConfig) -> MulticlassEstimator | str:
    ref = monitor.reference
    layout = LogLayout(
        id=None,
        timestamp=None,
        numeric=(),
        categorical=(),
        output=ref.target,
        probabilities=monitor.predictions.probabilities,
    )

    def read(readable: Readable) -> pa.Table:
        return reference_class_rows(cur, readable, layout, MAX_REFERENCE_ROWS)

    try:
        table = read_source(cur, source_file(ref.path, ref.format), read)
    except duckdb.Error as exc:
        raise SourceError(
            ref.path, f"cannot read the reference's class probabilities: {first_line(exc)}"
        ) from None
    names = tuple(c.name for c in monitor.predictions.probabilities)
    reasons = table.column("reason")
    good = pc.invert(pc.is_valid(reasons))
    refused = table.num_rows - int(pc.sum(good).as_py() or 0)
    table = table.filter(pc.and_(good, pc.is_valid(table.column("truth"))))
    proba = probability_matrix(table, len(names))
    truth = np.asarray(table.column("truth").to_pylist(), dtype=object)
    try:
        calibrator = fit_multiclass_calibrator(proba, truth, names)
    except ValueError as exc:
        return f"no multiclass estimate: {exc}" + _refused_note(refused, reasons)
    baseline = _reference_metrics(truth, proba, names)
    return MulticlassEstimator(calibrator, names, int(truth.size), baseline, _members(proba, truth, names))


def _members(
    proba: np.ndarray, truth: np.ndarray, classes: tuple[str, ...]
) -> tuple[MulticlassCalibrator, ...]:
    """Calibrators fit on `MEMBERS` seeded bootstrap resamples (a resample that misses a class is skipped)."""
    rng = np.random.default_rng(INTERVAL_SEED)
    members = []
    for _ in range(MEMBERS):
        pick = rng.integers(0, truth.size, truth.size)
        try:
            members.append(fit_multiclass_calibrator(proba[pick], truth[pick], classes))
        except ValueError:
            continue
    return tuple(members)


def _refused_note(refused: int, reasons: pa.ChunkedArray) -> str:
    if not refused:
        return ""
    first = next(r for r in reasons.to_pylist() if r is not None)
    return f" ({refused:,} reference row(s) refused, e.g. {first})"


def _reference_metrics(truth: np.ndarray, proba: np.ndarray, classes: tuple[str, ...]) -> dict[str, float]:
    """The reference's realized metrics of the arg-max decision: the level each estimate is read against.
    Rows are renormalised first (ingest accepts sums within config.probabilities.SUM_TOLERANCE; the metrics
    want 1 within 1e-4); the arg-max does not move."""
    normalised = proba / proba.sum(axis=1, keepdims=True)
    values = compute_metrics(MULTICLASS, truth, normalised, classes=list(classes))
    return {m: float(values[m]) for m in MULTICLASS_ESTIMATED if np.isfinite(values[m])}


def probability_matrix(table: pa.Table, n_classes: int) -> np.ndarray:
    """The (n, K) matrix of a window read's `q<i>` columns (`storage.labels.window_label_rows`); NaN where a
    row was stored before its class was configured (such rows are left out of the estimate)."""
    return np.column_stack([floats(table.column(f"q{i}")) for i in range(n_classes)])


def multiclass_estimate_rows(
    estimator: MulticlassEstimator,
    proba: np.ndarray,
    baseline: Mapping[str, Baseline],
    shared: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The multiclass CBPE estimates (`estimated_accuracy`, `estimated_f1_macro`, ...) of one window ×
    segment, each with the interval the realized value should fall in once labels arrive."""
    complete = np.isfinite(proba).all(axis=1)
    used = int(complete.sum())
    estimates = estimate_multiclass(estimator.calibrator, proba[complete])
    intervals = multiclass_estimate_intervals(estimator.calibrator, proba[complete], seed=INTERVAL_SEED)
    spread = calibrator_spread(estimator.members, proba[complete])
    rows = []
    for metric in MULTICLASS_ESTIMATED:
        base = baseline.get(metric)
        low, high, stderr = widened(estimates[metric], intervals[metric], spread.get(metric, 0.0))
        rows.append(
            {
                "metric": ESTIMATE_PREFIX + metric,
                "value": estimates[metric],
                "low": low,
                "high": high,
                "stderr": stderr,
                "status": "estimate",
                "reason": f"multiclass CBPE estimate from {used:,} rows' class probabilities, no labels; "
                "blind to concept drift",
                "baseline": base.value if base else estimator.baseline.get(metric),
                **shared,
            }
        )
    return rows


def calibrator_spread(members: tuple[MulticlassCalibrator, ...], proba: np.ndarray) -> dict[str, float]:
    """Per metric, the SD of the estimate over the bootstrap calibrators: the calibrators' own error, which the
    label draws leave out (read on a seeded sample of at most `MEMBER_ROWS` rows of a larger window)."""
    if len(members) < 2 or proba.shape[0] == 0:
        return {}
    if proba.shape[0] > MEMBER_ROWS:
        pick = np.random.default_rng(INTERVAL_SEED).choice(proba.shape[0], MEMBER_ROWS, replace=False)
        proba = proba[np.sort(pick)]
    draws = [estimate_multiclass(member, proba) for member in members]
    out = {}
    for metric in MULTICLASS_ESTIMATED:
        values = np.array([d[metric] for d in draws])
        values = values[np.isfinite(values)]
        if values.size >= 2:
            out[metric] = float(np.std(values, ddof=1))
    return out


def widened(value: float, interval: Interval, calibrator_sd: float) -> tuple[float, float, float]:
    """The label-draw interval widened for the calibrators' error: both independent, so the variances add,
    stderr² = stderr_draws² + SD_calibrators², and each side of the (possibly skewed) percentile interval is
    stretched about the estimate by stderr / stderr_draws. (low, high, stderr); unchanged without a spread."""
    if not (calibrator_sd > 0.0 and math.isfinite(interval.stderr) and interval.stderr > 0.0):
        return interval.low, interval.high, interval.stderr
    stderr = math.hypot(interval.stderr, calibrator_sd)
    factor = stderr / interval.stderr
    return value - (value - interval.low) * factor, value + (interval.high - value) * factor, stderr
