"""Kernels of the mergeable partials (:mod:`driftwatch.stats.partials`): counting a chunk, finishing counts.

All take validated input: ``distinct`` strictly ascending and NaN-free, ``current`` ascending and NaN-free,
``counts`` laid out as ``[below r_0, = r_0, (r_0, r_1), ..., = r_{K-1}, above r_{K-1}]`` (``2K + 1`` slots).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from driftwatch.kernels._options import NJIT_OPTIONS


@numba.njit(**NJIT_OPTIONS)
def ks_counts_sorted(distinct: NDArray[np.float64], current: NDArray[np.float64]) -> NDArray[np.int64]:
    """The ``2K + 1`` counts of ``current`` against ``distinct`` (see :func:`add_ks_counts`)."""
    counts = np.zeros(2 * distinct.size + 1, dtype=np.int64)
    add_ks_counts(distinct, current, counts)
    return counts


@numba.njit(**NJIT_OPTIONS)
def add_ks_counts(
    distinct: NDArray[np.float64], current: NDArray[np.float64], counts: NDArray[np.int64]
) -> None:
    """Add the counts of ``current`` against ``distinct`` to ``counts`` (``2K + 1`` slots) in one walk of the chunk.

    For each value the first distinct value not below it is found by galloping from the previous one, so a
    chunk costs ``O(n log(K / n + 1))``: a walk when the chunk is larger than the reference, a few steps
    per value when it is much smaller. A value equal to ``r_k`` goes to slot ``2k + 1``, one below ``r_k`` and
    above ``r_{k-1}`` to slot ``2k`` (``==`` and ``<``: -0.0 and 0.0 are one value). Adding in place lets a
    stream count every chunk into one array instead of allocating one of the reference's size per chunk.
    """
    k_total = distinct.size
    k = 0
    for x in current:
        if k < k_total and distinct[k] < x:
            lo = k  # distinct[lo] < x
            step = 1
            hi = lo + 1
            while hi < k_total and distinct[hi] < x:
                lo = hi
                step *= 2
                hi = lo + step
            if hi > k_total:
                hi = k_total
            while lo + 1 < hi:  # distinct[lo] < x <= distinct[hi] (or hi == K)
                mid = (lo + hi) >> 1
                if distinct[mid] < x:
                    lo = mid
                else:
                    hi = mid
            k = hi
        if k < k_total and distinct[k] == x:
            counts[2 * k + 1] += 1
        else:
            counts[2 * k] += 1


@numba.njit(**NJIT_OPTIONS)
def gaps_from_counts(
    cumulative: NDArray[np.int64], counts: NDArray[np.int64], n: int, m: int
) -> tuple[float, float]:
    """``(max(F_ref - F_cur), max(F_cur - F_ref))``, both ``>= 0``, as the KS merge kernels compute them.

    Evaluated at each ``r_k`` (after every copy) and at the last current value of each open interval that
    holds one, with the merge's expression ``i / n - j / m`` and its strict comparisons from ``+0.0``.
    """
    ref_above = 0.0
    cur_above = 0.0
    j = 0
    k_total = cumulative.size
    for k in range(k_total + 1):
        inside = counts[2 * k]
        j += inside
        if inside > 0:  # the interval's last current value: F_ref still at its count before r_k
            i = cumulative[k - 1] if k > 0 else 0
            gap = i / n - j / m
            if gap > ref_above:
                ref_above = gap
            if -gap > cur_above:
                cur_above = -gap
        if k < k_total:
            j += counts[2 * k + 1]
            gap = cumulative[k] / n - j / m
            if gap > ref_above:
                ref_above = gap
            if -gap > cur_above:
                cur_above = -gap
    return ref_above, cur_above


@numba.njit(**NJIT_OPTIONS, inline="always")
def _interval(
    width: float, target: int, j_a: int, j_b: int, n: int, area: float, error: float
) -> tuple[float, float]:
    """Add one interval's midpoint and half-gap of ``width * |target - n j|`` over ``j`` in ``[j_a, j_b]``."""
    low_end = abs(target - n * j_a)
    high_end = abs(target - n * j_b)
    largest = max(low_end, high_end)
    if target <= n * j_a:
        smallest = n * j_a - target
    elif target >= n * j_b:
        smallest = target - n * j_b
    else:  # n j_a < target < n j_b: the nearest multiples of n around target are both in range
        q = target // n
        smallest = min(target - n * q, n * (q + 1) - target)
    area += width * ((smallest + largest) / 2.0)
    error += width * ((largest - smallest) / 2.0)
    return area, error


@numba.njit(**NJIT_OPTIONS)
def w1_area_from_counts(
    distinct: NDArray[np.float64],
    cumulative: NDArray[np.int64],
    counts: NDArray[np.int64],
    n: int,
    m: int,
    low: float,
    high: float,
) -> tuple[float, float]:
    """``(estimate, bound)`` of ``n m ∫ |F_ref - F_cur| dx`` for finite samples (see stats.partials).

    Intervals in order: below ``r_0`` from the smallest current value ``low`` (where ``j >= 1``), each
    ``[r_k, r_{k+1})``, above ``r_{K-1}`` up to the largest current value ``high`` (where ``j <= m - 1``).
    """
    k_total = distinct.size
    area = 0.0
    error = 0.0
    if counts[0] > 0:
        area, error = _interval(distinct[0] - low, 0, 1, counts[0], n, area, error)
    j = counts[0]
    for k in range(k_total - 1):
        j += counts[2 * k + 1]  # #{cur <= r_k}
        j_end = j + counts[2 * k + 2]  # #{cur < r_{k+1}}
        area, error = _interval(distinct[k + 1] - distinct[k], cumulative[k] * m, j, j_end, n, area, error)
        j = j_end
    if counts[2 * k_total] > 0:
        j_last = m - counts[2 * k_total]  # #{cur <= r_{K-1}}
        area, error = _interval(high - distinct[k_total - 1], n * m, j_last, m - 1, n, area, error)
    return area, error
