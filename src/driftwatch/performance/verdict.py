"""Honest verdicts on a window's realized performance: no labels, no alarm; noise is not a drop.

Rules (docs/performance.md, "Verdicts", has the table and the sources):

1. Gate. ``insufficient_labels`` when n_labels < ``min_labels`` or coverage < ``min_coverage``, or when the
   value, the reference value or the uncertainty is not finite. Such a verdict never alerts and says why.
2. Drop, signed so that positive is worse: reference − value for higher-is-better metrics (``HIGHER_IS_BETTER``),
   value − reference otherwise.
3. ``degraded`` iff drop − tolerance > noise: a one-sided test that the true drop exceeds the tolerance (the
   minimum practical drop, default 0). noise = sqrt(h_w² + h_r² + z²·τ²), where h_w is how far the window's
   true value could lie on the better side of its estimate, h_r how far the reference's could lie on the worse
   side (both at the one-sided z), and τ² the reference's own window-to-window spread (``spread.py``). This is
   the MOVER construction of a confidence limit for a difference (Newcombe 1998; Zou & Donner 2008): with
   symmetric normal limits it is the two-sample z-test; with Wilson limits for proportions (accuracy, precision,
   recall) it is Newcombe's hybrid score method; for ROC AUC the limits are DeLong's standard error on the logit
   scale, which keeps them inside (0, 1) and holds the false-alarm rate near AUC 1.
   Given an interval instead of a standard error, h_w is its half-width on the better side.

So a 1-point accuracy drop on 150 labels (se ≈ 3 points) is not degraded, while a 0.01 AUC drop at 0.97 on
1,000 labels usually is: the margin follows each window's own label count, not a fixed tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from scipy.special import expit, logit, ndtri

from driftwatch.performance.metrics import HIGHER_IS_BETTER
from driftwatch.stats.proportions import wilson_limits

Status = Literal["insufficient_labels", "ok", "degraded"]

DEFAULT_CONFIDENCE = 0.95
DEFAULT_Z = float(ndtri(DEFAULT_CONFIDENCE))  # one-sided: 1.645
# Proportions k/n of rows get Wilson score limits (need n); AUCs get logit-scale limits.
PROPORTIONS = frozenset({"accuracy", "precision", "recall"})
AUCS = frozenset({"roc_auc", "roc_auc_ovr_macro"})


def one_sided_z(confidence: float = DEFAULT_CONFIDENCE, tests: int = 1) -> float:
    """z of a one-sided test at level α = (1 − confidence) / tests: Bonferroni over the metrics judged in one
    window, so the chance that a window without change has any metric ``degraded`` stays ≤ 1 − confidence."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    if tests < 1:
        raise ValueError(f"tests must be >= 1, got {tests}")
    return float(ndtri(1.0 - (1.0 - confidence) / tests))


def logit_limits(auc: float, stderr: float, z: float) -> tuple[float, float]:
    """Limits of an AUC on the logit scale: expit(logit A ± z·se / (A(1 − A))) (delta method; Pepe 2003,
    "The Statistical Evaluation of Medical Tests", §5.2.4). At A = 0 or 1 (se is then 0) the limits are A."""
    if not (math.isfinite(auc) and math.isfinite(stderr)):
        return math.nan, math.nan
    if stderr == 0.0 or not 0.0 < auc < 1.0:
        return max(auc - z * stderr, 0.0), min(auc + z * stderr, 1.0)
    centre, half = float(logit(auc)), z * stderr / (auc * (1.0 - auc))
    return float(expit(centre - half)), float(expit(centre + half))


def limits(metric: str, value: float, stderr: float, count: float, z: float) -> tuple[float, float]:
    """One-sided-z limits (low, high) of an estimate: Wilson for proportions with a known count, logit for
    AUCs, value ∓ z·stderr otherwise."""
    if metric in PROPORTIONS and math.isfinite(count):
        return wilson_limits(value, count, z)
    if metric in AUCS:
        return logit_limits(value, stderr, z)
    return value - z * stderr, value + z * stderr


@dataclass(frozen=True)
class PerformanceGate:
    """Minimum evidence before a window's realized performance may be judged.

    ``min_labels``: labelled rows used by the metric; ``min_coverage``: labelled share of the window's
    predictions, in [0, 1].
    """

    min_labels: int = 100
    min_coverage: float = 0.1

    def __post_init__(self) -> None:
        if self.min_labels < 1:
            raise ValueError(f"min_labels must be >= 1, got {self.min_labels}")
        if not 0.0 <= self.min_coverage <= 1.0:
            raise ValueError(f"min_coverage must lie in [0, 1], got {self.min_coverage}")

    def shortfall(self, n_labels: int, coverage: float) -> str | None:
        """Why the gate is closed, or None when it is open."""
        if n_labels < self.min_labels:
            return f"{n_labels} labelled rows < min_labels {self.min_labels}"
        if not coverage >= self.min_coverage:  # NaN coverage fails too
            return f"label coverage {coverage:.1%} < min_coverage {self.min_coverage:.1%}"
        return None


@dataclass(frozen=True)
class Tolerance:
    """How much worse than the reference is still fine: ``amount`` in metric units, or, with ``relative``,
    as a fraction of |reference| (0.10 = "10 % worse")."""

    amount: float
    relative: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.amount) and self.amount >= 0.0):
            raise ValueError(f"tolerance amount must be finite and >= 0, got {self.amount}")

    def allowed_drop(self, reference: float) -> float:
        """The largest drop (in metric units) that is still within tolerance."""
        return self.amount * abs(reference) if self.relative else self.amount

    def describe(self) -> str:
        return (
            f"{self.amount:.4g} relative to the reference" if self.relative else f"{self.amount:.4g} absolute"
        )


@dataclass(frozen=True)
class Verdict:
    """Outcome of judging one metric of one window. ``drop`` > 0 means worse than ``reference``."""

    status: Status
    reason: str
    metric: str
    value: float
    reference: float
    drop: float
    allowed_drop: float
    noise: float

    @property
    def alerting(self) -> bool:
        return self.status == "degraded"


Uncertainty = float | tuple[float, float] | tuple[float, float, float]


def _noise(
    metric: str,
    value: float,
    uncertainty: Uncertainty,
    count: float,
    reference: float,
    reference_stderr: float,
    reference_count: float,
    spread: float,
    z: float,
) -> float:
    """sqrt(h_w² + h_r² + z²τ²): the margin the drop must beat (module docstring); NaN if unknown."""
    higher = HIGHER_IS_BETTER[metric]
    window_width = math.nan
    stderr = uncertainty if not isinstance(uncertainty, tuple) else math.nan
    if isinstance(uncertainty, tuple):
        low, high = uncertainty[0], uncertainty[1]
        if math.isfinite(low) and math.isfinite(high):
            window_width = max((high - value) if higher else (value - low), 0.0)
        else:
            # An interval that could not be computed falls back to the standard error beside it, if any.
            stderr = uncertainty[2] if len(uncertainty) == 3 else math.nan
    if math.isnan(window_width):
        low, high = limits(metric, value, stderr, count, z)
        window_width = (high - value) if higher else (value - low)
    if reference_stderr == 0.0 and not math.isfinite(reference_count):
        reference_width = 0.0  # a configured baseline: no sampling error of its own
    else:
        ref_low, ref_high = limits(metric, reference, reference_stderr, reference_count, z)
        reference_width = (reference - ref_low) if higher else (ref_high - reference)
    return math.sqrt(window_width**2 + reference_width**2 + z * z * max(spread, 0.0))


def _signed_drop(metric: str, value: float, reference: float) -> float:
    return reference - value if HIGHER_IS_BETTER[metric] else value - reference


def judge(
    metric: str,
    value: float,
    stderr_or_interval: Uncertainty,
    baseline: float,
    tolerance: Tolerance,
    n_labels: int,
    coverage: float,
    gate: PerformanceGate,
    *,
    baseline_stderr: float = 0.0,
    z: float = DEFAULT_Z,
    count: float = math.nan,
    baseline_count: float = math.nan,
    spread: float = 0.0,
) -> Verdict:
    """Verdict for ``value`` against ``baseline`` (see the module docstring for the rule).

    ``stderr_or_interval``: a standard error, or an interval (low, high) / (low, high, stderr) such as
    ``uncertainty.Interval``. ``baseline_stderr`` adds the baseline's own sampling error (0 for a configured
    value). ``count`` / ``baseline_count``: the denominator of a proportion metric (accuracy: rows; precision:
    predicted positives; recall: actual positives), which selects Wilson limits. ``spread``: τ², the
    reference's window-to-window variance beyond sampling error. ``z``: the one-sided z (``one_sided_z``).
    ``n_labels`` and ``coverage`` are the window's.
    """
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}")
    drop = _signed_drop(metric, value, baseline)
    allowed = tolerance.allowed_drop(baseline)
    noise = _noise(
        metric, value, stderr_or_interval, count, baseline, baseline_stderr, baseline_count, spread, z
    )

    def verdict(status: Status, reason: str) -> Verdict:
        return Verdict(status, reason, metric, value, baseline, drop, allowed, noise)

    shortfall = gate.shortfall(n_labels, coverage)
    if shortfall is not None:
        return verdict("insufficient_labels", f"insufficient labels: {shortfall}; no verdict, no alert")
    if not math.isfinite(value):
        return verdict(
            "insufficient_labels", f"{metric} is undefined for this window (e.g. one class only); no alert"
        )
    if not math.isfinite(baseline):
        return verdict("insufficient_labels", f"the reference value of {metric} is undefined; no alert")
    if not math.isfinite(noise):
        return verdict("insufficient_labels", f"the sampling uncertainty of {metric} is unknown; no alert")

    summary = f"{metric} {value:.4g} vs reference {baseline:.4g}: drop {drop:.4g}"
    test = f"sampling noise {noise:.4g} (one-sided z={z:.3g})"
    if allowed == 0.0:
        if drop <= 0.0:
            return verdict("ok", f"{summary}, not worse than the reference")
        if drop <= noise:
            return verdict("ok", f"{summary} within {test}; not significant")
        return verdict("degraded", f"{summary} exceeds {test}")
    allowed_text = f"tolerance {allowed:.4g}" + (f" ({tolerance.describe()})" if tolerance.relative else "")
    if drop <= allowed:
        return verdict("ok", f"{summary} within {allowed_text}")
    if drop - allowed <= noise:
        return verdict("ok", f"{summary} exceeds {allowed_text} by less than {test}; not significant")
    return verdict("degraded", f"{summary} exceeds {allowed_text} by more than {test}")


def judge_against_previous(
    metric: str,
    value_now: float,
    value_prev: float,
    *,
    stderr_now: float,
    stderr_prev: float,
    n_now: int,
    n_prev: int,
    coverage_now: float,
    coverage_prev: float,
    gate: PerformanceGate,
    relative_drop: float = 0.10,
    z: float = DEFAULT_Z,
) -> Verdict:
    """Period-over-period verdict, e.g. "online accuracy down 10 % week over week".

    ``degraded`` iff the drop (value_prev − value_now, sign flipped for lower-is-better metrics) exceeds
    ``relative_drop``·|value_prev| by more than z·sqrt(se_now² + se_prev²) (``judge``'s rule). Both windows must pass
    ``gate``; if the previous one does not, the verdict is ``insufficient_labels`` naming it.
    """
    previous_shortfall = gate.shortfall(n_prev, coverage_prev)
    verdict = judge(
        metric,
        value_now,
        stderr_now,
        value_prev,
        Tolerance(relative_drop, relative=True),
        n_now,
        coverage_now,
        gate,
        baseline_stderr=stderr_prev,
        z=z,
    )
    if verdict.status != "insufficient_labels" and previous_shortfall is not None:
        return replace(
            verdict,
            status="insufficient_labels",
            reason=f"insufficient labels in the previous window: {previous_shortfall}; no verdict, no alert",
        )
    return verdict
