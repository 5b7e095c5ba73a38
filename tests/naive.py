"""Slow, obviously correct twins of the numeric kernels and statistics, written from the definitions.

Each twin uses plain Python loops and exact arithmetic where it can, so a disagreement points at the
fast code. Other modules' twins may be added below; keep each one literal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from fractions import Fraction

import duckdb
import numpy as np

# --- PSI -------------------------------------------------------------------------------------------


def naive_quantile_linear(values: Sequence[float], q: float) -> float:
    """Hyndman & Fan type 7: position ``(n - 1) q`` in the sorted values, linear between neighbours."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    fraction = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * fraction


def naive_bin_index(x: float, edges: Sequence[float]) -> int:
    """Bin of one non-missing value: the number of edges ``<= x``."""
    index = 0
    for edge in edges:
        if edge <= x:
            index += 1
    return index


def naive_numeric_bin_counts(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts per value bin, then the missing (NaN) bin."""
    counts = [0] * (len(edges) + 2)
    for x in values:
        if math.isnan(x):
            counts[-1] += 1
        else:
            counts[naive_bin_index(x, edges)] += 1
    return counts


def naive_psi(ref_counts: Sequence[float], cur_counts: Sequence[float], eps: float = 1e-4) -> float:
    """Sum over bins of ``(cur - ref) * ln(cur / ref)`` with shares floored at ``eps``."""
    ref_total = sum(ref_counts)
    cur_total = sum(cur_counts)
    if ref_total == 0 or cur_total == 0:
        return math.nan
    value = 0.0
    for r, c in zip(ref_counts, cur_counts, strict=True):
        ref_share = max(r / ref_total, eps)
        cur_share = max(c / cur_total, eps)
        value += (cur_share - ref_share) * math.log(cur_share / ref_share)
    return value


# --- KS --------------------------------------------------------------------------------------------


def naive_ks_statistic(ref: Sequence[float], cur: Sequence[float]) -> float:
    """``max over sample points v of |#ref<=v / n - #cur<=v / m|`` by counting, O(n m); NaN dropped."""
    ref_valid = [x for x in ref if not math.isnan(x)]
    cur_valid = [x for x in cur if not math.isnan(x)]
    if not ref_valid or not cur_valid:
        return math.nan
    best = 0.0
    for v in ref_valid + cur_valid:
        f_ref = sum(1 for x in ref_valid if x <= v) / len(ref_valid)
        f_cur = sum(1 for x in cur_valid if x <= v) / len(cur_valid)
        best = max(best, abs(f_ref - f_cur))
    return best


def naive_ks_statistic_exact(ref: Sequence[float], cur: Sequence[float]) -> Fraction:
    """The same supremum as an exact fraction (NaN-free inputs)."""
    n, m = len(ref), len(cur)
    best = Fraction(0)
    for v in list(ref) + list(cur):
        gap = Fraction(sum(1 for x in ref if x <= v), n) - Fraction(sum(1 for x in cur if x <= v), m)
        best = max(best, abs(gap))
    return best


def naive_ks_exact_pvalue(n1: int, n2: int, d: Fraction) -> float:
    """``P(D >= d)`` under H0 by counting lattice paths with Python integers (exact), then one division.

    A path from (0, 0) to (n1, n2) steps right (a value from sample 1) or up (sample 2); its D is the
    largest ``|i/n1 - j/n2|`` it visits. Paths staying strictly below ``d`` everywhere are counted by
    dynamic programming; all ``C(n1 + n2, n1)`` paths are equally likely.
    """
    inside = [[0] * (n2 + 1) for _ in range(n1 + 1)]
    for i in range(n1 + 1):
        for j in range(n2 + 1):
            if abs(Fraction(i, n1) - Fraction(j, n2)) >= d:
                continue
            if i == 0 and j == 0:
                inside[i][j] = 1
            else:
                inside[i][j] = (inside[i - 1][j] if i else 0) + (inside[i][j - 1] if j else 0)
    total = math.comb(n1 + n2, n1)
    return float(Fraction(total - inside[n1][n2], total))


def naive_smirnov_sf(n: int, x: Fraction) -> float:
    """``P(D_n^+ >= x)`` by the Birnbaum–Tingey series in exact rational arithmetic, term by term."""
    total = Fraction(0)
    j = 0
    while n - j > n * x:
        t = Fraction(j, n)
        total += math.comb(n, j) * (1 - x - t) ** (n - j) * (x + t) ** (j - 1)
        j += 1
    return float(x * total)


# --- categorical -----------------------------------------------------------------------------------


def naive_category_counts(values: Sequence[str | None], categories: Sequence[str]) -> list[int]:
    """``[count of each category..., unseen, missing]`` with a dict, one value at a time."""
    seen: dict[str, int] = {category: 0 for category in categories}
    unseen = 0
    missing = 0
    for value in values:
        if value is None:
            missing += 1
        elif value in seen:
            seen[value] += 1
        else:
            unseen += 1
    return [seen[category] for category in categories] + [unseen, missing]


def naive_reference_categories(values: Sequence[str | None]) -> tuple[list[str], list[int]]:
    """Categories by descending count then name, with counts in the category_counts layout."""
    tally: dict[str, int] = {}
    missing = 0
    for value in values:
        if value is None:
            missing += 1
        else:
            tally[value] = tally.get(value, 0) + 1
    ordered: list[str] = []
    remaining = dict(tally)
    while remaining:
        best = None
        for category, count in remaining.items():
            if best is None or count > remaining[best] or (count == remaining[best] and category < best):
                best = category
        assert best is not None
        ordered.append(best)
        del remaining[best]
    return ordered, [tally[c] for c in ordered] + [0, missing]


def naive_share(part: float, total: float) -> float:
    """``part / total``; NaN for an empty total."""
    return part / total if total else math.nan


def naive_psi_edges(valid: Sequence[float], bins: int) -> list[float]:
    """The distinct type-7 quantiles at ``k / bins``, k = 1..bins-1, of the non-missing reference values."""
    if not valid:
        return []
    return sorted({naive_quantile_linear(valid, k / bins) for k in range(1, bins)})


def naive_hellinger(ref_counts: Sequence[float], cur_counts: Sequence[float]) -> float:
    """``sqrt(1/2 * sum (sqrt p - sqrt q)^2)`` on the two count vectors' shares; NaN for an empty side."""
    ref_total, cur_total = sum(ref_counts), sum(cur_counts)
    if ref_total == 0 or cur_total == 0:
        return math.nan
    total = 0.0
    for r, c in zip(ref_counts, cur_counts, strict=True):
        total += (math.sqrt(r / ref_total) - math.sqrt(c / cur_total)) ** 2
    return math.sqrt(total / 2)


def numpy_psi_bin_edges(ref_values: object, bins: int = 10) -> np.ndarray:
    """Inner PSI bin edges by numpy's own quantiles (linear, type 7) of the non-missing values, distinct and
    ascending; the NaN an ``inf - inf`` interpolation makes is dropped. The pipeline's index-based edges
    (``stats.binning.psi_bin_edges_sorted``) must equal these."""
    column = np.array(
        [math.nan if v is None else v for v in np.asarray(ref_values, dtype=object)], dtype=float
    )
    valid = column[~np.isnan(column)]
    if valid.size == 0 or bins == 1:
        return np.empty(0, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        edges = np.unique(np.quantile(valid, np.arange(1, bins) / bins))
    return edges[~np.isnan(edges)]


# --- window reads ------------------------------------------------------------------------------------------


def _window_column(
    cur: duckdb.DuckDBPyConnection, monitor: str, version: str, start: datetime, end: datetime, column: str
) -> list[tuple[object]]:
    quoted = '"' + column.replace('"', '""') + '"'
    table = '"' + f"predictions:{monitor}".replace('"', '""') + '"'
    return cur.execute(
        f"SELECT {quoted} FROM {table} WHERE ts >= ? AND ts < ? AND model_version = ?", [start, end, version]
    ).fetchall()


def naive_window_values(
    cur: duckdb.DuckDBPyConnection, monitor: str, version: str, start: datetime, end: datetime, column: str
) -> np.ndarray:
    """One numeric column's values in ``[start, end)`` (missing = NaN), by a literal query of its own: an
    oracle for the pipeline's single read of every column (``pipeline.windows.compute_window``)."""
    rows = _window_column(cur, monitor, version, start, end, column)
    return np.array([math.nan if r[0] is None else r[0] for r in rows], dtype=np.float64)


def naive_window_category_counts(
    cur: duckdb.DuckDBPyConnection, monitor: str, version: str, start: datetime, end: datetime, column: str
) -> dict[str | None, int]:
    """Value → count of one categorical column in ``[start, end)``, counted here with a dict."""
    rows = _window_column(cur, monitor, version, start, end, column)
    counts: dict[str | None, int] = {}
    for (value,) in rows:
        key = None if value is None else str(value)
        counts[key] = counts.get(key, 0) + 1
    return counts


# --- report ECDF and D's point (the report code before stats.ks_location; kept as the oracle) ---------------


def naive_ecdf_points(sorted_values: np.ndarray, max_points: int = 250) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` ECDF steps of the finite values, by ``np.unique`` (the earlier report code)."""
    values = np.asarray(sorted_values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.empty(0), np.empty(0)
    xs = np.unique(values)
    ys = np.searchsorted(values, xs, side="right") / values.size
    if xs.size > max_points:
        targets = np.linspace(ys[0], 1.0, max_points)
        idx = np.unique(np.clip(np.searchsorted(ys, targets, side="left"), 0, xs.size - 1))
        xs, ys = xs[idx], ys[idx]
    return xs, ys


def naive_ks_location(
    reference_sorted: np.ndarray, current_sorted: np.ndarray
) -> tuple[float, float, float] | None:
    """``(x, F_ref(x), F_cur(x))`` at the first ``argmax |F_ref - F_cur|`` over the union of finite values."""
    ref = np.asarray(reference_sorted, dtype=np.float64)
    cur = np.asarray(current_sorted, dtype=np.float64)
    ref = ref[np.isfinite(ref)]
    cur = cur[np.isfinite(cur)]
    if ref.size == 0 or cur.size == 0:
        return None
    candidates = np.unique(np.concatenate([ref, cur]))
    f_ref = np.searchsorted(ref, candidates, side="right") / ref.size
    f_cur = np.searchsorted(cur, candidates, side="right") / cur.size
    i = int(np.argmax(np.abs(f_ref - f_cur)))
    return float(candidates[i]), float(f_ref[i]), float(f_cur[i])


# --- Mergeable partials (stats.partials) -----------------------------------------------------------


def naive_ks_counts(reference: Sequence[float], current: Sequence[float]) -> list[int]:
    """``[below r_1, = r_1, (r_1, r_2), = r_2, ..., = r_K, above r_K]`` by comparing every current value with
    every distinct reference value r_1 < ... < r_K (NaN dropped on both sides)."""
    distinct = sorted({x for x in reference if not math.isnan(x)})
    counts = [0] * (2 * len(distinct) + 1)
    for x in current:
        if math.isnan(x):
            continue
        slot = 0
        for k, r in enumerate(distinct):
            if x == r:
                slot = 2 * k + 1
                break
            if x > r:
                slot = 2 * k + 2
        counts[slot] += 1
    return counts


def naive_wasserstein(reference: Sequence[float], current: Sequence[float]) -> Fraction:
    """``∫ |F_ref - F_cur| dx`` exactly (finite, NaN-free, non-empty samples): the CDFs are constant between
    consecutive distinct values of both samples, so the integral is a sum of rectangles, in fractions."""
    points = sorted(set(reference) | set(current))
    n, m = len(reference), len(current)
    total = Fraction(0)
    for left, right in zip(points, points[1:], strict=False):
        f_ref = Fraction(sum(1 for x in reference if x <= left), n)
        f_cur = Fraction(sum(1 for x in current if x <= left), m)
        total += abs(f_ref - f_cur) * (Fraction(right) - Fraction(left))
    return total


# --- multivariate: encoding and PCA reconstruction error, row by row ---------------------------------------------


def naive_encode_row(
    numeric: dict[str, float],
    categorical: dict[str, str | None],
    medians: dict[str, float],
    kept: dict[str, list[str]],
) -> list[float]:
    """One row's encoded vector before standardising: per numeric feature its value (the median when missing or
    not finite) and a 0/1 missing flag; per categorical feature one 0/1 per kept category, then "other", then
    "missing"."""
    out: list[float] = []
    for name, value in numeric.items():
        missing = value != value or value in (float("inf"), float("-inf"))
        out += [medians[name] if missing else value, 1.0 if missing else 0.0]
    for name, category in categorical.items():
        out += [1.0 if category == c else 0.0 for c in kept[name]]
        out.append(1.0 if category is not None and category not in kept[name] else 0.0)
        out.append(1.0 if category is None else 0.0)
    return out


def naive_reconstruction_error(row: list[float], components: list[list[float]]) -> float:
    """‖x − Σ_j (x·v_j) v_j‖₂ with plain loops (the v_j orthonormal)."""
    recon = [0.0] * len(row)
    for v in components:
        coef = sum(x * c for x, c in zip(row, v, strict=True))
        for i, c in enumerate(v):
            recon[i] += coef * c
    return math.sqrt(sum((x - r) ** 2 for x, r in zip(row, recon, strict=True)))


# --- exact tests (stats.exact_tests): the two-sided p-values as sums over every outcome, in exact arithmetic ------


def naive_fisher_exact_pvalue(table: Sequence[Sequence[int]]) -> Fraction:
    """Fisher's two-sided p-value from the definition: over the 2×2 tables with the observed margins (``y`` the
    top-left cell), P(y) = C(n1, y)·C(n2, n − y) / C(n1 + n2, n), summed over the tables at most (1 + 1e-14)
    times as likely as the observed one (scipy's tolerance). A zero margin leaves one table: 1."""
    (a, b), (c, d) = table
    n1, n2, n = a + b, c + d, a + c
    if 0 in (n1, n2, n, b + d):
        return Fraction(1)
    weights = [math.comb(n1, y) * math.comb(n2, n - y) for y in range(n + 1)]  # 0 outside the support
    bar = weights[a] * (10**14 + 1)  # w <= weights[a] * (1 + 1e-14), in integers
    return Fraction(sum(w for w in weights if w * 10**14 <= bar), math.comb(n1 + n2, n))


def naive_fisher_exact_pvalue_by_ratios(table: Sequence[Sequence[int]]) -> Fraction:
    """The same sum, exactly, for tables whose binomial coefficients are too big to compute (a 10⁷-row
    reference): integer weights proportional to C(n1, y)·C(n2, n − y) over the support lo..hi, built from the
    ratio of consecutive ones, w(y + 1) / w(y) = num(y) / den(y) = (n1 − y)(n − y) / ((y + 1)(n2 − n + y + 1)),
    as w(y) = Π_{j<y} num(j) · Π_{j≥y} den(j)."""
    (a, b), (c, d) = table
    n1, n2, n = a + b, c + d, a + c
    if 0 in (n1, n2, n, b + d):
        return Fraction(1)
    lo, hi = max(0, n - n2), min(n, n1)
    prefix, suffix = [1], [1]
    for y in range(lo, hi):
        prefix.append(prefix[-1] * (n1 - y) * (n - y))
    for y in reversed(range(lo, hi)):
        suffix.append(suffix[-1] * (y + 1) * (n2 - n + y + 1))
    weights = [p * s for p, s in zip(prefix, reversed(suffix), strict=True)]
    bar = weights[a - lo] * (10**14 + 1)
    return Fraction(sum(w for w in weights if w * 10**14 <= bar), sum(weights))


def naive_binomtest_pvalue(k: int, n: int, p: float) -> Fraction:
    """The binomial test's two-sided p-value from the definition: P(j) = C(n, j) p^j (1 − p)^(n − j), with p the
    float's exact binary value, summed over the j at most (1 + 1e-7) times as likely as k (scipy's tolerance)."""
    q = Fraction(p)
    probs = [math.comb(n, j) * q**j * (1 - q) ** (n - j) for j in range(n + 1)]
    bar = probs[k] * (1 + Fraction(1, 10**7))
    return sum((x for x in probs if x <= bar), Fraction(0))
