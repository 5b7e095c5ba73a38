"""A window's decision with thresholds learned from the reference: the call the pipeline, roll-ups and
`compare` share.

PSI of a pure-noise window grows as the window shrinks and as the reference's categories get rarer (a
20-category feature at 300 rows crosses the fixed 0.1 bar by chance in about a quarter of the windows), and
so does the JS distance that backs the chi² rule. So each feature's PSI bars (and a categorical feature's JS
floors) are raised, never lowered, to quantiles of that statistic over no-drift samples of the window's size
drawn from the reference (``learn_counts_threshold``): the warn bar to ``learned_quantile`` (0.99), the drift
bar to ``learned_drift_quantile`` (0.999). Learning needs only the profile's bin counts, so it is cheap
(milliseconds), and it is cached per reference counts × window size class.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from driftwatch.stats.decision import Thresholds, WindowDecision, decide_window
from driftwatch.stats.feature_drift import FeatureDrift
from driftwatch.stats.profile import ReferenceProfile
from driftwatch.stats.psi import PSI_EPSILON
from driftwatch.stats.reference_thresholds import (
    DEFAULT_COUNT_SPLITS,
    LearnedThreshold,
    learn_counts_threshold,
    window_size_class,
)

LEARNED_SEED = 20_240_601
"""Fixed, so a window's learned bars and thus its status are the same on every run and every re-run."""


def psi_rows(reference: NDArray[np.int64], current: NDArray[np.int64]) -> NDArray[np.float64]:
    """``stats.psi.psi`` of each row pair of two count matrices (same flooring; summed without fsum)."""
    ref = reference / reference.sum(axis=1, keepdims=True)
    cur = current / current.sum(axis=1, keepdims=True)
    ref = np.maximum(ref, PSI_EPSILON)
    cur = np.maximum(cur, PSI_EPSILON)
    rows: NDArray[np.float64] = np.sum((cur - ref) * np.log(cur / ref), axis=1)
    return rows


def js_distance_rows(reference: NDArray[np.int64], current: NDArray[np.int64]) -> NDArray[np.float64]:
    """``stats.distances.js_distance`` of each row pair, in the same cancellation-free form."""
    p = reference / reference.sum(axis=1, keepdims=True)
    q = current / current.sum(axis=1, keepdims=True)
    total = p + q
    used = total > 0
    d = np.divide(p - q, total, out=np.zeros_like(total), where=used)
    inner = np.where(np.abs(d) == 1.0, 0.0, d)
    g = np.where(
        np.abs(d) == 1.0, 2.0 * math.log(2.0), 2.0 * inner * np.arctanh(inner) + np.log1p(-inner * inner)
    )
    divergence = 0.5 * np.sum(np.where(used, 0.5 * total * g, 0.0), axis=1)
    rows: NDArray[np.float64] = np.minimum(np.sqrt(np.maximum(divergence, 0.0) / math.log(2.0)), 1.0)
    return rows


_ROW_STATISTICS: dict[str, Callable[[NDArray[np.int64], NDArray[np.int64]], NDArray[np.float64]]] = {
    "psi": psi_rows,
    "js_distance": js_distance_rows,
}


@lru_cache(maxsize=4096)
def _learned(
    statistic: str, counts: tuple[int, ...], size_class: int, quantile: float, drift_quantile: float
) -> LearnedThreshold:
    return learn_counts_threshold(
        np.array(counts, dtype=np.int64),
        size_class,
        _ROW_STATISTICS[statistic],
        statistic_name=statistic,
        n_splits=DEFAULT_COUNT_SPLITS,
        quantile=quantile,
        drift_quantile=drift_quantile,
        seed=LEARNED_SEED,
    )


def learned_threshold(
    statistic: str,
    reference_counts: NDArray[np.int64],
    window_rows: int,
    quantile: float,
    drift_quantile: float,
) -> LearnedThreshold | None:
    """The learned warn (``quantile``) and drift (``drift_quantile``) bars of ``statistic`` ("psi" or
    "js_distance") for a window of ``window_rows`` rows, learned at the window's size class. None when the
    window is empty or larger than half the reference (there is then no "rest" of comparable size)."""
    counts = tuple(int(c) for c in np.asarray(reference_counts, dtype=np.int64))
    if window_rows < 1:
        return None
    size_class = window_size_class(window_rows)
    if 2 * size_class > sum(counts):
        return None
    return _learned(statistic, counts, size_class, quantile, drift_quantile)


def judge_window(
    features: Sequence[FeatureDrift],
    reference_counts: Mapping[str, NDArray[np.int64]],
    thresholds: Thresholds,
) -> WindowDecision:
    """``decide_window`` over the features, with learned bars when ``thresholds.learned_thresholds``.

    ``reference_counts`` maps a feature's name to its reference profile's bin counts (the layout its PSI
    uses); a feature missing from it is judged on the fixed bars alone.
    """
    learned: dict[str, list[LearnedThreshold]] = {}
    if thresholds.learned_thresholds:
        for feature in features:
            counts = reference_counts.get(feature.name)
            if counts is None or feature.rows < thresholds.min_rows:
                continue
            # JS is the effect size behind the chi² rule, so categorical features learn it too; a numeric
            # feature's KS rule needs nothing learned (its p-value is exact and D's floor is fixed).
            wanted = ("psi", "js_distance") if feature.kind == "categorical" else ("psi",)
            found = [
                learned_threshold(
                    s, counts, feature.rows, thresholds.learned_quantile, thresholds.learned_drift_quantile
                )
                for s in wanted
            ]
            learned[feature.name] = [t for t in found if t is not None]
    return decide_window([f.decision_input() for f in features], thresholds, learned)


def reference_counts(profile: ReferenceProfile) -> dict[str, NDArray[np.int64]]:
    """Each profiled feature's reference bin counts, by name: what ``judge_window`` learns from."""
    return {name: feature.bin_counts for name, feature in profile.features.items()}
