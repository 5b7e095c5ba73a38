"""Upper tail of the one-sided Smirnov statistic, ``P(D_n^+ >= x)``, fast for large ``n``.

Why this exists: ``scipy.special.smirnov`` sums the Birnbaum–Tingey series term by term in double-double
arithmetic, exact but O(n): about 0.9 µs per unit of n here, 0.45 s at n = 500 000.
``scipy.stats.kstwo.sf`` calls it (twice the one-sided tail) whenever ``2.2 <= n x^2 < 370`` and
``140 < n <= 10^6``, which is exactly where a KS test of two large windows lands under mild drift.

The series (Birnbaum & Tingey, Ann. Math. Statist. 22 (1951) 592–596) is
``P(D_n^+ >= x) = x * sum_{0 <= j < n(1-x)} C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1)``.
Its terms are positive, unimodal in ``j``, negligible at both ends, and vary smoothly: ``log`` of a term
is close to ``-z^2 / (2 t (1 - t))`` with ``t = j/n``, ``z = sqrt(n) x``, so it changes on a scale of
``n / (4 z)`` indices. Summing every integer ``j`` is then the trapezoid rule with step 1 for a smooth,
decaying integrand, and coarser steps ``h`` give the same value to within ``exp(-2 pi^2 (n / 4 z h)^2)``
(Poisson summation). We halve ``h`` from ``j_last / 16`` until two successive sums agree to 1e-13; the
worst case degrades to ``h = 1``, the plain series.

Each term is evaluated in logs with the large ``n log n`` parts of the binomial coefficient cancelled
analytically (Stirling with its remainder), leaving ``j log1p(x n / j) + (n-j) log1p(-x n / (n-j))``,
whose rounding error is about 1e-12 relative.
"""

from __future__ import annotations

import math

import numba

from driftwatch.kernels._options import NJIT_OPTIONS

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_AGREEMENT = 1e-13


@numba.njit(**NJIT_OPTIONS)
def stirling_remainder(k: int) -> float:
    """``log(k!) - [(k + 1/2) log k - k + log(2 pi)/2]`` for ``k >= 1``."""
    if k < 16:
        return math.lgamma(k + 1.0) - ((k + 0.5) * math.log(k) - k + _HALF_LOG_2PI)
    # Asymptotic series; the next term is below 1 / (1188 k^9) < 2e-14 here.
    r = 1.0 / k
    r2 = r * r
    return r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 / 1680.0)))


@numba.njit(**NJIT_OPTIONS)
def log_term(n: int, j: int, x: float) -> float:
    """``log[C(n, j) (1 - x - j/n)^(n-j) (x + j/n)^(j-1)]`` for ``1 <= j`` and ``n - j > n x``."""
    m = n - j
    nx = n * x
    return (
        j * math.log1p(nx / j)
        + m * math.log1p(-nx / m)
        - math.log(x + j / n)
        + 0.5 * math.log(n / (j * float(m)))
        - _HALF_LOG_2PI
        + stirling_remainder(n)
        - stirling_remainder(j)
        - stirling_remainder(m)
    )


@numba.njit(**NJIT_OPTIONS)
def _grid_sum(n: int, x: float, first: int, step: int, j_last: int, log_scale: float) -> float:
    """``sum exp(log_term(j) - log_scale)`` over ``j = first, first + step, ... <= j_last``."""
    total = 0.0
    for j in range(first, j_last + 1, step):
        total += math.exp(log_term(n, j, x) - log_scale)
    return total


@numba.njit(**NJIT_OPTIONS)
def smirnov_sf(n: int, x: float) -> float:
    """``P(D_n^+ >= x)`` for ``n >= 2`` and ``0 < x < 1`` (Birnbaum–Tingey series; see the module notes)."""
    nx = n * x
    # Last index with a positive term: n - j > n x.
    j_last = n - 1 - int(math.floor(nx))
    while j_last >= 1 and not (n - j_last > nx):
        j_last -= 1
    # The j = 0 term, (1 - x)^n / x, has no Stirling form; it is added on its own.
    log_first = n * math.log1p(-x) - math.log(x)
    if j_last < 1:
        return x * math.exp(log_first)
    # Largest term, by bisection on the sign of log_term(j + 1) - log_term(j) (unimodal); it anchors the
    # grids and scales the sums so nothing overflows.
    lo = 1
    hi = j_last
    while lo < hi:
        mid = (lo + hi) >> 1
        if log_term(n, mid + 1, x) > log_term(n, mid, x):
            lo = mid + 1
        else:
            hi = mid
    j_peak = lo
    log_peak = log_term(n, j_peak, x)
    # Nested grids through j_peak: step h, then h/2 adds the midpoints.
    step = 1
    while step * 32 <= j_last:
        step *= 2
    first = 1 + (j_peak - 1) % step
    grid = _grid_sum(n, x, first, step, j_last, log_peak)
    estimate = step * grid
    while step > 1:
        half = step // 2
        first_mid = first + half if first + half - step < 1 else first + half - step
        grid += _grid_sum(n, x, first_mid, step, j_last, log_peak)
        refined = half * grid
        step = half
        first = min(first, first_mid)
        converged = abs(refined - estimate) <= _AGREEMENT * refined
        estimate = refined
        if converged:
            break
    return x * math.exp(log_peak) * (estimate + math.exp(log_first - log_peak))
