"""Binary searches on sorted float64 arrays, shared by the counting and merge kernels."""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from driftwatch.kernels._options import NJIT_OPTIONS


@numba.njit(**NJIT_OPTIONS)
def count_below(sorted_values: NDArray[np.float64], bound: float, lo: int, hi: int) -> int:
    """Index of the first element of ``sorted_values[lo:hi]`` not below ``bound`` (numpy side="left").

    ``bound`` must not be NaN (every comparison with NaN is false, so the search would return ``lo``).
    """
    while lo < hi:
        mid = (lo + hi) >> 1
        if sorted_values[mid] < bound:
            lo = mid + 1
        else:
            hi = mid
    return lo
