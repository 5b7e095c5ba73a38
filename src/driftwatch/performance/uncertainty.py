"""Sampling uncertainty of the realized metrics: seeded bootstrap intervals and cheap analytic standard errors.

- Interval (low, high): percentile bootstrap at ``confidence`` (default 95 %) over ``n_boot`` (default 200)
  resamples of the window's rows, drawn with one seeded ``numpy.random.Generator``, so a rerun gives the same
  interval. Resamples are row-weight vectors (draw counts), evaluated by the same weighted metric code as the
  point estimate, a chunk of resamples at a time (memory ≈ 32 MB per chunk whatever the window size).
  AUC resamples are stratified by class (positives and negatives, or each class for one-vs-rest), so every
  resample has the classes the AUC needs and the interval conditions on the observed class counts.
- Standard error: analytic where cheap, else the bootstrap standard deviation (``ANALYTIC_STDERR`` lists
  which). With ``n_boot=0`` the interval is the normal one, value ± z·stderr, where a stderr exists.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtri  # norm.ppf, without importing scipy.stats

from driftwatch.performance.metrics import (
    METRICS_BY_TASK,
    BinaryData,
    MulticlassData,
    TaskData,
    mean_terms,
    prepare_task_data,
    weighted_metrics,
)

DEFAULT_N_BOOT = 200
DEFAULT_CONFIDENCE = 0.95
# Cap on resamples × rows held at once (float64): bounds memory to ~32 MB for any window size.
_CHUNK_CELLS = 4_000_000
# A percentile interval from fewer than half the resamples (the rest undefined) would be a guess.
_MIN_FINITE_SHARE = 0.5

ANALYTIC_STDERR: dict[str, str] = {
    "roc_auc": "DeLong, DeLong & Clarke-Pearson (1988): structural components, ties counted 1/2",
    "accuracy": "s/sqrt(n) of the 0/1 correctness (binomial)",
    "precision": "binomial on the predicted positives: sqrt(p(1-p)/(TP+FP))",
    "recall": "binomial on the actual positives: sqrt(r(1-r)/(TP+FN))",
    "f1": "delta method for the ratio 2TP/(2TP+FP+FN) of row means",
    "log_loss": "s/sqrt(n) of the per-row losses (CLT)",
    "brier": "s/sqrt(n) of the per-row squared errors (CLT)",
    "mae": "s/sqrt(n) of |e| (CLT)",
    "mape": "s/sqrt(n) of |e|/max(|y|, eps) (CLT)",
    "rmse": "delta method: se(mean e^2) / (2 rmse)",
}

_STRATIFIED = frozenset({"roc_auc", "roc_auc_ovr_macro"})


class Interval(NamedTuple):
    """Confidence interval (low, high) and standard error of one metric; NaN where undefined."""

    low: float
    high: float
    stderr: float


def binomial_stderr(proportion: float, n: float) -> float:
    """se = sqrt(p (1 − p) / n), the normal-approximation standard error of a proportion; NaN if n = 0."""
    if n <= 0 or not np.isfinite(proportion):
        return float("nan")
    return float(np.sqrt(proportion * (1.0 - proportion) / n))


def delong_variance(positive: NDArray[np.bool_], score: NDArray[np.float64]) -> float:
    """DeLong variance of the Mann–Whitney ROC AUC (ties ½); NaN with fewer than 2 positives or 2 negatives.

    Structural components: V10_i = (1/n0) Σ_j ψ(x_i, y_j) for each positive score x_i, V01_j = (1/n1) Σ_i
    ψ(x_i, y_j) for each negative score y_j, ψ = 1, ½, 0 for x > y, x = y, x < y; then
    Var(AUC) = S10/n1 + S01/n0, S10, S01 the sample variances (ddof 1) of V10 and V01. Source: DeLong,
    DeLong & Clarke-Pearson (1988), "Comparing the areas under two or more correlated receiver operating
    characteristic curves: a nonparametric approach", Biometrics 44:837–845, eqs. (2)–(5); computed in
    O(n log n) by sorting, as Sun & Xu (2014, IEEE Signal Processing Letters 21:1389) do with mid-ranks.
    Unlike Hanley & McNeil's formula it assumes no score distribution, so it holds near AUC 1 too.
    """
    n1 = int(np.count_nonzero(positive))
    n0 = positive.size - n1
    if n1 < 2 or n0 < 2:
        return float("nan")
    v10, v01 = delong_components(positive, score)
    return float(np.var(v10, ddof=1) / n1 + np.var(v01, ddof=1) / n0)


def delong_components(
    positive: NDArray[np.bool_], score: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """DeLong's structural components (V10 per positive, V01 per negative), in the rows' own order, so two
    scores of the same rows can be paired (the correlated-AUC test of DeLong et al. 1988, eq. (5))."""
    pos, neg = score[positive], score[~positive]
    pos_sorted, neg_sorted = np.sort(pos), np.sort(neg)
    # #negatives below x plus half of those tied with x, for every positive x (and mirrored for negatives).
    v10 = (np.searchsorted(neg_sorted, pos, "left") + np.searchsorted(neg_sorted, pos, "right")) / (
        2.0 * neg.size
    )
    v01 = 1.0 - (np.searchsorted(pos_sorted, neg, "left") + np.searchsorted(pos_sorted, neg, "right")) / (
        2.0 * pos.size
    )
    return v10, v01


def ratio_stderr(numerator: NDArray[np.float64], denominator: NDArray[np.float64]) -> float:
    """Delta-method standard error of R = mean(u) / mean(v) from per-row u, v: the linearisation
    R̂ − R ≈ mean(u − R v) / mean(v) gives se² = s²(u − R̂ v) / (n · mean(v)²) (Cochran 1977, "Sampling
    Techniques", §6.3, the ratio estimator). NaN below 2 rows or when mean(v) = 0."""
    n = numerator.size
    v_mean = float(denominator.mean()) if n else 0.0
    if n < 2 or v_mean == 0.0:
        return float("nan")
    ratio = float(numerator.mean()) / v_mean
    residual = numerator - ratio * denominator
    return float(np.sqrt(np.var(residual, ddof=1) / n) / v_mean)


def proportion_counts(data: TaskData) -> dict[str, int]:
    """The denominator n of each metric that is a proportion k/n of rows: accuracy (all rows), precision
    (predicted positives), recall (actual positives). The verdict's Wilson bounds need it."""
    if isinstance(data, BinaryData):
        return {
            "accuracy": data.n,
            "precision": int(data.predicted.sum()),
            "recall": int(data.positive.sum()),
        }
    if isinstance(data, MulticlassData):
        return {"accuracy": data.n}
    return {}


def bootstrap_weights(rng: np.random.Generator, n: int, k: int) -> NDArray[np.float64]:
    """(k, n) draw counts of k ordinary bootstrap resamples of n rows (each row sums to n)."""
    if n == 0:
        return np.zeros((k, 0))
    draws = rng.integers(0, n, size=(k, n)) + (np.arange(k) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=k * n).reshape(k, n).astype(np.float64)


def stratified_bootstrap_weights(
    rng: np.random.Generator, strata: NDArray[np.integer[Any]], k: int
) -> NDArray[np.float64]:
    """(k, n) draw counts of k resamples that redraw each stratum's rows within it, keeping stratum sizes."""
    weights = np.zeros((k, strata.size))
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        weights[:, members] = bootstrap_weights(rng, members.size, k)
    return weights


def _strata(data: TaskData) -> NDArray[np.intp]:
    if isinstance(data, BinaryData):
        return data.positive.astype(np.intp)
    if isinstance(data, MulticlassData):
        return data.true_index
    return np.zeros(data.n, dtype=np.intp)


def _analytic_stderr(data: TaskData, values: dict[str, float]) -> dict[str, float]:
    n = data.n
    out: dict[str, float] = {}
    terms = mean_terms(data)
    for name, term in terms.items():
        out[name] = float(np.std(term, ddof=1) / np.sqrt(n)) if n >= 2 else float("nan")
    if "squared_error" in out:
        mse_se = out.pop("squared_error")
        rmse = values.get("rmse", float("nan"))
        out["rmse"] = mse_se / (2.0 * rmse) if rmse > 0 else float("nan")
    if isinstance(data, BinaryData):
        n_pos = int(data.positive.sum())
        predicted_pos = int(data.predicted.sum())
        auc_variance = delong_variance(data.positive, data.score)
        out["roc_auc"] = float(np.sqrt(max(auc_variance, 0.0))) if np.isfinite(auc_variance) else math.nan
        out["precision"] = binomial_stderr(values["precision"], predicted_pos)
        out["recall"] = binomial_stderr(values["recall"], n_pos)
        tp = (data.positive & data.predicted).astype(np.float64)
        wrong = (data.positive != data.predicted).astype(np.float64)  # FP + FN, one per row at most
        out["f1"] = ratio_stderr(2.0 * tp, 2.0 * tp + wrong)
    return {name: se for name, se in out.items() if name in values}


def _bootstrap_samples(task: str, data: TaskData, n_boot: int, seed: int) -> dict[str, NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    task_metrics = METRICS_BY_TASK[task]
    plain = tuple(m for m in task_metrics if m not in _STRATIFIED)
    stratified = tuple(m for m in task_metrics if m in _STRATIFIED)
    strata = _strata(data)
    chunk = max(1, min(n_boot, _CHUNK_CELLS // max(data.n, 1)))
    parts: dict[str, list[NDArray[np.float64]]] = {m: [] for m in task_metrics}
    done = 0
    while done < n_boot:
        k = min(chunk, n_boot - done)
        for names, weights in (
            (plain, bootstrap_weights(rng, data.n, k) if plain else None),
            (stratified, stratified_bootstrap_weights(rng, strata, k) if stratified else None),
        ):
            if weights is not None:
                for name, values in weighted_metrics(data, weights, names).items():
                    parts[name].append(values)
        done += k
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def metric_intervals(
    task: str,
    y_true: ArrayLike,
    y_score_or_pred: ArrayLike,
    *,
    threshold: float = 0.5,
    positive_label: Any = 1,
    classes: Sequence[Any] | NDArray[Any] | None = None,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, Interval]:
    """Interval(low, high, stderr) for every metric of ``task`` (same keys and inputs as ``compute_metrics``).

    low/high: the (1 − confidence)/2 and (1 + confidence)/2 quantiles (numpy's linear method) of the metric over
    ``n_boot`` bootstrap resamples (percentile bootstrap; Efron & Tibshirani 1993, ch. 13), using the finite
    resample values; NaN if the point value is NaN or fewer than half the resamples are finite.
    stderr: see ``ANALYTIC_STDERR``; otherwise the resamples' standard deviation (ddof=1).
    With ``n_boot=0``: no resampling; low/high = value ∓ z·stderr with z = Φ⁻¹((1 + confidence)/2).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    data = prepare_task_data(
        task, y_true, y_score_or_pred, threshold=threshold, positive_label=positive_label, classes=classes
    )
    values = {name: float(v[0]) for name, v in weighted_metrics(data, np.ones((1, data.n))).items()}
    analytic = _analytic_stderr(data, values) if data.n else {}
    samples = _bootstrap_samples(task, data, n_boot, seed) if n_boot and data.n else {}
    z = float(ndtri(0.5 + confidence / 2.0))
    alpha = 1.0 - confidence
    out: dict[str, Interval] = {}
    for name in METRICS_BY_TASK[task]:
        value = values[name]
        nan = float("nan")
        if not np.isfinite(value):
            out[name] = Interval(nan, nan, nan)
            continue
        stderr = analytic.get(name, nan)
        low = high = nan
        if name in samples:
            finite = samples[name][np.isfinite(samples[name])]
            if finite.size >= max(2, _MIN_FINITE_SHARE * n_boot):
                low, high = (float(q) for q in np.quantile(finite, [alpha / 2.0, 1.0 - alpha / 2.0]))
                if name not in analytic:
                    stderr = float(np.std(finite, ddof=1))
        elif np.isfinite(stderr):
            low, high = value - z * stderr, value + z * stderr
        out[name] = Interval(low, high, stderr)
    return out
