"""Merge kernel for the Wasserstein-1 distance between two sorted, finite float64 samples."""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from driftwatch.kernels._options import NJIT_OPTIONS


@numba.njit(**NJIT_OPTIONS)
def wasserstein1_sorted(u_sorted: NDArray[np.float64], v_sorted: NDArray[np.float64]) -> float:
    """W1 = ∫ |F_u(x) − F_v(x)| dx for ascending, finite, non-empty inputs, in one merge pass.

    Between two consecutive distinct values of the merged samples both empirical CDFs are constant, so the
    integral is a sum of |F_u − F_v| × interval width. The CDF gap is kept as the exact integer
    ``|i·m − j·n|`` and divided by ``n·m`` once at the end: every term is non-negative, so the sum has no
    cancellation and only the final division rounds the CDFs.
    """
    n = u_sorted.size
    m = v_sorted.size
    i = 0
    j = 0
    x = min(u_sorted[0], v_sorted[0])
    total = 0.0
    while i < n or j < m:
        if j >= m or (i < n and u_sorted[i] <= v_sorted[j]):
            nxt = u_sorted[i]
        else:
            nxt = v_sorted[j]
        total += abs(i * m - j * n) * (nxt - x)
        x = nxt
        # Consume every copy of this value on both sides, so the CDFs jump together on ties.
        while i < n and u_sorted[i] == nxt:
            i += 1
        while j < m and v_sorted[j] == nxt:
            j += 1
    return total / (float(n) * float(m))
