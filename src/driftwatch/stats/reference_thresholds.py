"""Thresholds learned from the reference's own sampling variability.

A fixed PSI threshold means something different at 300 rows and at 300,000: small windows are noisy, so
pure chance crosses it often. Here the reference itself shows how large a statistic gets with no drift at a
given window size: draw disjoint random samples of that size from the reference, compare each with the
rest of the reference, and take a high quantile of the results.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

DEFAULT_N_SPLITS = 500
"""500 null values put the 0.99 quantile between the 5th and 6th largest, so the false-alarm rate it
yields is 1 % ± about 0.45 % (binomial standard error sqrt(q(1 − q)/500))."""

DEFAULT_QUANTILE = 0.99
"""One false alarm per feature per ~100 windows of stationary data before any correction."""

DEFAULT_MAX_REFERENCE_SIZE = 200_000
"""Null variability scales with 1/n + 1/m (window n, reference m): past 200,000 reference rows the reference
term is negligible against any window worth judging, while the cost per split keeps growing with m."""

DEFAULT_WINDOW_TOLERANCE = 1.25
"""Window sizes within a factor 1.25 of the learned one reuse the threshold (see ``needs_recalibration``)."""

Statistic = Callable[[NDArray[Any], NDArray[Any]], float]


@dataclass(frozen=True, slots=True)
class LearnedThreshold:
    """The ``quantile`` of ``statistic`` over ``n_samples`` no-drift comparisons at ``window_size`` rows."""

    statistic: str
    value: float
    quantile: float
    window_size: int
    n_samples: int
    reference_size: int
    # A higher quantile for the drift bar (None: ``value`` raises both bars).
    drift_value: float | None = None
    drift_quantile: float | None = None


def learn_threshold(
    reference: ArrayLike,
    window_size: int,
    statistic: Statistic,
    *,
    statistic_name: str,
    n_splits: int = DEFAULT_N_SPLITS,
    quantile: float = DEFAULT_QUANTILE,
    seed: int = 0,
    max_reference_size: int = DEFAULT_MAX_REFERENCE_SIZE,
) -> LearnedThreshold:
    """The q-quantile of ``statistic(rest, sample)`` over random no-drift splits of the reference.

    Each round shuffles the reference and cuts it into disjoint samples of ``window_size`` values; each
    sample is compared with the rest of the reference, i.e. everything except that sample, so a sample is
    never compared with itself. Rounds repeat until ``n_splits`` samples were drawn. The threshold is
    ``numpy.quantile(values, quantile)`` (linear method) of the non-NaN results; NaN results (a statistic
    undefined on that split) are left out and ``n_samples`` counts those used. This is the subsampling
    estimate of the statistic's null distribution (Politis, Romano & Wolf, "Subsampling", 1999), with the
    rest standing in for the full reference a real window is compared with.

    ``reference`` is a 1-D array of the feature's values: floats for numeric features (keep NaN if the
    statistic has a missing bin), or categorical values / integer codes (``np.repeat(np.arange(K), counts)``
    rebuilds them from stored counts). Both ``rest`` and ``sample`` keep the reference's order, so a sorted
    reference gives sorted arguments. References longer than ``max_reference_size`` are first cut down to a
    seeded random subset of that size (order kept). The window must be at most half the (capped) reference,
    so the rest is never smaller than the sample.
    """
    values = np.asarray(reference)
    if values.ndim != 1:
        raise ValueError(f"reference must be 1-D, got shape {values.shape}")
    if not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    if n_splits < 1 or max_reference_size < 2:
        raise ValueError("n_splits must be >= 1 and max_reference_size >= 2")
    rng = np.random.default_rng(seed)
    if values.size > max_reference_size:
        values = values[np.sort(rng.choice(values.size, size=max_reference_size, replace=False))]
    size = values.size
    if window_size < 1 or 2 * window_size > size:
        raise ValueError(
            f"window_size must be in [1, {size // 2}] (half the reference used, {size} rows), got {window_size}"
        )

    per_round = size // window_size
    in_rest = np.ones(size, dtype=bool)
    results = np.empty(n_splits, dtype=np.float64)
    drawn = 0
    while drawn < n_splits:
        permutation = rng.permutation(size)
        for k in range(min(per_round, n_splits - drawn)):
            sample_index = np.sort(permutation[k * window_size : (k + 1) * window_size])
            in_rest[sample_index] = False
            results[drawn] = statistic(values[in_rest], values[sample_index])
            in_rest[sample_index] = True
            drawn += 1

    return _from_null_values(results, statistic_name, quantile, None, window_size, size)


def _from_null_values(
    results: NDArray[np.float64],
    statistic_name: str,
    quantile: float,
    drift_quantile: float | None,
    window_size: int,
    reference_size: int,
) -> LearnedThreshold:
    """The threshold at the quantile(s) of the non-NaN null values."""
    used = results[~np.isnan(results)]
    if used.size == 0:
        raise ValueError(f"statistic {statistic_name!r} was NaN on every split")
    return LearnedThreshold(
        statistic=statistic_name,
        value=float(np.quantile(used, quantile)),
        quantile=quantile,
        window_size=window_size,
        n_samples=int(used.size),
        reference_size=reference_size,
        drift_value=None if drift_quantile is None else float(np.quantile(used, drift_quantile)),
        drift_quantile=drift_quantile,
    )


def needs_recalibration(
    learned_window_size: int, new_window_size: int, tolerance: float = DEFAULT_WINDOW_TOLERANCE
) -> bool:
    """True when ``new_window_size / learned_window_size`` lies outside [1/tolerance, tolerance].

    Null statistics shrink with the window (KS D and JS distance like 1/sqrt(n), PSI like 1/n), so a
    threshold learned at another size has another false-alarm rate. At q = 0.99 a window 0.8× the learned
    size already sees about 3 % (D) to 4 % (PSI) false alarms instead of 1 %, and 0.5× sees 14 % to 29 %;
    a window 1.25× the size sees 0.1–0.3 %, i.e. it loses sensitivity. Hence the default 1.25.
    """
    if learned_window_size < 1:
        raise ValueError(f"learned_window_size must be >= 1, got {learned_window_size}")
    if tolerance < 1.0:
        raise ValueError(f"tolerance must be >= 1, got {tolerance!r}")
    ratio = new_window_size / learned_window_size
    return not (1.0 / tolerance <= ratio <= tolerance)


SIZE_CLASS_STEP = 2.0**0.125
"""Window sizes are rounded to a geometric grid with this ratio before learning, so windows of nearly the same
size share one learned threshold (and a cache entry), and the rounding moves the size by at most 4.4 %, well
inside ``DEFAULT_WINDOW_TOLERANCE``. The grid is fixed, so a window gets the same threshold in every run."""


def window_size_class(rows: int) -> int:
    """The grid size (a power of ``SIZE_CLASS_STEP``, rounded) nearest to ``rows`` on a log scale."""
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    return max(1, round(SIZE_CLASS_STEP ** round(math.log(rows) / math.log(SIZE_CLASS_STEP))))


CountsStatistic = Callable[[NDArray[np.int64], NDArray[np.int64]], NDArray[np.float64]]

DEFAULT_COUNT_SPLITS = 10_000
"""Learning from counts is cheap, so it draws enough samples for a 0.999 quantile too (between the 10th and
11th largest of 10,000 values)."""


def learn_counts_threshold(
    reference_counts: ArrayLike,
    window_size: int,
    statistic: CountsStatistic,
    *,
    statistic_name: str,
    n_splits: int = DEFAULT_COUNT_SPLITS,
    quantile: float = DEFAULT_QUANTILE,
    drift_quantile: float | None = None,
    seed: int = 0,
) -> LearnedThreshold:
    """As ``learn_threshold``, for a statistic of bin counts, from the reference's counts alone.

    A random sample of ``window_size`` reference rows drawn without replacement has multivariate
    hypergeometric bin counts, and the rest of the reference has ``reference_counts − sample``. So each
    split is one hypergeometric draw, compared with its own complement (never with itself), at a cost that
    depends on the number of bins, not on the reference's rows; the stored profile is all it needs. The
    null distribution is the same as ``learn_threshold``'s over the expanded rows (the tests check that).

    ``statistic(rest, samples)`` takes two (n_splits, bins) count matrices and returns one value per row.
    ``drift_quantile``, when given, also sets ``drift_value``, a second, higher bar from the same draws.
    """
    counts = np.asarray(reference_counts, dtype=np.int64)
    if counts.ndim != 1 or counts.size == 0 or np.any(counts < 0):
        raise ValueError("reference_counts must be a non-empty 1-D array of non-negative counts")
    for q in (quantile, drift_quantile if drift_quantile is not None else quantile):
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantiles must be in (0, 1), got {q!r}")
    if n_splits < 1:
        raise ValueError("n_splits must be >= 1")
    size = int(counts.sum())
    if window_size < 1 or 2 * window_size > size:
        raise ValueError(
            f"window_size must be in [1, {size // 2}] (half the reference's rows), got {window_size}"
        )
    rng = np.random.default_rng(seed)
    samples = rng.multivariate_hypergeometric(counts, window_size, size=n_splits, method="marginals")
    results = np.asarray(statistic(counts[np.newaxis, :] - samples, samples), dtype=np.float64)
    if results.shape != (n_splits,):
        raise ValueError(f"statistic returned shape {results.shape}, expected ({n_splits},)")
    return _from_null_values(results, statistic_name, quantile, drift_quantile, window_size, size)
