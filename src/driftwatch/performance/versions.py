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
from driftwatch.performance.metrics import HIGHER_IS_BETTER, compute_metrics, usable_rows
from driftwatch.performance.uncertainty import metric_intervals
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


def shadow_verdict(shadow: ShadowComparison, settings: VersionSettings) -> VersionVerdict:
    """Shadow: enough pairs, agreement not significantly below the bar, flips not concentrated in a segment."""
    if shadow.pairs < settings.min_pairs:
        return VersionVerdict(
            "insufficient_data", (f"{shadow.pairs} paired requests < min_pairs {settings.min_pairs}",)
        )
    if shadow.decided_pairs == 0:
        return VersionVerdict(
            "candidate_ok",
            (f"no decisions to compare; mean score difference {shadow.score_diff_mean:+.4g}",),
        )
    reasons = []
    if shadow.agreement_high < settings.min_agreement:
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
    if reasons:
        return VersionVerdict("candidate_worse", tuple(reasons))
    return VersionVerdict(
        "candidate_ok",
        (
            f"decisions agree on {shadow.agreement:.1%} of {shadow.decided_pairs} pairs "
            f"(95% CI {shadow.agreement_low:.1%}–{shadow.agreement_high:.1%}); no segment concentrates flips",
        ),
    )


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
        return f"{overall.metric} is undefined on one side (e.g. a single class among the labels)"
    return None
