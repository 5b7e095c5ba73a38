"""Baseline vs candidate on labelled rows (canary), and the comparison's verdict per window.

- ``compare_metric``: each version's realized metric on its OWN labelled rows (disjoint requests), with normal
  intervals from the analytic standard errors of ``uncertainty.py`` (DeLong for ROC AUC, binomial for
  accuracy, CLT for the means), and a one-sided test that the candidate is worse by more than ``tolerance``:
  drop = (baseline − candidate) for higher-is-better metrics, else (candidate − baseline);
  z = (drop − tolerance) / sqrt(se_b² + se_c²), p = Φ(−z). For accuracy this is the (unpooled) two-proportion
  z-test; for AUC the two-sample DeLong test (independent samples: the covariance term is 0).
- ``verdict``: ``candidate_ok`` / ``candidate_worse`` / ``insufficient_data`` with reasons, from the shadow
  statistics (agreement, flip concentration) or the canary ones (metric difference overall and per segment,
  input drift between the two versions' traffic).

docs/versions.md has the formulas, the defaults and the false-alarm rates measured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from driftwatch.config.versions import VersionSettings
from driftwatch.performance.metrics import (
    HIGHER_IS_BETTER,
    BinaryData,
    RegressionData,
    TaskData,
    compute_metrics,
    mean_terms,
    prepare_task_data,
    usable_rows,
)
from driftwatch.performance.uncertainty import delong_components, metric_intervals
from driftwatch.stats.multiple_testing import benjamini_hochberg
from driftwatch.stats.versions import InputShift, ShadowComparison, two_sided_z

VersionStatus = Literal["candidate_ok", "candidate_worse", "insufficient_data"]
STATUSES: tuple[VersionStatus, ...] = ("candidate_ok", "candidate_worse", "insufficient_data")
NAN = math.nan


@dataclass(frozen=True)
class LabelledRows:
    """One version's labelled rows in a window (or a segment of it): truth and score/prediction."""

    truth: NDArray[Any]
    score: NDArray[Any]


@dataclass(frozen=True)
class MetricComparison:
    segment: str  # '*' overall, else 'column=value'
    metric: str
    baseline_value: float
    baseline_low: float
    baseline_high: float
    baseline_n: int
    candidate_value: float
    candidate_low: float
    candidate_high: float
    candidate_n: int
    delta: float  # candidate − baseline (sign as the metric reads: for AUC negative is worse)
    delta_low: float
    delta_high: float
    pvalue: float  # one-sided: the candidate is worse by more than the tolerance
    adjusted_pvalue: float = NAN  # BH over the window's segment values (overall: = pvalue)
    worse: bool = False


@dataclass(frozen=True)
class TaskSpec:
    task: str
    threshold: float = 0.5
    positive_label: Any = 1


def _value_and_stderr(spec: TaskSpec, metric: str, rows: LabelledRows) -> tuple[float, float, int]:
    """(value, analytic stderr, usable rows) of one metric on one version's rows."""
    if rows.truth.size == 0:
        return NAN, NAN, 0
    kwargs = {"threshold": spec.threshold, "positive_label": spec.positive_label}
    value = compute_metrics(spec.task, rows.truth, rows.score, **kwargs)[metric]
    interval = metric_intervals(spec.task, rows.truth, rows.score, n_boot=0, **kwargs)[metric]
    n = int(np.count_nonzero(_usable(rows)))
    return value, interval.stderr, n


def _usable(rows: LabelledRows) -> NDArray[np.bool_]:
    return usable_rows(rows.truth, rows.score)


def compare_metric(
    spec: TaskSpec,
    metric: str,
    segment: str,
    baseline: LabelledRows,
    candidate: LabelledRows,
    *,
    tolerance: float = 0.0,
    confidence: float = 0.95,
) -> MetricComparison:
    """The two versions' metric, intervals, difference and the one-sided "candidate worse" p-value."""
    z = two_sided_z(confidence)
    b, b_se, b_n = _value_and_stderr(spec, metric, baseline)
    c, c_se, c_n = _value_and_stderr(spec, metric, candidate)
    delta = c - b
    se = math.sqrt(b_se**2 + c_se**2) if math.isfinite(b_se) and math.isfinite(c_se) else NAN
    drop = -delta if HIGHER_IS_BETTER[metric] else delta
    pvalue = NAN
    if math.isfinite(drop) and math.isfinite(se):
        # se = 0 (e.g. two perfect versions): worse only if the drop exceeds the tolerance outright.
        pvalue = float(ndtr(-(drop - tolerance) / se)) if se > 0 else (0.0 if drop > tolerance else 1.0)
    return MetricComparison(
        segment=segment,
        metric=metric,
        baseline_value=b,
        baseline_low=b - z * b_se,
        baseline_high=b + z * b_se,
        baseline_n=b_n,
        candidate_value=c,
        candidate_low=c - z * c_se,
        candidate_high=c + z * c_se,
        candidate_n=c_n,
        delta=delta,
        delta_low=delta - z * se,
        delta_high=delta + z * se,
        pvalue=pvalue,
        adjusted_pvalue=pvalue,
    )


PAIRED_MEANS = frozenset({"accuracy", "log_loss", "brier", "mae", "mape"})  # means of per-row terms
# Ratios of row means, R = mean(a)/mean(b) (binary, thresholded): (a, b) per row.
PAIRED_RATIOS = frozenset({"precision", "recall", "f1"})
PAIRED_METRICS = PAIRED_MEANS | PAIRED_RATIOS | {"roc_auc", "rmse", "r2"}


def _ratio_influence(
    a: NDArray[np.float64], b: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64]] | None:
    """R = mean(a)/mean(b) and its per-row influence (a_i − R·b_i)/mean(b) (delta method: se(R) = sd/√n)."""
    mean_b = float(b.mean())
    if mean_b == 0.0:
        return None
    ratio = float(a.mean()) / mean_b
    return ratio, (a - ratio * b) / mean_b


def _binary_ratio(metric: str, data: BinaryData) -> tuple[float, NDArray[np.float64]] | None:
    tp = (data.positive & data.predicted).astype(np.float64)
    if metric == "precision":
        return _ratio_influence(tp, data.predicted.astype(np.float64))
    if metric == "recall":
        return _ratio_influence(tp, data.positive.astype(np.float64))
    wrong = (data.positive != data.predicted).astype(np.float64)  # FP + FN, one per row at most
    return _ratio_influence(2.0 * tp, 2.0 * tp + wrong)


def _influence(metric: str, data: TaskData) -> tuple[float, NDArray[np.float64]] | None:
    """(value, per-row influence ψ) of a metric: se(value) = sd(ψ)/√n, and on the same rows
    se(candidate − baseline) = sd(ψ_c − ψ_b)/√n. Means: ψ = the row terms. RMSE = √mean(e²): ψ = e²/(2·RMSE)
    (delta method). R² = 1 − mean(e²)/mean((y − ȳ)²): ψ = −(e² − (1 − R²)(y − ȳ)²)/mean((y − ȳ)²).
    Precision/recall/F1: ratios of row means (``_ratio_influence``). None where undefined."""
    if metric in PAIRED_RATIOS:
        return _binary_ratio(metric, data) if isinstance(data, BinaryData) else None
    terms = mean_terms(data)
    if metric in PAIRED_MEANS:
        t = terms.get(metric)
        return None if t is None else (float(t.mean()), t)
    squared = terms.get("squared_error")
    if squared is None or not isinstance(data, RegressionData):
        return None
    if metric == "rmse":
        rmse = math.sqrt(float(squared.mean()))
        return rmse, (squared / (2.0 * rmse) if rmse > 0 else np.zeros_like(squared))
    spread = (data.y_true - data.y_true.mean()) ** 2
    found = _ratio_influence(squared, spread)
    return None if found is None else (1.0 - found[0], -found[1])


def _paired_difference(
    metric: str, b: TaskData, c: TaskData
) -> tuple[float, float, float, float, float] | None:
    """(baseline value, its se, candidate value, its se, se of the difference) on the same rows."""
    if metric == "roc_auc":
        return _paired_auc(b, c)
    found_b, found_c = _influence(metric, b), _influence(metric, c)
    if found_b is None or found_c is None or b.n < 2:
        return None
    (bv, psi_b), (cv, psi_c) = found_b, found_c
    root_n = math.sqrt(b.n)

    def sd(x: NDArray[np.float64]) -> float:
        return float(np.std(x, ddof=1)) / root_n

    return bv, sd(psi_b), cv, sd(psi_c), sd(psi_c - psi_b)


def _paired_auc(b: TaskData, c: TaskData) -> tuple[float, float, float, float, float] | None:
    """DeLong's test for two correlated AUCs: Var(Δ) from the differences of the structural components."""
    if not isinstance(b, BinaryData) or not isinstance(c, BinaryData):
        return None
    n1 = int(np.count_nonzero(b.positive))
    n0 = b.n - n1
    if n1 < 2 or n0 < 2:
        return None
    b10, b01 = delong_components(b.positive, b.score)
    c10, c01 = delong_components(c.positive, c.score)

    def se(v10: NDArray[np.float64], v01: NDArray[np.float64]) -> float:
        return math.sqrt(float(np.var(v10, ddof=1)) / n1 + float(np.var(v01, ddof=1)) / n0)

    return float(b10.mean()), se(b10, b01), float(c10.mean()), se(c10, c01), se(c10 - b10, c01 - b01)


def compare_paired(
    spec: TaskSpec,
    metric: str,
    segment: str,
    truth: NDArray[Any],
    baseline_score: NDArray[Any],
    candidate_score: NDArray[Any],
    *,
    tolerance: float = 0.0,
    confidence: float = 0.95,
) -> MetricComparison | None:
    """Shadow with labels: both versions' metric on the SAME labelled requests, and the paired one-sided test
    that the candidate is worse by more than ``tolerance``. ROC AUC: DeLong's test for correlated AUCs
    (Var(Δ) from the differences of the structural components); mean metrics (accuracy, log loss, Brier, MAE,
    MAPE): the paired z-test on per-request differences d_i = term_c,i − term_b,i (for accuracy the large-sample
    form of McNemar's test); RMSE, R², precision, recall, F1: the same test on the difference of the delta-method
    influences (``_influence``). None for a metric without a paired form here (the multiclass macro metrics) or
    where it is undefined (e.g. no predicted positives for precision, constant truth for R²)."""
    if metric not in PAIRED_METRICS:
        return None
    keep = usable_rows(truth, baseline_score) & usable_rows(truth, candidate_score)
    kwargs = {"threshold": spec.threshold, "positive_label": spec.positive_label}
    b = prepare_task_data(spec.task, truth[keep], baseline_score[keep], **kwargs)
    c = prepare_task_data(spec.task, truth[keep], candidate_score[keep], **kwargs)
    found = _paired_difference(metric, b, c)
    if found is None:
        return None
    bv, b_se, cv, c_se, d_se = found
    z = two_sided_z(confidence)
    delta = cv - bv
    drop = -delta if HIGHER_IS_BETTER[metric] else delta
    pvalue = float(ndtr(-(drop - tolerance) / d_se)) if d_se > 0 else (0.0 if drop > tolerance else 1.0)
    n = int(b.n)
    return MetricComparison(
        segment,
        metric,
        bv,
        bv - z * b_se,
        bv + z * b_se,
        n,
        cv,
        cv - z * c_se,
        cv + z * c_se,
        n,
        delta,
        delta - z * d_se,
        delta + z * d_se,
        pvalue,
        pvalue,
    )


def compare_segments(
    spec: TaskSpec,
    metric: str,
    baseline: Mapping[str, LabelledRows],
    candidate: Mapping[str, LabelledRows],
    settings: VersionSettings,
) -> list[MetricComparison]:
    """Per segment value present on both sides with at least ``segment_min_pairs`` labelled rows each."""
    out = []
    for segment in sorted(set(baseline) & set(candidate)):
        b, c = baseline[segment], candidate[segment]
        if min(b.truth.size, c.truth.size) < settings.segment_min_pairs:
            continue
        out.append(compare_metric(spec, metric, segment, b, c, tolerance=settings.tolerance))
    return out


def judge_family(comparisons: Sequence[MetricComparison], alpha: float) -> tuple[MetricComparison, ...]:
    """The overall and per-segment comparisons of a window as ONE Benjamini–Hochberg family at ``alpha``:
    `worse` where the adjusted p-value is ≤ alpha (a window with no effect anywhere then calls the candidate
    worse with probability ≤ alpha, however many segments it has)."""
    adjusted = benjamini_hochberg([m.pvalue for m in comparisons]) if comparisons else np.empty(0)
    return tuple(
        replace(m, adjusted_pvalue=float(q), worse=bool(q <= alpha))
        for m, q in zip(comparisons, adjusted, strict=True)
    )


# --- the verdict -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionVerdict:
    status: VersionStatus
    reasons: tuple[str, ...]


def shadow_verdict(
    shadow: ShadowComparison,
    settings: VersionSettings,
    labelled: Sequence[MetricComparison] = (),
    unjudged: str | None = None,
) -> VersionVerdict:
    """Shadow: enough pairs, agreement not significantly below the bar, flips not concentrated in a segment,
    and (with labels) the candidate not worse on the same labelled requests, overall or in a segment.
    ``unjudged``: labels exist but the metric could not be compared on them — never `candidate_ok` then."""
    if shadow.pairs < settings.min_pairs:
        return VersionVerdict(
            "insufficient_data", (f"{shadow.pairs} paired requests < min_pairs {settings.min_pairs}",)
        )
    reasons = _disagreement_reasons(shadow, settings)
    reasons += [f"{_metric_reason(m)} on the same labelled requests" for m in labelled if m.worse]
    if reasons:
        return VersionVerdict("candidate_worse", tuple(reasons))
    if shadow.decided_pairs == 0:
        ok = f"no decisions to compare; mean score difference {shadow.score_diff_mean:+.4g}"
    else:
        ok = (
            f"decisions agree on {shadow.agreement:.1%} of {shadow.decided_pairs} pairs "
            f"(95% CI {shadow.agreement_low:.1%}–{shadow.agreement_high:.1%}); no segment concentrates flips"
        )
    if unjudged is not None:
        return VersionVerdict("insufficient_data", (unjudged,))
    overall = next((m for m in labelled if m.segment == "*"), None)
    return VersionVerdict("candidate_ok", (ok,) + ((_metric_reason(overall),) if overall else ()))


def _disagreement_reasons(shadow: ShadowComparison, settings: VersionSettings) -> list[str]:
    reasons = []
    if shadow.decided_pairs and shadow.agreement_high < settings.min_agreement:
        reasons.append(
            f"decisions agree on {shadow.agreement:.1%} of {shadow.decided_pairs} pairs "
            f"(95% CI {shadow.agreement_low:.1%}–{shadow.agreement_high:.1%}) < min_agreement "
            f"{settings.min_agreement:.0%}"
        )
    for seg in shadow.concentrated:
        reasons.append(
            f"decisions flip in {seg.segment}: {seg.flip_rate:.1%} of {seg.pairs} pairs vs "
            f"{seg.rest_flip_rate:.1%} elsewhere (BH p={seg.adjusted_pvalue:.2g})"
        )
    return reasons


def _metric_reason(m: MetricComparison) -> str:
    where = "overall" if m.segment == "*" else f"on {m.segment}"
    return (
        f"{m.metric} {where}: candidate {m.candidate_value:.4g} (n={m.candidate_n}) vs baseline "
        f"{m.baseline_value:.4g} (n={m.baseline_n}), difference {m.delta:+.4g} "
        f"[{m.delta_low:+.4g}, {m.delta_high:+.4g}], p={m.adjusted_pvalue:.2g}"
    )


def canary_verdict(
    overall: MetricComparison | None,
    segments: Sequence[MetricComparison],
    inputs: Sequence[InputShift],
    settings: VersionSettings,
) -> VersionVerdict:
    """Canary: each version judged on its own labelled rows; a biased traffic split withholds `candidate_ok`."""
    shifted = [s.feature for s in inputs if s.shifted]
    bias = (
        f"the candidate's traffic differs from the baseline's in {', '.join(shifted)}: a performance "
        "difference may come from the split, not the model"
    )
    worse = [m for m in (overall, *segments) if m is not None and m.worse]
    if worse:
        return VersionVerdict(
            "candidate_worse", tuple(_metric_reason(m) for m in worse) + ((bias,) if shifted else ())
        )
    gate = _label_gate(overall, settings)
    if gate is not None:
        return VersionVerdict("insufficient_data", (gate,))
    assert overall is not None  # the gate refuses a missing comparison
    if shifted:
        return VersionVerdict("insufficient_data", (bias, _metric_reason(overall)))
    return VersionVerdict("candidate_ok", (_metric_reason(overall),))


def _label_gate(overall: MetricComparison | None, settings: VersionSettings) -> str | None:
    if overall is None:
        return "no task or no labels: the canary cannot be judged on performance"
    short = [
        f"{side} has {n} labelled rows < min_labels {settings.min_labels}"
        for side, n in (("baseline", overall.baseline_n), ("candidate", overall.candidate_n))
        if n < settings.min_labels
    ]
    if short:
        return "; ".join(short)
    if not math.isfinite(overall.pvalue):
        return (
            f"{overall.metric} or its standard error is undefined on one side (e.g. a single class among "
            "the labels)"
        )
    return None
