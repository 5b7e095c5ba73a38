"""A monitor's `task` and its `performance:` section: the label gate, the tolerance, the baseline, the metrics.

See docs/performance.md, "How the pipeline uses it", and docs/configuration.md for each key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from driftwatch.config.sections import Section
from driftwatch.errors import ConfigError

# Task and metric names, spelled as in driftwatch.performance.metrics (config sits below that layer, so they
# are repeated here; tests/test_performance_pipeline.py checks the two stay equal).
BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
TASKS = (BINARY, MULTICLASS, REGRESSION)
TASK_METRICS: dict[str, tuple[str, ...]] = {
    BINARY: ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier"),
    MULTICLASS: ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc_ovr_macro", "log_loss"),
    REGRESSION: ("mae", "rmse", "mape", "r2"),
}
DEFAULT_JUDGED: dict[str, tuple[str, ...]] = {
    BINARY: ("roc_auc",),
    MULTICLASS: ("accuracy",),
    REGRESSION: ("rmse",),
}
PERFORMANCE_KEYS = (
    "min_labels",
    "min_coverage",
    "tolerance",
    "relative",
    "baseline",
    "metrics",
    "confidence",
    "reference_spread",
)


@dataclass(frozen=True)
class PerformanceSettings:
    """How realized performance is judged (see docs/performance.md, "How the pipeline uses it")."""

    min_labels: int = 100
    min_coverage: float = 0.1
    tolerance: float = 0.0  # the minimum practical drop; the sampling error decides the rest
    relative: bool = False
    confidence: float = 0.95  # one-sided, per window (Bonferroni over the judged metrics)
    reference_spread: bool = True  # add the reference's window-to-window spread (τ²) to the noise
    baseline: Mapping[str, float] | None = None  # metric → fixed baseline; None = the reference's performance
    metrics: tuple[str, ...] = ()  # the metrics judged; filled with the task's default when parsed


def parse_performance(file: Path, path: str, data: object, task: str | None) -> PerformanceSettings:
    """The `performance:` section (None = defaults). Raises ConfigError naming the key."""
    s = Section(file, path, data, PERFORMANCE_KEYS)
    if data is not None and task is None:
        raise ConfigError(file, path, "needs the monitor's `task` (binary_classification, ...)")
    known = TASK_METRICS.get(task or BINARY, ())
    metrics = _metrics(s, task, known)
    relative = s.bool_("relative", False)
    spread = s.bool_("reference_spread", True)
    confidence = s.number("confidence", 0.95, 0.5, 1.0)
    if not 0.5 <= confidence < 1.0:
        raise s.error("confidence", "expected a number >= 0.5 and < 1 (e.g. 0.95)", confidence)
    baseline = _baseline(s, task, known, metrics)
    return PerformanceSettings(
        min_labels=s.int_("min_labels", 100, 1) or 100,
        min_coverage=s.number("min_coverage", 0.1, 0.0, 1.0),
        tolerance=s.number("tolerance", 0.0, 0.0),
        relative=relative,
        confidence=confidence,
        reference_spread=spread,
        baseline=baseline,
        metrics=metrics,
    )


def _metrics(s: Section, task: str | None, known: tuple[str, ...]) -> tuple[str, ...]:
    """The judged metrics: as listed, or the task's default; each must be a metric of the task."""
    metrics = s.names("metrics") or DEFAULT_JUDGED.get(task or BINARY, ())
    for metric in metrics:
        if metric not in known:
            raise s.error(
                "metrics", f"{metric!r} is not a metric of {task}; known: {', '.join(known)}", metric
            )
    return metrics


def _baseline(
    s: Section, task: str | None, known: tuple[str, ...], metrics: tuple[str, ...]
) -> dict[str, float] | None:
    """`baseline:` as metric → number; a single number stands for the one judged metric."""
    raw = s.data.get("baseline")
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        baseline: dict[str, float] = {}
        for metric, value in raw.items():
            if metric not in known:
                raise s.error(f"baseline.{metric}", f"not a metric of {task}; known: {', '.join(known)}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise s.error(f"baseline.{metric}", "expected a number", value)
            baseline[str(metric)] = float(value)
        return baseline
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if len(metrics) != 1:
            raise s.error(
                "baseline", "a single number needs exactly one judged metric; use {metric: value}", raw
            )
        return {metrics[0]: float(raw)}
    raise s.error("baseline", "expected a number or a mapping of metric → number", raw)
