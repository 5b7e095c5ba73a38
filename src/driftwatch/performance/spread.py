"""The reference's own window-to-window spread of a metric, beyond sampling error (a random-effects τ²).

Real data is not a stream of independent draws from one population: the mix of customers drifts a little from
week to week, so a metric moves between windows by more than its sampling error says. A verdict that ignores this
raises false alarms on real data that it would not raise on a simulation. We measure it on the reference: cut the
reference file, in its row order, into ``chunks`` consecutive pieces, compute the metric and its analytic
variance vᵢ on each, and estimate the between-piece variance with the DerSimonian–Laird moment estimator

    w_i = 1 / v_i,  m = Σ w_i a_i / Σ w_i,  Q = Σ w_i (a_i − m)²,
    τ² = max(0, (Q − (k − 1)) / (Σ w_i − Σ w_i² / Σ w_i))

(DerSimonian & Laird 1986, "Meta-analysis in clinical trials", Controlled Clinical Trials 7:177–188, eq. 3).
Under pure sampling noise Q ~ χ²(k − 1) and τ² is 0 about half the time; when pieces differ by more, τ² says by how
much, in metric units and independent of the piece size. The verdict adds τ² to the variance of the difference.

The row order must mean something (time, or random): a reference sorted by the target or by the score would make
every piece look different. Two guards refuse to measure then (τ² = 0, with a note): the class shares of the
pieces differ beyond chance (χ² homogeneity test, p < 0.001), or the score is strongly monotone in row order
(|Spearman ρ| between row position and score > 0.5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import chdtrc  # χ² survival function, without importing scipy.stats

from driftwatch.performance.metrics import (
    REGRESSION,
    BinaryData,
    MulticlassData,
    compute_metrics,
    prepare_task_data,
    usable_rows,
)
from driftwatch.performance.uncertainty import metric_intervals

DEFAULT_CHUNKS = 20
MIN_CHUNKS = 10  # fewer defined pieces than this and τ² would be mostly noise
MIN_CHUNK_ROWS = 100
SORTED_RHO = 0.5
SORTED_P = 0.001


@dataclass(frozen=True)
class Spread:
    """τ² per metric (metric units squared; absent = not measured) and why it was not measured, if so."""

    tau2: dict[str, float]
    note: str = ""


def dersimonian_laird(values: NDArray[np.float64], variances: NDArray[np.float64]) -> float:
    """τ² of the DerSimonian–Laird estimator (see the module docstring); NaN below 2 pieces."""
    if values.size < 2:
        return math.nan
    w = 1.0 / variances
    mean = float(w @ values / w.sum())
    q = float(w @ (values - mean) ** 2)
    denominator = float(w.sum() - (w @ w) / w.sum())
    return max(0.0, (q - (values.size - 1)) / denominator) if denominator > 0 else math.nan


def _spearman_with_position(score: NDArray[np.float64]) -> float:
    if score.size < 3 or np.all(score == score[0]):
        return 0.0
    ranks = np.empty(score.size)
    ranks[np.argsort(score, kind="stable")] = np.arange(score.size)
    return float(np.corrcoef(np.arange(score.size), ranks)[0, 1])


def _class_shares_differ(class_index: NDArray[np.intp], bounds: Sequence[tuple[int, int]]) -> bool:
    """χ² test of homogeneity of the class counts across pieces; True when p < SORTED_P."""
    n_classes = int(class_index.max()) + 1 if class_index.size else 0
    if n_classes < 2:
        return False
    table = np.array([np.bincount(class_index[a:b], minlength=n_classes) for a, b in bounds], dtype=float)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    keep = expected > 0
    statistic = float(((table - expected)[keep] ** 2 / expected[keep]).sum())
    dof = (table.shape[0] - 1) * (n_classes - 1)
    return bool(chdtrc(dof, statistic) < SORTED_P)


def reference_spread(
    task: str,
    y_true: Any,
    y_score_or_pred: Any,
    metrics: Sequence[str],
    *,
    threshold: float = 0.5,
    chunks: int = DEFAULT_CHUNKS,
) -> Spread:
    """τ² of each of ``metrics`` over ``chunks`` consecutive pieces of the reference rows (in file order).

    Only metrics with an analytic standard error are measured (``uncertainty.ANALYTIC_STDERR``); pieces where
    the metric or its variance is undefined or 0 are left out, and with fewer than ``MIN_CHUNKS`` pieces left
    the metric gets no τ². The reference needs ``chunks × MIN_CHUNK_ROWS`` usable rows.
    """
    truth = np.asarray(y_true)
    score = np.asarray(y_score_or_pred)
    keep = usable_rows(truth, score)
    truth, score = truth[keep], score[keep]
    n = int(truth.size)
    if n < chunks * MIN_CHUNK_ROWS:
        return Spread({}, f"reference has {n:,} usable rows, fewer than {chunks * MIN_CHUNK_ROWS:,}")
    edges = np.linspace(0, n, chunks + 1).astype(int)
    bounds = list(zip(edges[:-1], edges[1:], strict=True))
    if task != REGRESSION:
        data = prepare_task_data(task, truth, score, threshold=threshold)
        if isinstance(data, BinaryData):
            index = data.positive.astype(np.intp)
        else:
            assert isinstance(data, MulticlassData)
            index = data.true_index
        if _class_shares_differ(index, bounds):
            return Spread({}, "reference rows look sorted by class (class shares differ between pieces)")
    if score.ndim == 1 and score.dtype.kind in "iuf":
        rho = _spearman_with_position(np.asarray(score, dtype=np.float64))
        if abs(rho) > SORTED_RHO:
            return Spread(
                {}, f"reference rows look sorted by the score (Spearman ρ {rho:.2f} with row order)"
            )
    values: dict[str, list[float]] = {m: [] for m in metrics}
    variances: dict[str, list[float]] = {m: [] for m in metrics}
    for a, b in bounds:
        piece_values = compute_metrics(task, truth[a:b], score[a:b], threshold=threshold)
        intervals = metric_intervals(task, truth[a:b], score[a:b], threshold=threshold, n_boot=0)
        for metric in metrics:
            value, stderr = piece_values[metric], intervals[metric].stderr
            if math.isfinite(value) and math.isfinite(stderr) and stderr > 0:
                values[metric].append(value)
                variances[metric].append(stderr**2)
    tau2 = {
        m: dersimonian_laird(np.array(values[m]), np.array(variances[m]))
        for m in metrics
        if len(values[m]) >= MIN_CHUNKS
    }
    return Spread({m: t for m, t in tau2.items() if math.isfinite(t)})
