"""Mergeable partials: one feature's statistics from chunks of a window, equal to the whole-window result.

A window too large for memory (or spread over a cluster's partitions) is cut into chunks. Each chunk gives a
*partial* (:func:`numeric_partial`, :func:`categorical_partial`): a small picklable value of integer counts
against the reference profile. :func:`merge` adds two partials (integer addition, plus ``min``/``max`` of two
floats), so it is associative and commutative and any partitioning of the window merges to the same partial,
bit for bit. :func:`finish` turns the merged partial into the :class:`FeatureDrift` that
:func:`driftwatch.stats.feature_drift.numeric_feature_stats` / ``categorical_feature_stats`` give for the
whole window in memory: PSI, KS D and p, χ², JS, Hellinger, missing and unseen shares are identical bit for
bit. Wasserstein-1 is the one exception (see below).

Why counts determine the exact KS statistic. Let ``r_1 < ... < r_K`` be the reference's distinct values and
``R_k = #{ref <= r_k}``. A numeric partial counts the current values equal to each ``r_k`` and strictly
between consecutive ones (below ``r_1`` and above ``r_K`` included): ``2K + 1`` integers,
``[below r_1, = r_1, (r_1, r_2), = r_2, ..., = r_K, above r_K]``. On an open interval ``(r_k, r_{k+1})``
``F_ref`` is constant, so ``F_ref - F_cur`` only falls as current values pass: its largest value is at
``r_k`` itself (after every copy of ``r_k``) and its smallest at the interval's last current value. The KS
merge (:mod:`driftwatch.kernels.ks`) evaluates ``i / n - j / m`` at every distinct merged value; those two
kinds of point are among its points and hold both extremes, and both counts ``(i, j)`` there follow from the
partial's prefix sums. The same float expressions on the same integers give the same D; the p-value is then
computed from D and the sizes exactly as in memory.

Wasserstein-1 ``∫ |F_ref - F_cur| dx`` needs where the current values lie inside an interval, which counts do
not say. :func:`finish` therefore gives an estimate with a guaranteed bound (``FeatureDrift.wasserstein_bound``,
on the normalised scale): on an interval of width ``w`` where ``F_cur`` runs through ``j/m`` for ``j`` in
``[j_a, j_b]`` the integral lies between ``w`` times the smallest and the largest ``|F_ref - j/m|``; the estimate
is the midpoint and the bound half the gap, summed. Intervals with no current value strictly inside are exact,
so data whose current values are all reference values (integers, codes) get a bound of 0. The estimate is a
function of the merged partial only, so it too is the same for every partitioning. docs/scale.md has the
derivation and the cost model.
"""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftwatch.kernels.partials import (
    add_ks_counts,
    gaps_from_counts,
    ks_counts_sorted,
    w1_area_from_counts,
)
from driftwatch.stats.binning import numeric_bin_counts_sorted
from driftwatch.stats.distances import hellinger_distance, js_distance, normalize_w1
from driftwatch.stats.feature_drift import FeatureDrift, categorical_feature_stats
from driftwatch.stats.ks import _exact_or_asymptotic
from driftwatch.stats.ks_location import ECDF_POINTS, KsLocation, WindowEcdf
from driftwatch.stats.profile import CategoricalProfile, FeatureProfile, NumericProfile
from driftwatch.stats.psi import psi
from driftwatch.stats.sorting import sorted_valid


@dataclass(frozen=True, eq=False)
class NumericLayout:
    """What a numeric chunk is counted against, derived once per reference profile (:func:`numeric_layout`)."""

    distinct: NDArray[np.float64]  # the reference's sorted distinct non-missing values r_1 < ... < r_K
    cumulative: NDArray[np.int64]  # R_k = #{ref <= r_k}
    edges: NDArray[np.float64]  # the PSI inner edges (the profile's)
    negative_infinities: int  # reference values equal to -inf
    positive_infinities: int  # reference values equal to +inf


@dataclass(frozen=True, eq=False)
class NumericPartial:
    """One numeric feature's counts over a set of current rows (a chunk, or several merged).

    ``ks_counts`` has ``2K + 1`` slots (see the module docstring); ``bin_counts`` is the PSI layout (value bins,
    then missing). ``low``/``high`` are the smallest and largest finite current values (``+inf``/``-inf``
    when there is none) and bound the outer Wasserstein intervals; ``negative_infinities`` /
    ``positive_infinities`` count the current ±inf values (the W1 rule for infinities).
    """

    name: str
    ks_counts: NDArray[np.int64]
    bin_counts: NDArray[np.int64]
    low: float
    high: float
    negative_infinities: int
    positive_infinities: int

    @property
    def rows(self) -> int:
        return int(self.bin_counts.sum())


@dataclass(frozen=True, eq=False)
class CategoricalPartial:
    """One categorical feature's value counts (None = missing) over a set of current rows.

    All of them, not only the reference categories': whether the window's values changed type
    (``stats.categories.type_change``) and its example value depend on every value. So the partial grows with
    the number of distinct current values (docs/scale.md).
    """

    name: str
    value_counts: Mapping[str | None, int]

    @property
    def rows(self) -> int:
        return int(sum(self.value_counts.values()))


Partial = NumericPartial | CategoricalPartial

_layouts: weakref.WeakKeyDictionary[NumericProfile, NumericLayout] = weakref.WeakKeyDictionary()
_layouts_lock = threading.Lock()


def numeric_layout(profile: NumericProfile) -> NumericLayout:
    """The profile's distinct values and their cumulative counts; computed once per profile object."""
    with _layouts_lock:
        known = _layouts.get(profile)
    if known is not None:
        return known
    ref = profile.checked_sorted_values
    if ref.size:
        # The last copy of each distinct value (``!=``: -0.0 and 0.0 are one value, as in every comparison).
        ends = np.append(np.flatnonzero(ref[1:] != ref[:-1]), ref.size - 1)
    else:
        ends = np.empty(0, dtype=np.int64)
    layout = NumericLayout(
        distinct=np.ascontiguousarray(ref[ends]),
        cumulative=(ends + 1).astype(np.int64),
        edges=profile.edges,
        negative_infinities=int(np.searchsorted(ref, -np.inf, side="right")),
        positive_infinities=int(ref.size - np.searchsorted(ref, np.inf, side="left")),
    )
    with _layouts_lock:
        return _layouts.setdefault(profile, layout)


# ---------------------------------------------------------------------------------------------------------
# One chunk → a partial
# ---------------------------------------------------------------------------------------------------------


def ks_counts(distinct: NDArray[np.float64], current_sorted: NDArray[np.float64]) -> NDArray[np.int64]:
    """The ``2K + 1`` counts of ascending NaN-free ``current_sorted`` against the distinct values ``distinct``
    (strictly ascending, NaN-free): one galloping walk of the chunk (`kernels.partials.ks_counts_sorted`)."""
    return ks_counts_sorted(distinct, current_sorted)


@dataclass(frozen=True)
class _Chunk:
    """One chunk's valid values sorted, and what the partial takes from it besides the counts."""

    valid: NDArray[np.float64]
    missing: int
    low: float
    high: float
    negative_infinities: int
    positive_infinities: int


def _chunk(values: ArrayLike) -> _Chunk:
    column = np.asarray(values, dtype=np.float64)
    valid = sorted_valid(column)
    negative = int(np.searchsorted(valid, -np.inf, side="right"))
    positive = int(valid.size - np.searchsorted(valid, np.inf, side="left"))
    finite = valid[negative : valid.size - positive]
    return _Chunk(
        valid=valid,
        missing=int(column.size - valid.size),
        low=float(finite[0]) if finite.size else math.inf,
        high=float(finite[-1]) if finite.size else -math.inf,
        negative_infinities=negative,
        positive_infinities=positive,
    )


def numeric_partial(profile: NumericProfile, values: ArrayLike) -> NumericPartial:
    """The partial of one chunk of a numeric feature's current values (NaN = missing; ±inf are values)."""
    layout = numeric_layout(profile)
    chunk = _chunk(values)
    return NumericPartial(
        name=profile.name,
        ks_counts=ks_counts(layout.distinct, chunk.valid),
        bin_counts=numeric_bin_counts_sorted(chunk.valid, chunk.missing, layout.edges),
        low=chunk.low,
        high=chunk.high,
        negative_infinities=chunk.negative_infinities,
        positive_infinities=chunk.positive_infinities,
    )


def categorical_partial(
    profile: CategoricalProfile, value_counts: Mapping[str | None, int]
) -> CategoricalPartial:
    """The partial of one chunk of a categorical feature: its value counts (None = missing)."""
    return CategoricalPartial(profile.name, {value: int(count) for value, count in value_counts.items()})


def empty_partial(profile: FeatureProfile) -> Partial:
    """The partial of no rows: ``merge(empty_partial(p), x)`` is ``x``."""
    if isinstance(profile, NumericProfile):
        return numeric_partial(profile, np.empty(0, dtype=np.float64))
    return CategoricalPartial(profile.name, {})


# ---------------------------------------------------------------------------------------------------------
# Merging
# ---------------------------------------------------------------------------------------------------------


def merge(a: Partial, b: Partial) -> Partial:
    """The partial of the union of both partials' rows. Associative and commutative, exactly."""
    if a.name != b.name:
        raise ValueError(f"cannot merge partials of different features: {a.name!r} and {b.name!r}")
    if isinstance(a, NumericPartial) and isinstance(b, NumericPartial):
        return _merge_numeric(a, b)
    if isinstance(a, CategoricalPartial) and isinstance(b, CategoricalPartial):
        counts = dict(a.value_counts)
        for value, count in b.value_counts.items():
            counts[value] = counts.get(value, 0) + count
        return CategoricalPartial(a.name, counts)
    raise ValueError(f"cannot merge a numeric and a categorical partial of {a.name!r}")


def _merge_numeric(a: NumericPartial, b: NumericPartial) -> NumericPartial:
    if a.ks_counts.shape != b.ks_counts.shape or a.bin_counts.shape != b.bin_counts.shape:
        raise ValueError(f"partials of {a.name!r} were counted against different reference profiles")
    return NumericPartial(
        name=a.name,
        ks_counts=a.ks_counts + b.ks_counts,
        bin_counts=a.bin_counts + b.bin_counts,
        # min/max of two floats are exact; -0.0 against 0.0 may keep either, and no difference can tell.
        low=min(a.low, b.low),
        high=max(a.high, b.high),
        negative_infinities=a.negative_infinities + b.negative_infinities,
        positive_infinities=a.positive_infinities + b.positive_infinities,
    )


def merge_all(profile: FeatureProfile, partials: Iterable[Partial]) -> Partial:
    """All partials merged (the empty partial for none)."""
    merged = empty_partial(profile)
    for partial in partials:
        merged = merge(merged, partial)
    return merged


class Accumulator:
    """A running partial of one feature that a single stream counts its chunks into, in place.

    The same integers as merging each chunk's partial (:func:`merge`), without allocating arrays of the
    reference's size per chunk and adding them: for a continuous reference of a million values a numeric
    partial is 16 MB, and a stream of many batches would spend more time allocating and adding those than
    counting. Not shared between threads: one feature's chunks are added one after another.
    """

    def __init__(self, profile: FeatureProfile) -> None:
        self.profile = profile
        self._running = empty_partial(profile)
        self._counts: dict[str | None, int] = {}
        self._closed = False

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"the accumulator of {self.profile.name!r} was already handed over")

    def add_values(self, values: ArrayLike) -> None:
        """Count a chunk of a numeric feature's current values."""
        self._check_open()
        profile, running = self.profile, self._running
        if not isinstance(profile, NumericProfile) or not isinstance(running, NumericPartial):
            raise ValueError(f"{self.profile.name!r} is categorical: add its value counts")
        layout = numeric_layout(profile)
        chunk = _chunk(values)
        add_ks_counts(layout.distinct, chunk.valid, running.ks_counts)
        running.bin_counts[:] += numeric_bin_counts_sorted(chunk.valid, chunk.missing, layout.edges)
        self._running = replace(
            running,
            low=min(running.low, chunk.low),
            high=max(running.high, chunk.high),
            negative_infinities=running.negative_infinities + chunk.negative_infinities,
            positive_infinities=running.positive_infinities + chunk.positive_infinities,
        )

    def add_value_counts(self, value_counts: Mapping[str | None, int]) -> None:
        """Count a chunk of a categorical feature (its value counts, None = missing)."""
        self._check_open()
        if isinstance(self.profile, NumericProfile):
            raise ValueError(f"{self.profile.name!r} is numeric: add its values")
        for value, count in value_counts.items():
            self._counts[value] = self._counts.get(value, 0) + int(count)

    def partial(self) -> Partial:
        """The partial of everything added, handed over: the accumulator takes no more chunks after this
        (its arrays become the partial's, not copied: they can be tens of MB per feature)."""
        self._closed = True
        running = self._running
        if isinstance(running, CategoricalPartial):
            return CategoricalPartial(running.name, self._counts)
        return running


# ---------------------------------------------------------------------------------------------------------
# A merged partial → the feature's statistics
# ---------------------------------------------------------------------------------------------------------


def finish(partial: Partial, profile: FeatureProfile) -> FeatureDrift:
    """The feature's statistics from its merged partial: the in-memory result (W1: estimate and bound)."""
    if isinstance(partial, CategoricalPartial) and isinstance(profile, CategoricalProfile):
        return categorical_feature_stats(profile, partial.value_counts)
    if isinstance(partial, NumericPartial) and isinstance(profile, NumericProfile):
        return _finish_numeric(partial, profile)
    raise ValueError(f"the partial of {partial.name!r} does not match its profile's kind")


def _share(part: int, total: int) -> float:
    return part / total if total else math.nan


def _finish_numeric(partial: NumericPartial, profile: NumericProfile) -> FeatureDrift:
    layout = numeric_layout(profile)
    expected = (2 * layout.distinct.size + 1, profile.bin_counts.size)
    if (partial.ks_counts.size, partial.bin_counts.size) != expected:
        raise ValueError(f"the partial of {partial.name!r} was counted against another reference profile")
    counts = partial.bin_counts
    rows = int(counts.sum())
    valid = rows - int(counts[-1])
    n_ref = int(layout.cumulative[-1]) if layout.cumulative.size else 0
    statistic, pvalue = ks_from_counts(layout.cumulative, partial.ks_counts, n_ref, valid)
    w1, bound = w1_from_counts(layout, partial, n_ref, valid)
    stats = {
        "psi": psi(profile.bin_counts, counts),
        "ks_statistic": statistic,
        "ks_pvalue": pvalue,
        "js_distance": js_distance(profile.bin_counts, counts),
        "hellinger": hellinger_distance(profile.bin_counts, counts),
        "wasserstein_norm": normalize_w1(w1, profile.w1_scale),
        "missing_share_reference": _share(profile.missing, profile.rows),
        "missing_share_current": _share(rows - valid, rows),
    }
    drift = FeatureDrift(profile.name, "numeric", rows, profile.rows, stats, counts)
    return replace(
        drift,
        wasserstein_bound=_normalized_bound(bound, w1, profile.w1_scale),
        ecdf=ecdf_at_reference_values(layout, partial),
        # The exact finite extremes (inf/-inf when the window has none): the ECDF above is evaluated at the
        # reference's values, so it cannot tell the quality checks the window's own min and max.
        window_min=partial.low if math.isfinite(partial.low) else None,
        window_max=partial.high if math.isfinite(partial.high) else None,
    )


def ecdf_at_reference_values(layout: NumericLayout, partial: NumericPartial) -> WindowEcdf:
    """The chart data of a window computed from partials: its ECDF over finite values, evaluated exactly at
    up to ``ECDF_POINTS`` of the reference's finite distinct values (the in-memory chart steps at the window's
    own values, which a partial does not keep), and the largest gap among those points as D's marker.

    So a window page never has to fetch a streamed window's rows to draw it. The marker sits at a reference
    value: where D itself is reached inside an interval, it is drawn at the interval's start.
    """
    finite = np.isfinite(layout.distinct)
    through = np.cumsum(partial.ks_counts)[1::2]  # #{cur <= r_k}
    m = int(through[-1] + partial.ks_counts[-1]) if through.size else int(partial.ks_counts.sum())
    m_finite = m - partial.negative_infinities - partial.positive_infinities
    n_finite = (
        int(layout.cumulative[-1]) - layout.negative_infinities - layout.positive_infinities
        if layout.cumulative.size
        else 0
    )
    if not finite.any() or m_finite <= 0 or n_finite <= 0:
        return WindowEcdf(np.empty(0), np.empty(0), None)
    x = layout.distinct[finite]
    current = (through[finite] - partial.negative_infinities) / m_finite
    reference = (layout.cumulative[finite] - layout.negative_infinities) / n_finite
    best = int(np.argmax(np.abs(reference - current)))
    location = KsLocation(float(x[best]), float(reference[best]), float(current[best]))
    picked = np.unique(np.linspace(0, x.size - 1, min(ECDF_POINTS, x.size)).round().astype(np.int64))
    return WindowEcdf(x[picked], current[picked], location)


def ks_from_counts(
    cumulative: NDArray[np.int64], counts: NDArray[np.int64], n_ref: int, n_cur: int
) -> tuple[float, float]:
    """KS ``(D, p)`` from the reference's cumulative counts and a merged partial's ``ks_counts``.

    The gaps are evaluated with the kernel's float expression ``i / n - j / m`` at the points that hold its
    extremes (module docstring), starting from ``+0.0`` as the kernel does, so D is the kernel's bit for bit.
    """
    if n_ref == 0 or n_cur == 0:
        return math.nan, math.nan
    ref_above, cur_above = gaps_from_counts(cumulative, counts, n_ref, n_cur)
    return _exact_or_asymptotic(float(max(ref_above, cur_above)), n_ref, n_cur)


def _infinite_rule(layout: NumericLayout, partial: NumericPartial, n_ref: int, n_cur: int) -> float | None:
    """``stats.distances.infinite_w1`` from counts: None when neither side holds ±inf."""
    ref_neg, ref_pos = layout.negative_infinities, layout.positive_infinities
    cur_neg, cur_pos = partial.negative_infinities, partial.positive_infinities
    if not (ref_neg or ref_pos or cur_neg or cur_pos):
        return None
    differ = ref_neg * n_cur != cur_neg * n_ref or ref_pos * n_cur != cur_pos * n_ref
    return math.inf if differ else math.nan


def w1_from_counts(
    layout: NumericLayout, partial: NumericPartial, n_ref: int, n_cur: int
) -> tuple[float, float]:
    """Wasserstein-1 estimate and the largest possible error of it, in the feature's units (module docstring).

    On each interval the scaled integrand ``|R m - n j|`` (``R``: reference count, ``j``: current count below
    the point) takes values for ``j`` in ``[j_a, j_b]``; the true area lies between the width times the
    smallest and the largest of them. Returns ``(midpoint / (n m), half-gap / (n m))`` summed over intervals.
    """
    if n_ref == 0 or n_cur == 0:
        return math.nan, 0.0
    special = _infinite_rule(layout, partial, n_ref, n_cur)
    if special is not None:
        return special, 0.0
    area, error = w1_area_from_counts(
        layout.distinct, layout.cumulative, partial.ks_counts, n_ref, n_cur, partial.low, partial.high
    )
    total = float(n_ref) * float(n_cur)
    return area / total, error / total


def _normalized_bound(bound: float, w1: float, scale: float) -> float:
    """The W1 bound on the normalised scale (``normalize_w1``'s rules; 0 for a non-finite W1, exact by rule)."""
    if not math.isfinite(w1) or bound == 0.0:
        return 0.0
    if scale == 0.0:
        return math.inf
    return bound / scale
