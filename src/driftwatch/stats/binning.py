"""PSI bins for numeric features: quantile edges from the reference, counts per bin, missing share.

Count layout, shared by every numeric window and by the reference profile: ``len(edges) + 1`` value
bins, bin ``k`` holding ``edges[k-1] <= x < edges[k]`` (outer bins open-ended), then one bin for missing
values (NaN). Counts are int64 and mergeable by addition (a week is the sum of its days).
"""

from __future__ import annotations

import numpy as np

from driftwatch.kernels.binning import bin_counts, bin_counts_sorted
from driftwatch.kernels.ks import is_sorted_valid

DEFAULT_PSI_BINS = 10


def as_float_column(values: object, name: str = "values") -> np.ndarray:
    """``values`` as a 1-D contiguous float64 array (a copy only when needed); ``None`` becomes NaN."""
    array = np.asarray(values)
    if array.dtype == object:
        # Lists with None (JSON nulls) arrive as object arrays; None means missing, like NaN. Anything
        # else must already be a number: numpy would happily parse the string "1.5" into a float.
        flat = array.ravel()
        for v in flat:
            if v is not None and not isinstance(v, int | float | np.number):
                raise TypeError(f"{name} must be numeric or None, got {type(v).__name__}: {v!r}")
        array = np.array([np.nan if v is None else v for v in flat], dtype=np.float64).reshape(array.shape)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {array.dtype}")
    return np.ascontiguousarray(array, dtype=np.float64)


def checked_sorted(values: object, name: str, hint: str = "") -> np.ndarray:
    """``values`` as contiguous float64 (see `as_float_column`), checked ascending and NaN-free: the
    precondition of every kernel that walks sorted values (a NaN can stall a merge)."""
    column = as_float_column(values, name)
    if not is_sorted_valid(column):
        raise ValueError(f"{name} must be ascending and free of NaN{hint}")
    return column


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be an integer >= 1, got {bins!r}")


def psi_bin_edges_sorted(sorted_valid: np.ndarray, bins: int = DEFAULT_PSI_BINS) -> np.ndarray:
    """Inner PSI bin edges ``unique(quantile(values, [1/B, ..., (B-1)/B]))`` of values already sorted and free
    of NaN, without copying or partitioning them.

    Quantiles follow numpy's default (linear, "type 7" of Hyndman & Fan 1996) method; equal quantiles (ties,
    constant columns) collapse into one edge, so there may be fewer than ``B - 1`` edges. Linear
    interpolation between an infinite and a finite value yields NaN (``inf - inf``); such an edge is dropped,
    which only removes a bin no value could fall into. No values: no edges.

    ``np.quantile`` copies its input and partitions it around every needed index even when it is sorted
    (0.26 s of CPU for 20 columns of 1M rows, the largest part of profiling a reference in `compare`). On
    sorted values the order statistics are simply at their indices, so this repeats numpy's "linear" method
    step for step on just those values: the same virtual indices ``(n - 1) q``, the same clipping at the
    top, the same gamma and the same two-sided ``_lerp``. The edges equal ``np.unique(np.quantile(...))``'s
    (tests/naive.py ``numpy_psi_bin_edges``; the tests compare them with ties and infinities); only the sign of a zero edge can differ, because numpy's partition may
    leave -0.0 and 0.0 in either order, and no comparison sees that sign.
    """
    _check_bins(bins)
    column = checked_sorted(sorted_valid, "sorted_valid")
    n = column.size
    if n == 0 or bins == 1:
        return np.empty(0, dtype=np.float64)
    virtual = (n - 1) * (np.arange(1, bins) / bins)
    previous_index = np.floor(virtual)
    next_index = previous_index + 1
    top = virtual >= n - 1
    previous_index[top] = -1  # numpy takes the last value for both neighbours there
    next_index[top] = -1
    previous_i = previous_index.astype(np.intp)
    next_i = next_index.astype(np.intp)
    gamma = np.asarray(virtual - previous_i, dtype=virtual.dtype)
    below, above = column[previous_i], column[next_i]
    with np.errstate(invalid="ignore"):  # inf - inf inside the interpolation, as in np.quantile
        diff = above - below
        quantiles = np.add(below, diff * gamma)
        np.subtract(above, diff * (1 - gamma), out=quantiles, where=gamma >= 0.5)
        edges = np.unique(quantiles)
    return np.ascontiguousarray(edges[~np.isnan(edges)], dtype=np.float64)


def _checked_edges(edges: np.ndarray) -> np.ndarray:
    checked = as_float_column(edges, "edges")
    if not is_sorted_valid(checked) or np.any(checked[1:] == checked[:-1]):
        raise ValueError("edges must be strictly increasing and free of NaN")
    return checked


def numeric_bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per PSI bin, int64 of length ``len(edges) + 2``: value bins then the missing (NaN) bin.

    Value ``x`` goes to bin ``searchsorted(edges, x, side="right")``: ``-inf`` to the first bin, ``+inf``
    to the last value bin. One pass over ``values`` in a numba kernel.
    """
    return bin_counts(as_float_column(values), _checked_edges(edges))


def numeric_bin_counts_sorted(sorted_valid: np.ndarray, n_missing: int, edges: np.ndarray) -> np.ndarray:
    """Same counts as :func:`numeric_bin_counts`, from the window's sorted non-missing values.

    For a window already sorted for KS this costs a few binary searches instead of a pass over the data.
    """
    values = checked_sorted(sorted_valid, "sorted_valid")
    if isinstance(n_missing, bool) or not isinstance(n_missing, int | np.integer) or n_missing < 0:
        raise ValueError(f"n_missing must be a non-negative integer, got {n_missing!r}")
    return bin_counts_sorted(values, _checked_edges(edges), int(n_missing))


def missing_share(counts: np.ndarray) -> float:
    """``n_missing / n_rows`` from a count vector whose last slot is the missing bin; NaN for no rows.

    Works for both numeric (:func:`numeric_bin_counts`) and categorical layouts.
    """
    array = np.asarray(counts)
    if array.ndim != 1 or array.size == 0:
        raise ValueError("counts must be a non-empty one-dimensional array")
    total = array.sum()
    if total == 0:
        return float("nan")
    return float(array[-1] / total)
