"""Multiple-testing corrections for the p-values of one window's features.

A window tests every feature at once; at α = 0.05 and 40 features, about two would look significant with
no drift at all. Adjusted p-values are compared with α as usual, and NaN entries (a test that was not
defined) are left out of the family and kept in place.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Correction = Literal["bh", "bonferroni", "none"]
CORRECTIONS: tuple[Correction, ...] = ("bh", "bonferroni", "none")


def _pvalues(pvalues: ArrayLike) -> NDArray[np.float64]:
    p = np.array(pvalues, dtype=np.float64, copy=True)
    if p.ndim != 1:
        raise ValueError(f"p-values must be 1-D, got shape {p.shape}")
    valid = p[~np.isnan(p)]
    if np.any((valid < 0) | (valid > 1)):
        raise ValueError("p-values must lie in [0, 1] (or be NaN)")
    return p


def bonferroni(pvalues: ArrayLike) -> NDArray[np.float64]:
    """Bonferroni-adjusted p-values: min(1, m·p_i), m = number of non-NaN p-values; NaN stays NaN.

    Controls the family-wise error rate (the chance of any false alarm in the window) at α for any
    dependence between tests (Bonferroni 1936; Dunn 1961).
    """
    p = _pvalues(pvalues)
    valid = ~np.isnan(p)
    p[valid] = np.minimum(1.0, p[valid] * np.count_nonzero(valid))
    return p


def benjamini_hochberg(pvalues: ArrayLike) -> NDArray[np.float64]:
    """Benjamini–Hochberg adjusted p-values (q-values); NaN entries are ignored and stay NaN.

    With the m non-NaN p-values sorted ascending, p_(1) ≤ … ≤ p_(m):
    adj_(i) = min over k ≥ i of min(1, m·p_(k) / k) (Benjamini & Hochberg 1995), the same values as
    ``scipy.stats.false_discovery_control(p, method="bh")``. Rejecting adj ≤ α controls the expected share
    of false discoveries among the features called drifting at α, for independent or positively dependent
    tests.
    """
    p = _pvalues(pvalues)
    valid_index = np.flatnonzero(~np.isnan(p))
    m = valid_index.size
    if m == 0:
        return p
    order = valid_index[np.argsort(p[valid_index], kind="stable")]
    scaled = p[order] * m / np.arange(1, m + 1)
    # The running minimum from the largest p-value down makes the adjusted values monotone in p.
    p[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return p


def adjusted_pvalues(pvalues: ArrayLike, method: Correction) -> NDArray[np.float64]:
    """The p-values adjusted by ``method``: "bh", "bonferroni", or "none" (a validated copy)."""
    if method == "bh":
        return benjamini_hochberg(pvalues)
    if method == "bonferroni":
        return bonferroni(pvalues)
    if method == "none":
        return _pvalues(pvalues)
    raise ValueError(f"unknown correction {method!r}; expected one of {CORRECTIONS}")
