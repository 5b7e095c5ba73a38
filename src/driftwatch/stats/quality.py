"""Data-quality checks derived from the reference, judged per window (docs/quality.md).

Drift tests ask "has the distribution moved?"; these ask "is the data broken?": values outside the range the
reference had, categories it never had, more missing values, a column stuck at one value, rows refused at
ingest, duplicated request ids, and a window with far fewer (or more) rows than usual. Each check returns a
`QualityResult` with a status (`ok`, `warn`, `fail`, or `not_judged` when there is too little to judge) and a
reason a person can act on.

Pure logic over numbers the pipeline already has: the reference profile, the window's statistics
(`missing_share_current`, `unseen_share`, the categorical bin counts and the numeric ECDF steps that
`stats.feature_drift` computed anyway), the monitor's own past window sizes, and a cycle's ingest counts.
Nothing here reads a window's values again.

Bars are learned from the reference where it can say something:

* range: the reference's min/max widened by a tolerance learned from how far the extreme of a window-sized
  sample of the reference falls short of the reference's own extreme (`learned_range`);
* shares (missing, outside the category set, top value): the binomial upper quantile of the reference's own
  share at the window's size, plus an absolute margin (`share_bars`), so a small window's noise is no alarm;
* row count: the median and MAD of the monitor's last windows, with a Poisson floor on the spread.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import bdtr

QualityStatus = Literal["ok", "warn", "fail", "not_judged"]
STATUS_VALUE: Mapping[str, float] = {"ok": 0.0, "warn": 1.0, "fail": 2.0}
"""A status as the number `/metrics` and the alert rules see (no number for `not_judged`)."""

CHECKS = ("range", "categories", "missing", "constant", "row_count", "parse", "type", "duplicates")
"""Every check, in the order the report lists them. `parse`, `type` and `duplicates` are per cycle (the rows a
cycle ingested), the others per window."""

RANGE_DRAWS = 2000
"""Window-sized samples drawn per feature to learn the range tolerance: the 0.99 quantile then sits between
the 20th and 21st largest shortfall."""


@dataclass(frozen=True)
class RangeSettings:
    enabled: bool = True
    quantile: float = 0.99  # of the learned shortfall: the tolerance
    tolerance: float = 1.0  # multiplies the learned tolerance (0: the reference's min/max exactly)
    fail_share: float = 0.01  # fail when more than this share of the window's values is outside
    min: float | None = None  # fixed bounds instead of the learned ones
    max: float | None = None


@dataclass(frozen=True)
class ShareSettings:
    """A share compared with the reference's: warn/fail above the binomial bar plus a margin (absolute)."""

    enabled: bool = True
    warn_margin: float = 0.0
    fail_margin: float = 0.01


@dataclass(frozen=True)
class ConstantSettings:
    enabled: bool = True
    near_constant: float = 0.95  # warn when one value holds at least this share of the window's values


@dataclass(frozen=True)
class RowCountSettings:
    enabled: bool = True
    history: int = 14  # past windows the usual volume is learned from
    min_history: int = 7  # not judged with fewer
    warn_z: float = 4.0  # robust z: |rows - median| / spread
    fail_z: float = 6.0


@dataclass(frozen=True)
class IngestShareSettings:
    """A share of a cycle's rows (quarantined, duplicated): warn/fail above fixed bars."""

    enabled: bool = True
    warn_share: float = 0.0  # any row
    fail_share: float = 0.01


@dataclass(frozen=True)
class FeatureQuality:
    """The per-feature checks' settings, as they apply to one feature."""

    range: RangeSettings = RangeSettings()
    categories: ShareSettings = ShareSettings(warn_margin=0.0, fail_margin=0.01)
    missing: ShareSettings = ShareSettings(warn_margin=0.01, fail_margin=0.05)
    constant: ConstantSettings = ConstantSettings()


@dataclass(frozen=True)
class QualitySettings:
    """A monitor's `quality:` section (config/quality.py); the defaults are documented in docs/quality.md."""

    enabled: bool = True
    defaults: FeatureQuality = FeatureQuality()
    features: Mapping[str, FeatureQuality] = field(default_factory=dict)  # per-feature overrides
    row_count: RowCountSettings = RowCountSettings()
    parse: IngestShareSettings = IngestShareSettings()
    type: IngestShareSettings = IngestShareSettings()
    duplicates: IngestShareSettings = IngestShareSettings(warn_share=0.01, fail_share=0.05)

    def feature(self, name: str) -> FeatureQuality:
        return self.features.get(name, self.defaults)


@dataclass(frozen=True)
class QualityResult:
    check: str
    feature: str | None  # None: a check of the whole window (or cycle)
    status: QualityStatus
    value: float | None  # what was measured (a share, a row count, ...)
    warn_bar: float | None
    fail_bar: float | None
    reason: str


def _result(
    check: str,
    feature: str | None,
    value: float | None,
    bars: tuple[float | None, float | None],
    over: tuple[bool, bool],
    reason: str,
) -> QualityResult:
    status: QualityStatus = "fail" if over[1] else "warn" if over[0] else "ok"
    return QualityResult(check, feature, status, value, bars[0], bars[1], reason)


def not_judged(check: str, feature: str | None, reason: str) -> QualityResult:
    return QualityResult(check, feature, "not_judged", None, None, None, reason)


_SEVERITY: tuple[QualityStatus, ...] = ("fail", "warn", "ok")


def worst(statuses: Sequence[str]) -> QualityStatus:
    """The worst status (fail > warn > ok > not_judged)."""
    for status in _SEVERITY:
        if status in statuses:
            return status
    return "not_judged"


def _pct(share: float) -> str:
    return f"{100 * share:.2f} %"


# --- shares against the reference ----------------------------------------------------------------------------


_BAR_QUANTILES = np.array([0.99, 0.999])


_BDTR_MAX_N = 2**31 - 1  # scipy.special.bdtr takes n as a C int


def binomial_quantile(q: float, n: int, p: float) -> int:
    """The smallest k in [0, n] with P(Binomial(n, p) <= k) >= q, for 0 < q < 1: `scipy.stats.binom.ppf`.

    By bisection on `scipy.special.bdtr` (the binomial CDF), ~log2(n) calls: `scipy.stats` costs every
    process that loads the config ~0.15-0.45 s to import, and this is all it was imported for."""
    if n >= _BDTR_MAX_N:  # bdtr gives NaN from 2^31 trials on: a window that large may pay the import
        from scipy.stats import binom

        return int(binom.ppf(q, n, p))
    lo, hi = -1, n  # P(X <= -1) = 0 < q <= 1 = P(X <= n)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if bdtr(mid, n, p) >= q:
            hi = mid
        else:
            lo = mid
    return hi


def share_bars(reference_share: float, rows: int, settings: ShareSettings) -> tuple[float, float]:
    """(warn, fail) bars for a window share whose reference share is `reference_share`.

    The 0.99 (warn) and 0.999 (fail) quantiles of Binomial(rows, reference_share) / rows: what chance alone
    gives a window of that size drawn from the reference; each at least the reference share plus its margin.
    """
    p = min(max(reference_share, 0.0), 1.0)
    warn_q, fail_q = (binomial_quantile(float(q), rows, p) / rows for q in _BAR_QUANTILES)
    return max(warn_q, p + settings.warn_margin), max(fail_q, p + settings.fail_margin)


def share_check(
    check: str,
    feature: str,
    share: float,
    reference_share: float,
    rows: int,
    settings: ShareSettings,
    what: str,
) -> QualityResult:
    """A window share judged against the reference's (`what` names it in the reason: "missing")."""
    if rows <= 0 or math.isnan(share):
        return not_judged(check, feature, "no rows in the window")
    warn_bar, fail_bar = share_bars(reference_share, rows, settings)
    reason = (
        f"{_pct(share)} {what} (reference {_pct(reference_share)}; warn above {_pct(warn_bar)}, "
        f"fail above {_pct(fail_bar)} at {rows:,} rows)"
    )
    return _result(check, feature, share, (warn_bar, fail_bar), (share > warn_bar, share > fail_bar), reason)


def missing_check(
    feature: str, share: float, reference_share: float, rows: int, settings: ShareSettings
) -> QualityResult:
    """The window's missing share (`missing_share_current`) against the reference's."""
    return share_check("missing", feature, share, reference_share, rows, settings, "missing")


def category_check(
    feature: str,
    unseen_share: float,
    reference_unseen_share: float,
    rows: int,
    settings: ShareSettings,
) -> QualityResult:
    """The share of the window's rows whose value is outside the reference's categories: `unseen_share` and
    `rows` are both over all rows, missing ones included (as the reference's own share is). A reference over
    the category cap has its own "other" share, which is the baseline."""
    return share_check(
        "categories",
        feature,
        unseen_share,
        reference_unseen_share,
        rows,
        settings,
        "of values outside the reference's categories",
    )


# --- value range ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnedRange:
    low: float
    high: float
    reference_min: float
    reference_max: float
    tolerance_low: float
    tolerance_high: float
    sample_size: int


def learned_range(
    sorted_values: NDArray[np.float64], window_rows: int, quantile: float = 0.99, seed: int = 0
) -> LearnedRange | None:
    """The reference's [min, max] widened by tolerances learned from the reference itself; None if empty.

    Draw `RANGE_DRAWS` samples of s = min(window_rows, reference size) values from the reference (with
    replacement) and record how far each sample's max falls short of the reference's max (and its min above
    the reference's min). The `quantile` of those shortfalls is the tolerance on that side. Why that is the
    right width: a window and the reference from one distribution are exchangeable, so how far a window's max
    can overshoot the reference's max is how far one sample's max falls short of another's; the smaller of the
    two sizes sets it (a window of 10 values rarely reaches the reference's tail; a reference of 1,000 rarely
    reaches a 100,000-row window's). A bounded feature (an age of 18-90) learns a tolerance near zero, a
    heavy-tailed one (an income) a wide one.

    On sorted values the sample max is the value at the max of s uniform indices, drawn directly by inverse
    transform (P(max index < k) = (k/m)^s), so each draw costs O(1), not O(s).
    """
    m = int(sorted_values.size)
    if m == 0:
        return None
    s = max(1, min(int(window_rows), m))
    rng = np.random.default_rng(seed)
    u = rng.random((2, RANGE_DRAWS))
    top = np.minimum((m * u[0] ** (1.0 / s)).astype(np.int64), m - 1)  # the sample's max index
    bottom = m - 1 - np.minimum((m * u[1] ** (1.0 / s)).astype(np.int64), m - 1)  # its min index
    ref_min, ref_max = float(sorted_values[0]), float(sorted_values[-1])
    tol_high = float(np.quantile(ref_max - sorted_values[top], quantile))
    tol_low = float(np.quantile(sorted_values[bottom] - ref_min, quantile))
    return LearnedRange(ref_min - tol_low, ref_max + tol_high, ref_min, ref_max, tol_low, tol_high, s)


@dataclass(frozen=True)
class WindowValues:
    """What the range and constant checks need from a numeric window: its ECDF steps over the non-missing
    values, the count of non-missing values, and the window's exact finite min and max (`low`/`high`; None:
    read off the ECDF's ends, exact only when the steps are the window's own).

    `exact_steps`: the steps are the window's own (`stats.ks_location.ecdf_steps`: exact at every distinct
    value when there are at most 250 of them, else 250 evenly spaced steps). False for a window computed from
    partials (streamed, docs/scale.md): its ECDF is evaluated at the reference's values, so a jump there spans
    every window value between two reference points, an upper bound on any one value's share, never the
    share itself."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    present: int
    low: float | None = None
    high: float | None = None
    exact_steps: bool = True

    def extremes(self) -> tuple[float, float] | None:
        """The window's (min, max) over finite values; None when it has none."""
        if self.low is not None and self.high is not None:
            return self.low, self.high
        if not self.exact_steps or self.x.size == 0:
            return None
        return float(self.x[0]), float(self.x[-1])


def _share_outside(values: WindowValues, low: float, high: float) -> float:
    """The share of values below `low` or above `high`, read off the ECDF steps: exact when the window has at
    most 250 distinct values or none is outside; otherwise within one step (about 0.4 percentage points)."""
    x, y = values.x, values.y
    below_i = int(np.searchsorted(x, low, side="left")) - 1  # the last step < low
    below = float(y[below_i]) if below_i >= 0 else 0.0
    upto_i = int(np.searchsorted(x, high, side="right")) - 1  # the last step <= high
    above = 1.0 - (float(y[upto_i]) if upto_i >= 0 else 0.0)
    return below + max(above, 0.0)


def range_check(
    feature: str,
    values: WindowValues,
    reference: NDArray[np.float64],
    settings: RangeSettings,
    learned: LearnedRange | None = None,
    exact_outside: Callable[[float, float], int] | None = None,
) -> QualityResult:
    """Values outside the learned (or configured) range: warn when any is, fail when more than
    `fail_share` of the window's non-missing values are. `learned`, when given, is the range learned for this
    window's size (the pipeline keeps one per feature and size class); else it is learned here.

    The window's min and max are exact (`WindowValues.extremes`). When a value is outside, the share outside is
    counted exactly by `exact_outside(low, high)` (the pipeline counts the window's rows in the database: rare,
    and a count a person reads must be right); without it, it is read off the ECDF steps (`_share_outside`; on
    a streamed window's reference-point steps a rough estimate)."""
    extremes = values.extremes()
    if values.present == 0 or extremes is None:
        return not_judged("range", feature, "no non-missing values in the window")
    bounds = _range_bounds(feature, values.present, reference, settings, learned)
    if isinstance(bounds, QualityResult):
        return bounds
    low, high, basis = bounds
    lo, hi = extremes
    outside = lo < low or hi > high
    if not outside:
        reason = f"every value within [{low:g}, {high:g}] ({basis})"
        return _result("range", feature, 0.0, (0.0, settings.fail_share), (False, False), reason)
    if exact_outside is not None:
        count = exact_outside(low, high)
        share = count / values.present
        counted = f"{count:,} of {values.present:,} values outside ({_pct(share)}"
    else:
        share = _share_outside(values, low, high)
        counted = f"about {_pct(share)} of values outside ("
    reason = (
        f"window min {lo:g}, max {hi:g}; allowed [{low:g}, {high:g}] ({basis}); "
        f"{counted}{'; ' if exact_outside is not None else ''}fail above {_pct(settings.fail_share)})"
    )
    return _result(
        "range", feature, share, (0.0, settings.fail_share), (True, share > settings.fail_share), reason
    )


def _range_bounds(
    feature: str,
    rows: int,
    reference: NDArray[np.float64],
    settings: RangeSettings,
    learned: LearnedRange | None,
) -> tuple[float, float, str] | QualityResult:
    if learned is None and (settings.min is None or settings.max is None):
        learned = learned_range(reference, rows, settings.quantile)
        if learned is None:
            return not_judged("range", feature, "the reference has no values for this feature")
    parts = []
    if settings.min is not None:
        low = settings.min
        parts.append("configured min")
    else:
        assert learned is not None
        low = learned.reference_min - settings.tolerance * learned.tolerance_low
        parts.append(
            f"reference min {learned.reference_min:g} - {settings.tolerance * learned.tolerance_low:g}"
        )
    if settings.max is not None:
        high = settings.max
        parts.append("configured max")
    else:
        assert learned is not None
        high = learned.reference_max + settings.tolerance * learned.tolerance_high
        parts.append(
            f"reference max {learned.reference_max:g} + {settings.tolerance * learned.tolerance_high:g}"
        )
    return low, high, ", ".join(parts)


# --- constant / near-constant --------------------------------------------------------------------------------


def top_share_sorted(sorted_values: NDArray[np.float64]) -> float:
    """The share of the most frequent value of an ascending array (NaN when empty)."""
    n = int(sorted_values.size)
    if n == 0:
        return math.nan
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    runs = np.diff(np.append(starts, n))
    return float(runs.max()) / n


def top_share_counts(counts: NDArray[np.int64]) -> float:
    """The share of the most frequent category among the counted values (NaN when none)."""
    total = int(counts.sum())
    return float(counts.max()) / total if total else math.nan


def constant_check(
    feature: str,
    top_share: float,
    distinct: int,
    present: int,
    reference_top_share: float,
    settings: ConstantSettings,
    min_rows: int,
    top_value: str | None = None,
    top_is_bound: bool = False,
) -> QualityResult:
    """Fail when the window holds one value only and the reference had more; warn when one value holds at least
    `near_constant` of it and more than chance allows given the reference's own top share.

    `top_is_bound`: `top_share` is only an upper bound on the top value's share (a streamed window,
    `numeric_top`): below the warn bar it still proves ok; at or above it the share is not known, so the
    result is `not_judged` (a window of one value is still a fail: its min equals its max)."""
    if present < min_rows:
        return not_judged("constant", feature, f"{present:,} non-missing values, fewer than {min_rows:,}")
    if math.isnan(reference_top_share) or reference_top_share >= 1.0:
        return not_judged("constant", feature, "the reference holds one value only")
    warn_bar = max(settings.near_constant, share_bars(reference_top_share, present, ShareSettings())[0])
    fail = distinct == 1 and top_share >= 1.0
    if top_is_bound and not fail and top_share >= warn_bar:
        return not_judged(
            "constant",
            feature,
            f"a streamed window: one value holds at most {_pct(top_share)} of {present:,} values, not known "
            f"exactly (warn at {_pct(warn_bar)})",
        )
    bound = "at most " if top_is_bound else ""
    reason = (
        f"one value holds {bound}{_pct(top_share)} of {present:,} values (reference's most frequent: "
        f"{_pct(reference_top_share)}; warn at {_pct(warn_bar)})"
    )
    if fail:
        value = f" {top_value}" if top_value is not None else " the same"
        reason = f"constant: every one of {present:,} values is{value} (the reference had several)"
    return _result("constant", feature, top_share, (warn_bar, 1.0), (top_share >= warn_bar, fail), reason)


def numeric_top(values: WindowValues) -> tuple[float, int]:
    """(top-value share, distinct count) from a numeric window's ECDF steps. Exact at most 250 distinct values;
    above that the top share may include the values between two steps (at most ~0.4 %) and the distinct count
    is at least 250.

    A streamed window (`exact_steps` False): its min equal to its max is one value (share 1, one distinct);
    otherwise the share is an upper bound (the largest jump between reference points, or the part above the
    last) and the distinct count is at least 2 (`constant_check(top_is_bound=True)`)."""
    if not values.exact_steps:
        extremes = values.extremes()
        if extremes is not None and extremes[0] == extremes[1]:
            return 1.0, 1
        if values.y.size == 0:
            return math.nan, 2
        jumps = np.diff(np.concatenate(([0.0], values.y, [1.0])))
        return float(jumps.max()), 2
    jumps = np.diff(np.concatenate(([0.0], values.y)))
    return (float(jumps.max()) if jumps.size else math.nan), int(values.x.size)


# --- row count -----------------------------------------------------------------------------------------------


def row_count_check(rows: int, history: Sequence[int], settings: RowCountSettings) -> QualityResult:
    """The window's rows against the monitor's last windows: robust z = |rows - median| / spread, spread =
    max(1.4826 * MAD, sqrt(median)) (the MAD scaled to a standard deviation, floored at the Poisson noise of
    a count, so a perfectly regular history does not make one row's difference an alarm)."""
    if len(history) < settings.min_history:
        return not_judged(
            "row_count",
            None,
            f"{len(history)} earlier windows, fewer than {settings.min_history} to learn from",
        )
    past = np.asarray(history, dtype=np.float64)
    median = float(np.median(past))
    mad = float(np.median(np.abs(past - median)))
    spread = max(1.4826 * mad, math.sqrt(max(median, 1.0)))
    z = (rows - median) / spread
    reason = (
        f"{rows:,} rows; the last {len(history)} windows' median {median:,.0f} (spread {spread:,.1f}): "
        f"z = {z:+.1f} (warn beyond ±{settings.warn_z:g}, fail beyond ±{settings.fail_z:g})"
    )
    over = (abs(z) > settings.warn_z, abs(z) > settings.fail_z)
    # The value is z (signed: too few rows is negative), judged by its size against the bars.
    return _result("row_count", None, z, (settings.warn_z, settings.fail_z), over, reason)


# --- per cycle: ingest ---------------------------------------------------------------------------------------

_QUOTED = re.compile(r"'(?:[^']|'')*'")
_LINE = re.compile(r" \(line \d+\)")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
_FEATURE = re.compile(r"^feature '((?:[^']|'')*)'")
_TYPE_PROBLEMS = ("is not a number", "is not a finite number", "is a nested value")


def reason_kinds(reason: str) -> list[str]:
    """The kinds of problem a quarantine reason names, the row's own values left out, so rows refused for the
    same problem group together: "feature 'age': 'abc' is not a number (line 7)" → "feature 'age': … is not a
    number". A reason may name several problems (joined by '; ')."""
    kinds = []
    for part in reason.split("; "):
        part = _LINE.sub("", part)
        head = _FEATURE.match(part)
        prefix = head.group(0) if head else ""
        rest = _TIMESTAMP.sub("…", _QUOTED.sub("…", part[len(prefix) :]))
        kinds.append(prefix + rest)
    return kinds


def type_failure_feature(kind: str) -> str | None:
    """The feature a reason kind names as holding a value of the wrong type, else None."""
    head = _FEATURE.match(kind)
    if head is None or not any(problem in kind for problem in _TYPE_PROBLEMS):
        return None
    return head.group(1).replace("''", "'")


def ingest_share_check(
    check: str, feature: str | None, count: int, rows: int, settings: IngestShareSettings, what: str
) -> QualityResult:
    """A count of a cycle's rows (quarantined, refused for a type, duplicated) as a share of the rows it read."""
    if rows <= 0:
        return not_judged(check, feature, "no rows read in this cycle")
    share = count / rows
    reason = (
        f"{count:,} of {rows:,} rows read {what} ({_pct(share)}; warn above {_pct(settings.warn_share)}, "
        f"fail above {_pct(settings.fail_share)})"
    )
    over = (share > settings.warn_share, share > settings.fail_share)
    return _result(check, feature, share, (settings.warn_share, settings.fail_share), over, reason)


def quarantine_checks(
    reasons: Mapping[str, int], rows_read: int, settings: QualitySettings, features: Sequence[str]
) -> list[QualityResult]:
    """`parse` (every quarantined row, its most frequent problems named) and `type` per watched feature (rows
    refused because that feature's value was not a number / finite / a category) for one cycle's ingest.
    `reasons` maps a stored quarantine reason to its row count."""
    kinds: dict[str, int] = {}
    typed: dict[str, int] = {}
    for reason, count in reasons.items():
        named = set()
        for kind in reason_kinds(reason):
            kinds[kind] = kinds.get(kind, 0) + count
            feature = type_failure_feature(kind)
            if feature is not None:
                named.add(feature)
        for feature in named:  # a row counts once per feature even when it names it twice
            typed[feature] = typed.get(feature, 0) + count
    out = []
    if settings.parse.enabled:
        total = sum(reasons.values())
        result = ingest_share_check("parse", None, total, rows_read, settings.parse, "quarantined")
        top = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        if top:
            listed = "; ".join(f"{kind}: {count:,}" for kind, count in top)
            result = dataclasses.replace(result, reason=f"{result.reason}; most frequent: {listed}")
        out.append(result)
    if settings.type.enabled:
        what = "refused: the value is not of the feature's type"
        out += [
            ingest_share_check("type", name, typed.get(name, 0), rows_read, settings.type, what)
            for name in features
        ]
    return out


def duplicates_check(duplicates: int, rows_read: int, settings: IngestShareSettings) -> QualityResult:
    """Rows of a cycle's files whose request id was stored already (an earlier row, batch or file): dropped at
    ingest, so they never reach a window; a rising share usually means a source re-sending or a broken id."""
    return ingest_share_check(
        "duplicates", None, duplicates, rows_read, settings, "had a request id stored already (dropped)"
    )
