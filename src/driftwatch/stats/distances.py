"""Distances between a reference and a current window: Jensen–Shannon, Hellinger, Wasserstein-1.

JS and Hellinger work on count vectors in the layouts the PSI code produces (numeric: value bins then one
missing bin; categorical: reference categories, then unseen, then missing), so missing and unseen mass moves
the distance like any other bin. Wasserstein-1 works on the raw valid values: the reference arrives sorted
from the profile and the window is sorted once here. (The pipeline takes W1 from the KS merge instead, see
:mod:`driftwatch.stats.ks_w1`; both paths share the ±inf rule and the normalisation defined here.)
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftwatch.kernels.distances import wasserstein1_sorted
from driftwatch.stats.sorting import sorted_valid


def _share_pair(
    reference_counts: ArrayLike, current_counts: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Both count vectors as shares, or None when either side has no mass (the distance is undefined)."""
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.ndim != 1 or cur.ndim != 1 or ref.shape != cur.shape:
        raise ValueError(
            f"count vectors must be 1-D and of equal length, got shapes {ref.shape} and {cur.shape}"
        )
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(cur))):
        raise ValueError("counts must be finite")
    if np.any(ref < 0) or np.any(cur < 0):
        raise ValueError("counts must be non-negative")
    ref_total = ref.sum()
    cur_total = cur.sum()
    if ref_total == 0 or cur_total == 0:
        return None
    return ref / ref_total, cur / cur_total


def js_distance(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Jensen–Shannon distance, base 2, between two count vectors; in [0, 1], NaN if a side is empty.

    With shares p (reference), q (current) and m = (p + q) / 2:
    JSD = ½ KL(p‖m) + ½ KL(q‖m) in bits, and the distance is sqrt(JSD) (Endres & Schindelin 2003, "A new
    metric for probability distributions"); the same quantity as
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)``. Base 2 bounds it by 1, reached by disjoint
    supports.

    Summed per bin in a cancellation-free form: with m_i = (p_i + q_i)/2 and d_i = (p_i − q_i)/(p_i + q_i),
    KL(p‖m) + KL(q‖m) = Σ m_i·g(d_i), g(d) = 2d·atanh(d) + ln(1 − d²) ≈ d² + d⁴/6 (g(±1) = 2 ln 2, a bin on
    one side only). The textbook Σ p·ln(p/m) adds terms of size |d| to get a result of size d², and loses
    nearly-equal windows to rounding; here the two terms differ by a factor 2 at most.
    """
    shares = _share_pair(reference_counts, current_counts)
    if shares is None:
        return math.nan
    p, q = shares
    total = p + q
    used = total > 0
    mid = 0.5 * total[used]
    d = (p[used] - q[used]) / total[used]
    one_sided = np.abs(d) == 1.0
    g = np.full(d.shape, 2.0 * math.log(2.0))
    inner = d[~one_sided]
    g[~one_sided] = 2.0 * inner * np.arctanh(inner) + np.log1p(-(inner * inner))
    divergence_nats = 0.5 * float(np.sum(mid * g))
    return min(math.sqrt(max(divergence_nats, 0.0) / math.log(2.0)), 1.0)


def hellinger_distance(reference_counts: ArrayLike, current_counts: ArrayLike) -> float:
    """Hellinger distance between two count vectors; in [0, 1], NaN if a side is empty.

    H = sqrt(1 − Σ sqrt(p_i·q_i)) on the shares p, q, i.e. the normalisation with the ½ inside:
    H² = ½ Σ (sqrt(p_i) − sqrt(q_i))², so H = 1 exactly for disjoint supports (Le Cam & Yang, "Asymptotics
    in Statistics", ch. 3). Some texts drop the ½ and get a range [0, √2]. It is computed in the
    squared-difference form, which equals the formula above but keeps full precision when the Bhattacharyya
    coefficient Σ sqrt(p_i·q_i) is close to 1.
    """
    shares = _share_pair(reference_counts, current_counts)
    if shares is None:
        return math.nan
    p, q = shares
    return min(float(np.sqrt(0.5 * np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))), 1.0)


def _valid_sorted(values: ArrayLike, *, name: str, presorted: bool) -> NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    array = array[~np.isnan(array)]
    if not presorted:
        return sorted_valid(array)  # numpy's sort or the radix kernel, whichever is faster on this CPU
    if array.size > 1 and not bool(np.all(array[:-1] <= array[1:])):
        raise ValueError(f"{name} must be sorted ascending")
    return array


def _infinite_masses_differ(u: NDArray[np.float64], v: NDArray[np.float64]) -> bool:
    """True when the two samples put different shares of their mass at −inf or at +inf."""
    n, m = u.size, v.size
    u_neg = int(np.count_nonzero(u == -np.inf))
    v_neg = int(np.count_nonzero(v == -np.inf))
    u_pos = int(np.count_nonzero(u == np.inf))
    v_pos = int(np.count_nonzero(v == np.inf))
    # Integer cross-multiplication compares the shares u_neg/n and v_neg/m without rounding.
    return u_neg * m != v_neg * n or u_pos * m != v_pos * n


def finite_ends(sorted_values: NDArray[np.float64]) -> bool:
    """No ±inf in an ascending, NaN-free sample (True when empty): any infinity would sit at an end."""
    return sorted_values.size == 0 or bool(np.isfinite(sorted_values[0]) and np.isfinite(sorted_values[-1]))


def infinite_w1(ref: NDArray[np.float64], cur: NDArray[np.float64]) -> float | None:
    """W1 of two non-empty, NaN-free, ascending samples by the ±inf rule, or None when all values are finite.

    Shared by every W1 path (here and :mod:`driftwatch.stats.ks_w1`), so the merge kernels only ever need
    to be right for finite values; see :func:`wasserstein_distance` for the rule.
    """
    if finite_ends(ref) and finite_ends(cur):  # four loads decide the common, all-finite case
        return None
    return math.inf if _infinite_masses_differ(ref, cur) else math.nan


def _w1(ref: NDArray[np.float64], cur: NDArray[np.float64]) -> float:
    """W1 of two validated (NaN-free, ascending) samples, with the documented ±inf rule."""
    if ref.size == 0 or cur.size == 0:
        return math.nan
    special = infinite_w1(ref, cur)
    if special is not None:
        return special
    return float(wasserstein1_sorted(ref, cur))


def reference_scale(ref_sorted: NDArray[np.float64]) -> float:
    """The population standard deviation (ddof = 0) :func:`normalized_wasserstein` divides by.

    NaN for an empty or non-finite sample: W1 is then NaN or ±inf already and the scale is never used (and
    ``np.std`` of an infinite value would only warn about ``inf - inf``).
    """
    if ref_sorted.size == 0 or not finite_ends(ref_sorted):
        return math.nan
    return float(np.std(ref_sorted))


def normalize_w1(distance: float, scale: float) -> float:
    """``distance / scale`` with the rules of :func:`normalized_wasserstein` (non-finite W1 as is, σ = 0)."""
    if not math.isfinite(distance):
        return distance
    if scale == 0.0:
        return 0.0 if distance == 0.0 else math.inf
    return distance / scale


def wasserstein_distance(
    reference_sorted: ArrayLike, current: ArrayLike, *, current_sorted: bool = False
) -> float:
    """Wasserstein-1 (earth mover's) distance between the valid reference and current values.

    W1 = ∫ |F_ref(x) − F_cur(x)| dx over the two empirical CDFs (Vallender 1974; the definition
    ``scipy.stats.wasserstein_distance(ref, cur)`` computes), in the units of the feature, by one O(n + m)
    merge of the two sorted samples. NaN values are dropped first; an empty side gives NaN.
    ``reference_sorted`` must be ascending (the profile stores it so); ``current`` is sorted here unless
    ``current_sorted`` says it already is.

    ±inf are valid values, and the result is defined by where the mass has to go:

    - the two samples put different shares of their mass at −inf or at +inf → ``inf`` (some mass must travel
      an infinite distance);
    - the shares at ±inf are equal and not all zero → ``NaN`` (matching the infinite masses costs ∞ − ∞).

    scipy agrees whenever at most one infinite value is present. With repeated infinities scipy returns NaN
    even when the shares differ (e.g. ``[inf, inf]`` vs ``[1]``), because its interval widths include
    ``inf − inf``; we return ``inf`` there, since all of the mass has to move infinitely far.
    """
    ref = _valid_sorted(reference_sorted, name="reference_sorted", presorted=True)
    cur = _valid_sorted(current, name="current", presorted=current_sorted)
    return _w1(ref, cur)


def normalized_wasserstein(
    reference_sorted: ArrayLike, current: ArrayLike, *, current_sorted: bool = False
) -> float:
    """Wasserstein-1 distance divided by the reference's standard deviation (ddof = 0).

    W1 / σ_ref reads as "how many reference standard deviations the mass moved on average", so one
    threshold fits features of any unit. σ_ref uses ddof = 0: the stored reference is the population the
    window is compared with, not a sample to estimate from, and with thousands of rows the two conventions
    differ by < 0.1 %.

    Non-finite W1 (see ``wasserstein_distance``) is returned as is. A constant reference (σ_ref = 0) gives
    0.0 when W1 = 0 and ``inf`` otherwise: any movement away from a constant is infinitely many of its
    (zero) standard deviations, and a finite stand-in scale would be arbitrary.
    """
    ref = _valid_sorted(reference_sorted, name="reference_sorted", presorted=True)
    cur = _valid_sorted(current, name="current", presorted=current_sorted)
    distance = _w1(ref, cur)
    if not math.isfinite(distance):
        return distance  # the scale is not needed: skip its pass over the reference
    return normalize_w1(distance, reference_scale(ref))
