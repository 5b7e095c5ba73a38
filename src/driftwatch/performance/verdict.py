"""Honest verdicts on a window's realized performance: no labels, no alarm; noise is not a drop.

Rules (docs/performance.md has the table):

1. Gate. ``insufficient_labels`` when n_labels < ``min_labels`` or coverage < ``min_coverage``, or when the
   value, the reference value or the uncertainty is not finite. Such a verdict never alerts and says why.
2. Drop, signed so that positive is worse: reference − value for higher-is-better metrics (``HIGHER_IS_BETTER``),
   value − reference otherwise.
3. ``degraded`` iff drop > allowed drop (the tolerance: absolute, in metric units, or relative, as a fraction
   of |reference|) AND drop > noise, where noise = z · sqrt(se² + se_ref²) (z = 1.96 by default). Given an
   interval instead of a standard error, noise is its half-width on the better side (high − value when higher
   is better), so "drop > noise" reads "the reference lies outside the interval, on the good side". Both
   comparisons are strict. Otherwise ``ok``, with the reason naming which test the drop failed.

So the point estimate must be past the tolerance, and the difference from the reference must be larger than
sampling error: a 1-point accuracy drop on 150 labels (se ≈ 3 points) is not degraded, whatever the tolerance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

from driftwatch.performance.metrics import HIGHER_IS_BETTER

Status = Literal["insufficient_labels", "ok", "degraded"]

DEFAULT_Z = 1.96


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


def _noise(metric: str, value: float, uncertainty: Uncertainty, reference_stderr: float, z: float) -> float:
    """z-scaled uncertainty of (value − reference) on the side that matters; NaN if unknown."""
    if isinstance(uncertainty, tuple):
        low, high = uncertainty[0], uncertainty[1]
        if math.isfinite(low) and math.isfinite(high):
            half_width = (high - value) if HIGHER_IS_BETTER[metric] else (value - low)
            return math.hypot(max(half_width, 0.0), z * reference_stderr)
        # An interval that could not be computed falls back to the standard error beside it, if any.
        stderr = uncertainty[2] if len(uncertainty) == 3 else math.nan
    else:
        stderr = uncertainty
    return z * math.hypot(stderr, reference_stderr)


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
) -> Verdict:
    """Verdict for ``value`` against ``baseline`` (see the module docstring for the rule).

    ``stderr_or_interval``: a standard error, or an interval (low, high) / (low, high, stderr) such as
    ``uncertainty.Interval``. ``baseline_stderr`` adds the baseline's own sampling error (0 for a configured
    value). ``n_labels`` and ``coverage`` are the window's.
    """
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown metric {metric!r}")
    drop = _signed_drop(metric, value, baseline)
    allowed = tolerance.allowed_drop(baseline)
    noise = _noise(metric, value, stderr_or_interval, baseline_stderr, z)

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
    allowed_text = f"tolerance {allowed:.4g}" + (f" ({tolerance.describe()})" if tolerance.relative else "")
    if drop <= allowed:
        return verdict("ok", f"{summary} within {allowed_text}")
    if drop <= noise:
        return verdict(
            "ok",
            f"{summary} exceeds {allowed_text} but not sampling noise {noise:.4g} (z={z:g}); not significant",
        )
    return verdict("degraded", f"{summary} exceeds {allowed_text} and sampling noise {noise:.4g} (z={z:g})")


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

    ``degraded`` iff the relative drop (value_prev − value_now)/|value_prev| (sign flipped for lower-is-better
    metrics) exceeds ``relative_drop`` AND the drop exceeds z·sqrt(se_now² + se_prev²). Both windows must pass
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
