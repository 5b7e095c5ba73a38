"""Two model versions side by side in one window: how their outputs differ, and (shadow) how often they disagree.

Pure functions over arrays; the pipeline (pipeline/versions.py) reads the rows and stores the results.

- ``output_drift``: the baseline's and the candidate's score distributions (two-sample KS, PSI on the
  baseline's quantile bins) and decision mixes (Pearson χ², Jensen–Shannon) — valid for shadow and canary.
- ``shadow_comparison``: the same requests scored by both versions (paired): the decision agreement rate with
  a Wilson interval, the score difference (candidate − baseline: mean and quantiles), the flip share, and the
  segments the flips concentrate in (each segment value's flip rate against the rest's, a two-proportion test,
  Benjamini–Hochberg over every segment value tested).
- ``input_drift``: each feature of the candidate's traffic against the baseline's in the same window (canary:
  a biased traffic split shows here, not as a better or worse model).

Formulas and defaults are in docs/versions.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from driftwatch.stats.binning import numeric_bin_counts, psi_bin_edges_sorted
from driftwatch.stats.chi2 import chi2_homogeneity, two_proportion_pvalue
from driftwatch.stats.distances import js_distance
from driftwatch.stats.ks import ks_2samp_sorted
from driftwatch.stats.multiple_testing import benjamini_hochberg
from driftwatch.stats.proportions import wilson_limits
from driftwatch.stats.psi import psi
from driftwatch.stats.sorting import sorted_valid

NAN = math.nan
DEFAULT_PSI_BINS = 10
SCORE_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)

FloatArray = NDArray[np.float64]
ObjectArray = NDArray[np.object_]


def two_sided_z(confidence: float) -> float:
    """z with P(|Z| ≤ z) = confidence (1.96 at 95 %)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    return float(ndtri(0.5 + confidence / 2.0))


# --- output drift: the two versions' score distributions and decision mixes ----------------------------------


@dataclass(frozen=True)
class OutputDrift:
    """Baseline vs candidate outputs in one window; NaN where a side has nothing to compare."""

    baseline_rows: int
    candidate_rows: int
    score_ks: float = NAN  # sup |F_b − F_c|
    score_ks_pvalue: float = NAN
    score_psi: float = NAN  # on the baseline's quantile bins, missing scores as their own bin
    decision_chi2_pvalue: float = NAN
    decision_js: float = NAN  # Jensen–Shannon distance, base 2, of the decision mixes


def category_counts(
    baseline: Sequence[object] | ObjectArray, candidate: Sequence[object] | ObjectArray
) -> tuple[list[str], FloatArray, FloatArray]:
    """Counts of each value on both sides over the union of their values (None counts as its own value)."""
    b = ["" if v is None else str(v) for v in baseline]
    c = ["" if v is None else str(v) for v in candidate]
    labels = sorted(set(b) | set(c))
    index = {label: i for i, label in enumerate(labels)}
    b_counts = np.bincount([index[v] for v in b], minlength=len(labels)).astype(np.float64)
    c_counts = np.bincount([index[v] for v in c], minlength=len(labels)).astype(np.float64)
    return labels, b_counts, c_counts


def numeric_shift(baseline: FloatArray, candidate: FloatArray, bins: int) -> tuple[float, float, float]:
    """(KS statistic, KS p-value, PSI) of candidate vs baseline values; NaN where a side has no valid value."""
    b_sorted, c_sorted = sorted_valid(baseline), sorted_valid(candidate)
    if b_sorted.size == 0 or c_sorted.size == 0:
        return NAN, NAN, NAN
    ks = ks_2samp_sorted(b_sorted, c_sorted)
    edges = psi_bin_edges_sorted(b_sorted, bins)
    return (
        ks.statistic,
        ks.pvalue,
        psi(numeric_bin_counts(baseline, edges), numeric_bin_counts(candidate, edges)),
    )


def categorical_shift(
    baseline: Sequence[object] | ObjectArray, candidate: Sequence[object] | ObjectArray
) -> tuple[float, float]:
    """(χ² p-value, JS distance) of the candidate's value mix vs the baseline's; NaN when a side is empty."""
    if len(baseline) == 0 or len(candidate) == 0:
        return NAN, NAN
    _, b_counts, c_counts = category_counts(baseline, candidate)
    return chi2_homogeneity(b_counts, c_counts).pvalue, js_distance(b_counts, c_counts)


def output_drift(
    baseline_scores: FloatArray,
    candidate_scores: FloatArray,
    baseline_decisions: ObjectArray | None,
    candidate_decisions: ObjectArray | None,
    bins: int = DEFAULT_PSI_BINS,
) -> OutputDrift:
    """Score and decision-mix drift of the candidate against the baseline (either may be absent: None/empty)."""
    ks, ks_p, score_psi = numeric_shift(baseline_scores, candidate_scores, bins)
    chi2_p = js = NAN
    if baseline_decisions is not None and candidate_decisions is not None:
        chi2_p, js = categorical_shift(baseline_decisions, candidate_decisions)
    return OutputDrift(
        baseline_rows=int(baseline_scores.size),
        candidate_rows=int(candidate_scores.size),
        score_ks=ks,
        score_ks_pvalue=ks_p,
        score_psi=score_psi,
        decision_chi2_pvalue=chi2_p,
        decision_js=js,
    )


# --- shadow: the same requests scored by both versions --------------------------------------------------------


@dataclass(frozen=True)
class SegmentFlips:
    """One segment value's flips against the rest of the window's pairs."""

    segment: str  # 'column=value'
    pairs: int
    flips: int
    flip_rate: float
    rest_flip_rate: float
    pvalue: float  # two-proportion test, segment vs the rest; NaN when not tested (too few pairs)
    adjusted_pvalue: float  # Benjamini–Hochberg over every segment value tested in the window
    concentrated: bool  # flip rate significantly above the rest's, by at least `min_lift`


@dataclass(frozen=True)
class ShadowComparison:
    """Paired comparison over the requests both versions scored in the window."""

    pairs: int
    decided_pairs: int  # pairs where both versions gave a decision
    agreement: float = NAN
    agreement_low: float = NAN
    agreement_high: float = NAN
    flip_share: float = NAN
    score_diff_mean: float = NAN  # candidate − baseline
    score_diff_quantiles: tuple[float, ...] = ()  # at SCORE_QUANTILES
    segments: tuple[SegmentFlips, ...] = ()

    @property
    def concentrated(self) -> tuple[SegmentFlips, ...]:
        return tuple(s for s in self.segments if s.concentrated)


@dataclass(frozen=True)
class FlipTest:
    """Bars of the segment flip test."""

    alpha: float = 0.05  # BH level over the window's segment values
    min_pairs: int = 30  # a segment value with fewer pairs is not tested
    min_lift: float = 0.05  # the segment's flip rate must exceed the rest's by this much (absolute)


def _decisions_equal(
    baseline: ObjectArray, candidate: ObjectArray
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(decided, flipped) per pair: both versions gave a decision, and they differ."""
    decided = np.array(
        [b is not None and c is not None for b, c in zip(baseline, candidate, strict=True)], bool
    )
    flipped = np.array([str(b) != str(c) for b, c in zip(baseline, candidate, strict=True)], bool) & decided
    return decided, flipped


def _score_difference(baseline: FloatArray, candidate: FloatArray) -> tuple[float, tuple[float, ...]]:
    diff = np.asarray(candidate, np.float64) - np.asarray(baseline, np.float64)
    diff = diff[np.isfinite(diff)]
    if diff.size == 0:
        return NAN, ()
    quantiles = np.quantile(diff, SCORE_QUANTILES)
    return float(diff.mean()), tuple(float(q) for q in quantiles)


def segment_flips(
    flipped: NDArray[np.bool_], segments: Mapping[str, ObjectArray], test: FlipTest
) -> tuple[SegmentFlips, ...]:
    """Each segment value's flip rate against the rest's (two-proportion z-test), BH-adjusted together.

    ``flipped`` covers the decided pairs; ``segments`` maps a segment column to its value per decided pair.
    """
    cells: list[tuple[str, int, int, float, float, float]] = []
    total, total_flips = flipped.size, int(flipped.sum())
    for column, values in segments.items():
        labels = np.array(["" if v is None else str(v) for v in values], dtype=object)
        for value in sorted(set(labels.tolist())):
            mask = labels == value
            n, k = int(mask.sum()), int(flipped[mask].sum())
            rest_n, rest_k = total - n, total_flips - k
            rate, rest_rate = k / n, (rest_k / rest_n if rest_n else NAN)
            p = NAN
            if n >= test.min_pairs and rest_n >= test.min_pairs:
                p = two_proportion_pvalue(rest_rate, rest_n, rate, n)
            cells.append((f"{column}={value}", n, k, rate, rest_rate, p))
    adjusted = benjamini_hochberg([c[5] for c in cells]) if cells else np.empty(0)
    return tuple(
        SegmentFlips(
            segment=name,
            pairs=n,
            flips=k,
            flip_rate=rate,
            rest_flip_rate=rest_rate,
            pvalue=p,
            adjusted_pvalue=float(q),
            concentrated=bool(q <= test.alpha and rate - rest_rate >= test.min_lift),
        )
        for (name, n, k, rate, rest_rate, p), q in zip(cells, adjusted, strict=True)
    )


def shadow_comparison(
    baseline_scores: FloatArray,
    candidate_scores: FloatArray,
    baseline_decisions: ObjectArray | None,
    candidate_decisions: ObjectArray | None,
    segments: Mapping[str, ObjectArray],
    *,
    confidence: float = 0.95,
    test: FlipTest | None = None,
) -> ShadowComparison:
    """Agreement, score difference and flip concentration over aligned pairs (row i = one request).

    Agreement = share of decided pairs whose decisions are equal, with Wilson limits at ``confidence``
    (two-sided); flip share = 1 − agreement. Without decisions (regression) only the score difference is given.
    """
    test = test or FlipTest()
    pairs = int(baseline_scores.size)
    mean, quantiles = _score_difference(baseline_scores, candidate_scores)
    if baseline_decisions is None or candidate_decisions is None or pairs == 0:
        return ShadowComparison(pairs, 0, score_diff_mean=mean, score_diff_quantiles=quantiles)
    decided, flipped = _decisions_equal(baseline_decisions, candidate_decisions)
    n = int(decided.sum())
    if n == 0:
        return ShadowComparison(pairs, 0, score_diff_mean=mean, score_diff_quantiles=quantiles)
    agreement = 1.0 - float(flipped.sum()) / n
    low, high = wilson_limits(agreement, n, two_sided_z(confidence))
    decided_segments = {column: values[decided] for column, values in segments.items()}
    return ShadowComparison(
        pairs=pairs,
        decided_pairs=n,
        agreement=agreement,
        agreement_low=low,
        agreement_high=high,
        flip_share=1.0 - agreement,
        score_diff_mean=mean,
        score_diff_quantiles=quantiles,
        segments=segment_flips(flipped[decided], decided_segments, test),
    )


# --- input drift between the versions' traffic (canary) ------------------------------------------------------


@dataclass(frozen=True)
class InputShift:
    """One feature of the candidate's traffic against the baseline's, in the same window."""

    feature: str
    kind: str  # 'numeric' or 'categorical'
    statistic: float  # numeric: KS D; categorical: JS distance
    psi: float  # numeric only (NaN for categorical)
    pvalue: float  # KS or χ²
    adjusted_pvalue: float  # Benjamini–Hochberg over the window's features
    shifted: bool  # adjusted p ≤ alpha and the effect is at least the floor


@dataclass(frozen=True)
class InputDriftBars:
    alpha: float = 0.05
    min_psi: float = 0.1  # numeric effect floor ("moderate" PSI)
    min_js: float = 0.1  # categorical effect floor


def input_drift(
    numeric: Mapping[str, tuple[FloatArray, FloatArray]],
    categorical: Mapping[str, tuple[ObjectArray, ObjectArray]],
    bins: int = DEFAULT_PSI_BINS,
    bars: InputDriftBars | None = None,
) -> tuple[InputShift, ...]:
    """Per feature (baseline values, candidate values): KS + PSI or χ² + JS, BH-corrected, with effect floors.

    A feature is ``shifted`` only when it is both significant and large: with thousands of rows per version a
    KS p-value alone flags differences no one would act on.
    """
    bars = bars or InputDriftBars()
    raw: list[tuple[str, str, float, float, float]] = []
    for name, (b, c) in numeric.items():
        d, p, value = numeric_shift(b, c, bins)
        raw.append((name, "numeric", d, value, p))
    for name, (bc, cc) in categorical.items():
        p, js = categorical_shift(bc, cc)
        raw.append((name, "categorical", js, NAN, p))
    adjusted = benjamini_hochberg([r[4] for r in raw]) if raw else np.empty(0)
    out = []
    for (name, kind, stat, value, p), q in zip(raw, adjusted, strict=True):
        large = value >= bars.min_psi if kind == "numeric" else stat >= bars.min_js
        out.append(InputShift(name, kind, stat, value, p, float(q), bool(q <= bars.alpha and large)))
    return tuple(out)
