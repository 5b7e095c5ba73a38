"""The reference baseline of each metric and the verdicts of one window against it.

One place for what the pipeline stores per reference (value, standard error, proportion count, spread) and how
a window's metrics are judged against it, so ``pipeline/performance.py`` and
``benchmarks/performance_evidence.py`` run the same code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from numpy.typing import ArrayLike

from driftwatch.performance.metrics import METRICS_BY_TASK, compute_metrics, prepare_task_data
from driftwatch.performance.spread import reference_spread
from driftwatch.performance.uncertainty import ANALYTIC_STDERR, metric_intervals, proportion_counts
from driftwatch.performance.verdict import PerformanceGate, Tolerance, Verdict, judge, one_sided_z

# The reference's bootstrap, only for metrics without an analytic standard error (macro metrics, R²).
REFERENCE_N_BOOT = 100
REFERENCE_SEED = 0


@dataclass(frozen=True)
class Baseline:
    """A metric's baseline: its value and what the verdict needs to know about its uncertainty.

    ``stderr`` is 0 and ``count`` NaN for a configured number (no sampling error of its own); ``count`` is a
    proportion's denominator on the reference (Wilson limits); ``spread`` the reference's τ² (0 = none)."""

    value: float
    stderr: float = 0.0
    count: float = math.nan
    spread: float = 0.0


@dataclass(frozen=True)
class MeasuredBaseline:
    baselines: dict[str, Baseline]
    spread_note: str = ""  # why the reference's spread was not measured, if it was not


def measure_baseline(
    task: str, truth: ArrayLike, score: ArrayLike, *, threshold: float = 0.5
) -> MeasuredBaseline:
    """Every metric of ``task`` on the reference rows (in file order: the spread reads consecutive pieces)."""
    metrics = METRICS_BY_TASK[task]
    values = compute_metrics(task, truth, score, threshold=threshold)
    # Analytic standard errors where there is a formula; a seeded bootstrap only when some metric has none.
    n_boot = 0 if all(m in ANALYTIC_STDERR for m in metrics) else REFERENCE_N_BOOT
    intervals = metric_intervals(task, truth, score, threshold=threshold, n_boot=n_boot, seed=REFERENCE_SEED)
    counts = proportion_counts(prepare_task_data(task, truth, score, threshold=threshold))
    spread = reference_spread(task, truth, score, metrics, threshold=threshold)
    baselines = {
        m: Baseline(values[m], intervals[m].stderr, float(counts.get(m, math.nan)), spread.tau2.get(m, 0.0))
        for m in metrics
        if math.isfinite(values[m])
    }
    return MeasuredBaseline(baselines, spread.note)


def judge_window(
    task: str,
    truth: ArrayLike,
    score: ArrayLike,
    baselines: Mapping[str, Baseline],
    judged: Sequence[str],
    *,
    gate: PerformanceGate,
    tolerance: Tolerance,
    n_labels: int,
    coverage: float,
    confidence: float,
    use_spread: bool = True,
    threshold: float = 0.5,
    values: Mapping[str, float] | None = None,
    stderrs: Mapping[str, float] | None = None,
) -> dict[str, Verdict]:
    """Verdicts of the ``judged`` metrics that have a baseline, for one window's labelled rows.

    One-sided at ``confidence``, Bonferroni over ``judged`` (``verdict.one_sided_z``). ``values`` and
    ``stderrs`` may be passed when already computed (the pipeline has them from its bootstrap intervals;
    analytic ones are identical); otherwise they are computed here without resampling.
    """
    z = one_sided_z(confidence, max(len(judged), 1))
    if values is None:
        values = compute_metrics(task, truth, score, threshold=threshold)
    if stderrs is None:
        stderrs = {
            m: i.stderr
            for m, i in metric_intervals(task, truth, score, threshold=threshold, n_boot=0).items()
        }
    counts: dict[str, Any] = (
        proportion_counts(prepare_task_data(task, truth, score, threshold=threshold)) if n_labels else {}
    )
    out: dict[str, Verdict] = {}
    for metric in judged:
        base = baselines.get(metric)
        if base is None:
            continue
        # The window's own uncertainty from its stderr and count (Wilson, logit or normal limits at the
        # one-sided z), not from a two-sided bootstrap interval.
        out[metric] = judge(
            metric,
            values.get(metric, math.nan),
            stderrs.get(metric, math.nan),
            base.value,
            tolerance,
            n_labels,
            coverage,
            gate,
            baseline_stderr=base.stderr,
            z=z,
            count=float(counts.get(metric, math.nan)),
            baseline_count=base.count,
            spread=base.spread if use_spread else 0.0,
        )
    return out
