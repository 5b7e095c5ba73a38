"""Numba kernels for performance estimation: arrays in, arrays out; no validation, no raising.

The checked wrapper is :func:`driftwatch.performance.estimation.fit_isotonic`.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from driftwatch.kernels._options import NJIT_OPTIONS


@njit(**NJIT_OPTIONS)
def pav_fit(y: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """Weighted least-squares non-decreasing fit of ``y`` (already ordered by x), by pool-adjacent-violators.

    Minimises Σ w_i (y_i − f_i)² subject to f_1 ≤ … ≤ f_n; each pooled block takes its weighted mean
    (Ayer et al. 1955; Barlow et al. 1972, "Statistical Inference under Order Restrictions").
    One left-to-right pass with a stack of blocks: a new point is pushed, then merged with the block before
    it while that block's mean is larger. Weights must be positive.
    """
    n = y.shape[0]
    value = np.empty(n, dtype=np.float64)
    weight = np.empty(n, dtype=np.float64)
    end = np.empty(n, dtype=np.int64)
    top = -1
    for i in range(n):
        top += 1
        value[top] = y[i]
        weight[top] = w[i]
        end[top] = i
        while top > 0 and value[top - 1] > value[top]:
            merged = weight[top - 1] + weight[top]
            value[top - 1] = (weight[top - 1] * value[top - 1] + weight[top] * value[top]) / merged
            weight[top - 1] = merged
            end[top - 1] = end[top]
            top -= 1
    fitted = np.empty(n, dtype=np.float64)
    start = 0
    for b in range(top + 1):
        for i in range(start, end[b] + 1):
            fitted[i] = value[b]
        start = end[b] + 1
    return fitted


@njit(**NJIT_OPTIONS)
def tied_concordance(
    order: NDArray[np.intp],
    run_ends: NDArray[np.intp],
    weights: NDArray[np.float64],
    positive_share: NDArray[np.float64],
) -> NDArray[np.float64]:
    """C_r = Σ_i Σ_j a_ri b_rj H(s_i − s_j) for each row r of ``weights`` (shape (k, n)), H = 1, ½, 0 for >, =, <.

    Row i counts as a positive with weight a_ri = w_ri·f_i and as a negative with b_ri = w_ri·(1 − f_i),
    f = ``positive_share``. ``order`` sorts the scores ascending; ``run_ends`` are the exclusive ends (in
    sorted positions) of the runs of equal score. One pass per weighting, carrying the negative weight below
    the current run: the Mann–Whitney U statistic with ties counted ½, generalised to weights.
    """
    k = weights.shape[0]
    out = np.zeros(k, dtype=np.float64)
    for r in range(k):
        below = 0.0
        total = 0.0
        start = 0
        for g in range(run_ends.shape[0]):
            pos = 0.0
            neg = 0.0
            for t in range(start, run_ends[g]):
                i = order[t]
                w = weights[r, i]
                pos += w * positive_share[i]
                neg += w * (1.0 - positive_share[i])
            total += pos * (below + 0.5 * neg)
            below += neg
            start = run_ends[g]
        out[r] = total
    return out
