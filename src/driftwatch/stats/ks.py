"""Two-sample, two-sided Kolmogorov–Smirnov test matching ``scipy.stats.ks_2samp(method="auto")``.

The reference is stored once as its sorted non-missing values; each window sorts its own valid values
once (:func:`driftwatch.stats.sorting.sorted_valid`) and one O(n + m) merge gives D. No binning, so D is exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from driftwatch.kernels.ks import ecdf_gaps
from driftwatch.kernels.ks_exact import prob_outside_band, prob_outside_square
from driftwatch.kernels.smirnov import smirnov_sf
from driftwatch.stats.binning import checked_sorted

# The window's sort lives in stats.sorting (numpy's or the radix kernel, per CPU); re-exported here because
# every caller pairs it with the KS merge.
from driftwatch.stats.sorting import sorted_valid as sorted_valid

# scipy's "auto" rule: the exact distribution when both samples have at most this many values.
EXACT_MAX_N: Final[int] = 10_000
# Where scipy.stats.kstwo.sf(d, n) evaluates 2 * scipy.special.smirnov(n, d), an O(n) series (0.45 s at
# n = 500 000), we evaluate the same series on coarse grids instead (tens of microseconds), agreeing to
# ~1e-13 relative. Below this n scipy's own is already fast (under ~1.5 ms), so we keep it bit for bit.
FAST_SMIRNOV_MIN_N: Final[int] = 2_000
_SCIPY_SMIRNOV_MAX_N = 1_000_000  # above this scipy switches to a closed-form approximation: keep scipy's


@dataclass(frozen=True)
class KSResult:
    """D, its p-value and the non-missing sample sizes; statistic and pvalue are NaN if a side is empty."""

    statistic: float
    pvalue: float
    n_reference: int
    n_current: int


def _exact_or_asymptotic(d: float, n1: int, n2: int) -> tuple[float, float]:
    """``(statistic, pvalue)`` as scipy's ``ks_2samp`` reports them for raw statistic ``d``."""
    if max(n1, n2) <= EXACT_MAX_N:
        g = math.gcd(n1, n2)
        lcm = (n1 // g) * n2
        # The exact distribution lives on multiples of 1/lcm; scipy snaps D to the nearest one (rounding
        # half to even, as np.round) and reports the snapped value.
        h = round(d * lcm)
        d = h / lcm
        if h == 0:
            return d, 1.0
        p = prob_outside_square(n1, h) if n1 == n2 else prob_outside_band(n1, n2, g, h)
        if 0.0 <= p <= 1.0:
            return d, p
        # Rounding in the alternating sum can leave p a hair above 1 (e.g. n1 = n2 = 7, D = 1/7); scipy
        # then warns and falls back to the asymptotic p-value for the snapped D. We fall back silently.
    large, small = max(n1, n2), min(n1, n2)
    effective_n = float(large) * float(small) / (float(large) + float(small))
    return d, kstwo_sf(d, int(np.round(effective_n)))


def kstwo_sf(d: float, n: int) -> float:
    """``P(D_n >= d)`` for the one-sample two-sided KS statistic: ``scipy.stats.kstwo.sf(d, n)``.

    Computed without importing ``scipy.stats`` (about 1 s at start-up): by
    :func:`driftwatch.stats.kolmogorov.kolmogorov_sf`, a port of scipy's branches that returns scipy's
    value bit for bit, except in scipy's slow branch (``2.2 <= n d^2 < 370``, ``2000 < n <= 10^6``),
    where ``2 * P(D_n^+ >= d)`` comes from :func:`driftwatch.kernels.smirnov.smirnov_sf` (same series,
    summed by nested trapezoid grids) in microseconds instead of up to a second; agreement ~1e-13
    relative. Source: Simard & L'Ecuyer, J. Stat. Softw. 39(11) (2011), as implemented in scipy.
    """
    # Imported here so that importing this module stays as cheap as before (scipy.special is loaded by
    # the other statistics anyway; the module itself is small).
    from driftwatch.stats.kolmogorov import kolmogorov_sf

    # Same float expression as scipy's branch test, so both sides of a boundary agree with scipy's choice.
    # d > 0: a negative d also has a large n d^2, but its sf is 1 (below the support), not the series.
    n_d_squared = (n * d) * d
    if FAST_SMIRNOV_MIN_N < n <= _SCIPY_SMIRNOV_MAX_N and d > 0.0 and 2.2 <= n_d_squared < 370.0:
        p = 2.0 * smirnov_sf(n, d)
    else:
        p = kolmogorov_sf(d, n)
    return min(max(p, 0.0), 1.0)


def ks_pvalue(d: float, n_ref: int, n_cur: int) -> float:
    """Two-sided p-value of ``D = d`` for sample sizes ``n_ref``, ``n_cur`` (scipy ``method="auto"``).

    Exact when ``max(n_ref, n_cur) <= 10000``: ``P(D >= h/lcm)`` with ``h = round(d * lcm)`` by
    lattice-path counting (Hodges 1958; Viehmann 2021, arXiv:2102.08037). Otherwise Smirnov's
    asymptotic distribution ``kstwo.sf(d, round(n m / (n + m)))`` (see :func:`kstwo_sf`). NaN if either
    size is 0 or d is NaN.
    """
    for name, size in (("n_ref", n_ref), ("n_cur", n_cur)):
        if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {size!r}")
    d = float(d)
    if n_ref == 0 or n_cur == 0 or math.isnan(d):
        return float("nan")
    if not 0.0 <= d <= 1.0:
        raise ValueError(f"d must be in [0, 1], got {d!r}")
    return _exact_or_asymptotic(d, int(n_ref), int(n_cur))[1]


def checked_sorted_pair(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as contiguous float64, checked ascending and NaN-free (the merges' precondition).

    Raises ValueError naming the argument otherwise: a NaN would stall the merge kernels.
    """
    hint = " (see sorted_valid)"
    return checked_sorted(ref_sorted, "ref_sorted", hint), checked_sorted(cur_sorted, "cur_sorted", hint)


def ks_2samp_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> KSResult:
    """KS test of two already sorted, NaN-free samples: ``D = sup_x |F_ref(x) - F_cur(x)|`` and its p.

    ``F(x) = #{values <= x} / n`` is evaluated at every sample point by one merge (numba), with the
    same float divisions as ``scipy.stats.ks_2samp``, so D and p equal scipy's for the same samples
    (including scipy's snapping of D to a multiple of 1/lcm(n, m) in the exact regime). An empty side
    gives NaN statistic and p-value. Source: N. V. Smirnov (1939); scipy.stats.ks_2samp.
    """
    ref, cur = checked_sorted_pair(ref_sorted, cur_sorted)
    n_ref, n_cur = ref.size, cur.size
    if n_ref == 0 or n_cur == 0:
        return KSResult(float("nan"), float("nan"), n_ref, n_cur)
    ref_above, cur_above = ecdf_gaps(ref, cur)
    statistic, pvalue = _exact_or_asymptotic(float(max(ref_above, cur_above)), n_ref, n_cur)
    return KSResult(float(statistic), float(pvalue), n_ref, n_cur)
