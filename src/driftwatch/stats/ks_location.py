"""Where the KS distance D is reached, and a window's ECDF as the report draws it, from sorted arrays.

The window report draws the reference and current ECDFs with D marked where it is reached. Both come from
what the statistics hold anyway: the window's sorted values (``stats.sorting.sorted_valid``) and the point
of D that the KS/W1 merge (:func:`driftwatch.kernels.ks.ecdf_gaps_w1_at`) records while computing D. The
earlier report code fetched the window again and ran ``np.unique`` over reference + current per feature
(a sort of both, ~90 % of a window page's render time); nothing here sorts.

The points are those of the earlier code, value for value (tests/naive.py keeps it as the oracle): the
ECDF of the finite values only (an infinite value has no place on an x axis), downsampled to at most
:data:`ECDF_POINTS` steps at evenly spaced probabilities, and D's point as ``argmax |F_ref - F_cur|`` over
the sorted union of finite values (the first one in value order when D is reached more than once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from driftwatch.kernels.ks import ecdf_gaps_w1_at, merged_order_statistic

ECDF_POINTS: Final[int] = 250
"""Steps drawn per ECDF curve: two curves of this many float32 points take ~5 KB of a page, and a 500 px
wide chart still shows every visible step (the page budget is ~10 KB per feature)."""
_DISTINCT_BLOCK: Final[int] = 1 << 14


@dataclass(frozen=True)
class KsLocation:
    """The point where D is reached: ``x`` and both ECDFs there (``F(x) = #{values <= x} / n``)."""

    x: float
    reference: float  # F_ref(x)
    current: float  # F_cur(x)

    @property
    def distance(self) -> float:
        return abs(self.reference - self.current)


@dataclass(frozen=True, eq=False)
class WindowEcdf:
    """What a window page draws for a numeric feature besides the reference: computed with the statistics.

    ``x``/``y`` are the window's ECDF steps (:func:`ecdf_steps`), ``location`` where D is reached (None when
    either side has no finite value). A few KB, so the pipeline can hand it to the report instead of the
    window's values.
    """

    x: np.ndarray
    y: np.ndarray
    location: KsLocation | None


def finite_part(sorted_values: np.ndarray) -> np.ndarray:
    """The finite values of an ascending NaN-free array: a slice (±inf sit at the ends), no copy."""
    values = np.asarray(sorted_values, dtype=np.float64)
    if values.size == 0 or (np.isfinite(values[0]) and np.isfinite(values[-1])):
        return values
    low = int(np.searchsorted(values, -np.inf, side="right"))
    high = int(np.searchsorted(values, np.inf, side="left"))
    return values[low:high]


def _few_distinct(values: np.ndarray, limit: int) -> bool:
    """True when ascending ``values`` hold at most ``limit`` distinct values.

    Scanned in blocks that stop as soon as the count passes ``limit``: continuous data stops in the first
    block, so this is O(limit) there and O(n) only for columns of few values.
    """
    changes = 0
    last = values.size - 1
    for start in range(0, last, _DISTINCT_BLOCK):
        stop = min(start + _DISTINCT_BLOCK, last)
        changes += int(np.count_nonzero(values[start + 1 : stop + 1] != values[start:stop]))
        if changes + 1 > limit:
            return False
    return True


def _first_reaching(targets: np.ndarray, n: int) -> np.ndarray:
    """Per target t, the smallest index p in [0, n) with ``(p + 1) / n >= t`` (floats as the ECDF computes).

    ``ceil(t n) - 1`` is right up to the rounding of ``t n``; the two corrections make it exact.
    """
    p = np.clip(np.ceil(targets * n).astype(np.int64) - 1, 0, n - 1)
    while True:
        up = ((p + 1) / n < targets) & (p < n - 1)
        down = (p > 0) & (p / n >= targets)
        if not (up.any() or down.any()):
            return np.asarray(p, dtype=np.int64)
        p = p + up - down


def ecdf_steps(sorted_values: np.ndarray, max_points: int = ECDF_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` steps ``(x, F(x))`` of the ECDF of the finite values of an ascending array.

    Every distinct value when there are at most ``max_points`` of them; otherwise, for evenly spaced
    probabilities t from ``F(min)`` to 1, the first value whose F reaches t. From the sorted array alone:
    the value where F first reaches t is ``values[p]`` for the smallest p with ``(p + 1) / n >= t``.
    """
    values = finite_part(sorted_values)
    n = values.size
    if n == 0:
        return np.empty(0), np.empty(0)
    if _few_distinct(values, max_points):
        ends = np.append(np.flatnonzero(values[1:] != values[:-1]), n - 1)
        return values[ends], (ends + 1) / n
    first = np.searchsorted(values, values[0], side="right") / n
    picked = values[_first_reaching(np.linspace(first, 1.0, max_points), n)]
    x = picked[np.append(True, picked[1:] != picked[:-1])]
    return x, np.searchsorted(values, x, side="right") / n


def location_at(ref: np.ndarray, cur: np.ndarray, at: int) -> KsLocation:
    """The point of merged count ``at`` (the value of rank ``at - 1`` in the merge) and both ECDFs there."""
    x = float(merged_order_statistic(ref, cur, at - 1))
    i = int(np.searchsorted(ref, x, side="right"))
    j = int(np.searchsorted(cur, x, side="right"))
    return KsLocation(x, i / ref.size, j / cur.size)


def location_from_merge(
    ref: np.ndarray, cur: np.ndarray, ref_above: float, cur_above: float, ref_at: int, cur_at: int
) -> KsLocation:
    """D's point from what :func:`~driftwatch.kernels.ks.ecdf_gaps_w1_at` returned for non-empty ref, cur.

    D is the larger gap; when both are equal the point that comes first. With D = 0 every point ties and
    the first is the smallest value (``argmax`` of all zeros).
    """
    if not max(ref_above, cur_above) > 0.0:
        return location_at(ref, cur, 1)
    if ref_above > cur_above:
        at = ref_at
    elif cur_above > ref_above:
        at = cur_at
    else:
        at = min(ref_at, cur_at)
    return location_at(ref, cur, at)


def ks_location(reference_sorted: np.ndarray, current_sorted: np.ndarray) -> KsLocation | None:
    """Where ``sup |F_ref - F_cur|`` over the finite values is reached; None if a side has none.

    Both arrays ascending and NaN-free. One KS merge over the finite parts (no ``np.unique``, no sort).
    """
    ref = finite_part(reference_sorted)
    cur = finite_part(current_sorted)
    if ref.size == 0 or cur.size == 0:
        return None
    ref_above, cur_above, _, ref_at, cur_at = ecdf_gaps_w1_at(ref, cur)
    return location_from_merge(ref, cur, ref_above, cur_above, ref_at, cur_at)


def window_ecdf(
    reference_sorted: np.ndarray, current_sorted: np.ndarray, merged: KsLocation | None
) -> WindowEcdf:
    """The window's chart data from its sorted values and the location the statistic's merge found.

    ``merged`` is the point over all values (``KSW1Result.location``); it is the report's point whenever
    both sides are finite, which is every real column. With an infinite value the report's ECDFs count the
    finite values only, so the point is found again over those (one more merge, for that feature only).
    """
    x, y = ecdf_steps(current_sorted)
    if merged is not None and _all_finite(reference_sorted) and _all_finite(current_sorted):
        return WindowEcdf(x, y, merged)
    return WindowEcdf(x, y, ks_location(reference_sorted, current_sorted))


def _all_finite(sorted_values: np.ndarray) -> bool:
    return sorted_values.size == 0 or bool(np.isfinite(sorted_values[0]) and np.isfinite(sorted_values[-1]))
