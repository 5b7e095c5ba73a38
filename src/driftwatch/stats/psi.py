"""Population Stability Index between two count vectors with the same bin layout."""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

PSI_EPSILON: Final[float] = 1e-4


def _checked_counts(counts: ArrayLike, name: str) -> NDArray[np.float64]:
    array = np.asarray(counts)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty one-dimensional array, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    as_float = array.astype(np.float64)
    if not np.all(np.isfinite(as_float)) or np.any(as_float < 0):
        raise ValueError(f"{name} must be finite and non-negative")
    return as_float


def psi(ref_counts: ArrayLike, cur_counts: ArrayLike, eps: float = PSI_EPSILON) -> float:
    """Population Stability Index ``sum_k (c_k - r_k) * ln(c_k / r_k)``.

    ``r_k``, ``c_k`` are the reference and current shares of bin ``k`` over *all* rows (missing bin
    included), each floored at ``eps`` (``max(share, eps)``, no renormalisation) so that an empty bin on
    one side gives a large but finite term. A bin empty on both sides contributes exactly 0. Returns NaN
    when either side has no rows. Terms are summed with ``math.fsum``, so the result does not depend on
    the order of the bins.

    Source: the PSI of credit-scoring practice, a symmetrised Kullback–Leibler divergence
    ``KL(c||r) + KL(r||c)``; see B. Yurdakul, "Statistical properties of population stability index",
    PhD thesis, Western Michigan University (2018). Reading: < 0.1 stable, 0.1–0.25 moderate,
    > 0.25 significant shift.
    """
    if not (isinstance(eps, int | float) and 0.0 < eps < 1.0):
        raise ValueError(f"eps must be in (0, 1), got {eps!r}")
    ref = _checked_counts(ref_counts, "ref_counts")
    cur = _checked_counts(cur_counts, "cur_counts")
    if ref.size != cur.size:
        raise ValueError(f"ref_counts and cur_counts differ in length: {ref.size} vs {cur.size}")
    ref_total = ref.sum()
    cur_total = cur.sum()
    if ref_total == 0 or cur_total == 0:
        return float("nan")
    ref_share = np.maximum(ref / ref_total, eps)
    cur_share = np.maximum(cur / cur_total, eps)
    terms = (cur_share - ref_share) * np.log(cur_share / ref_share)
    return math.fsum(terms.tolist())
