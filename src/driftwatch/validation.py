"""A metric gate for CI: `driftwatch validate` / `driftwatch.validate`, realized metrics against bars.

The current data (a held-out or fresh labelled set) is scored with the realized metrics of its task
(`performance.metrics`) with their bootstrap intervals (`performance.uncertainty`); the reference's metrics are
computed the same way for context. Each bar (`auc=0.85`) passes when the current point value is on the good side
of it (≥ for a higher-is-better metric, ≤ for a loss): the bar is the release rule a team writes down, the
interval says how sure that value is (a bar inside the interval is reported as `close`, still judged on the
value). An optional drift bar runs `compare` on the features and fails when the share of drifting input
features exceeds it. docs/validate.md is the user-facing account.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from driftwatch.comparison import as_polars, load_pair
from driftwatch.errors import InputError
from driftwatch.sources.frames import FEATURES_COLUMN

if TYPE_CHECKING:
    import polars as pl

    from driftwatch.comparison import CompareResult

BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
TASK_NAMES = ("auto", BINARY, MULTICLASS, REGRESSION)
# Short names a CI line is written with → each task's metric.
ALIASES: dict[str, dict[str, str]] = {
    BINARY: {"auc": "roc_auc"},
    MULTICLASS: {
        "auc": "roc_auc_ovr_macro",
        "precision": "precision_macro",
        "recall": "recall_macro",
        "f1": "f1_macro",
    },
    REGRESSION: {},
}
# Metrics bounded to [0, 1]; the others are losses ≥ 0, except R² (≤ 1).
_UNIT_INTERVAL = frozenset(
    {"roc_auc", "accuracy", "precision", "recall", "f1", "brier", "precision_macro", "recall_macro"}
    | {"f1_macro", "roc_auc_ovr_macro"}
)
_MAX_CLASSES_FOR_AUTO = 20  # a numeric prediction with more distinct values reads as a regression


@dataclass(frozen=True)
class Bar:
    """One `metric=value` bar, resolved to the task's metric name."""

    metric: str
    value: float
    higher_is_better: bool
    written: str  # as the user wrote it, for messages

    @property
    def rule(self) -> str:
        return f"{self.metric} {'>=' if self.higher_is_better else '<='} {self.value:g}"


@dataclass(frozen=True)
class MetricValue:
    value: float
    low: float
    high: float
    stderr: float

    def to_dict(self) -> dict[str, float | None]:
        return {k: _json_number(getattr(self, k)) for k in ("value", "low", "high", "stderr")}


@dataclass(frozen=True)
class Check:
    """One bar's outcome on the current data."""

    bar: Bar
    value: MetricValue
    passed: bool
    reason: str

    @property
    def close(self) -> bool:
        """The bar lies inside the value's interval: the verdict could flip on another sample."""
        return math.isfinite(self.value.low) and self.value.low <= self.bar.value <= self.value.high

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.bar.metric,
            "threshold": self.bar.value,
            "direction": ">=" if self.bar.higher_is_better else "<=",
            **self.value.to_dict(),
            "passed": self.passed,
            "close": self.close,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ValidateResult:
    task: str
    target: str
    prediction: str
    rows_reference: int
    rows_current: int
    current: Mapping[str, MetricValue]
    reference: Mapping[str, MetricValue]
    checks: Sequence[Check]
    drift_bar: float | None = None
    drift: CompareResult | None = None
    notes: Sequence[str] = field(default_factory=tuple)

    @property
    def drift_share(self) -> float | None:
        return None if self.drift is None else float(self.drift.decision.drift_share)

    @property
    def drift_passed(self) -> bool:
        share = self.drift_share
        return self.drift_bar is None or share is None or share <= self.drift_bar

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and self.drift_passed

    def failures(self) -> list[str]:
        """One line per failed bar (empty when the gate passes)."""
        lines = [f"{c.bar.rule}: {c.reason}" for c in self.checks if not c.passed]
        if not self.drift_passed:
            lines.append(f"drift share {self.drift_share:.3g} > drift bar {self.drift_bar:g}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "passed": self.passed,
            "task": self.task,
            "target": self.target,
            "prediction": self.prediction,
            "rows_reference": self.rows_reference,
            "rows_current": self.rows_current,
            "checks": [c.to_dict() for c in self.checks],
            "current": {m: v.to_dict() for m, v in self.current.items()},
            "reference": {m: v.to_dict() for m, v in self.reference.items()},
            "failures": self.failures(),
            "notes": list(self.notes),
        }
        if self.drift_bar is not None and self.drift is not None:
            out["drift"] = {
                "bar": self.drift_bar,
                "share": self.drift_share,
                "passed": self.drift_passed,
                "dataset_status": self.drift.decision.status,
                "drifting": [
                    f.name for f in self.drift.decision.features if f.status == "drift" and f.role == "input"
                ],
                "output_drifting": any(
                    f.status == "drift" for f in self.drift.decision.features if f.role == "output"
                ),
            }
        return out


def _json_number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


# --- bars ------------------------------------------------------------------------------------------------------


def parse_bars(task: str, bars: Mapping[str, float] | Sequence[str]) -> list[Bar]:
    """`metric=value` strings (or a mapping) as Bars of `task`; InputError naming the bad one.

    A metric must be one of the task's (or an alias: `auc`, and for multiclass `precision`/`recall`/`f1` for
    the macro averages); the value must be finite and in the metric's range ([0, 1] for scores and shares,
    ≥ 0 for losses, ≤ 1 for R²). Two bars on one metric are refused (which one would count?).
    """
    from driftwatch.performance.metrics import HIGHER_IS_BETTER, METRICS_BY_TASK

    pairs = list(bars.items()) if isinstance(bars, Mapping) else [_split_bar(text) for text in bars]
    known = METRICS_BY_TASK[task]
    out: list[Bar] = []
    for written, raw in pairs:
        name = ALIASES[task].get(written.strip().lower(), written.strip().lower())
        if name not in known:
            aliases = ", ".join(f"{a} ({m})" for a, m in ALIASES[task].items())
            raise InputError(
                f"threshold {written!r}: not a metric of {task}; known: {', '.join(known)}"
                + (f"; aliases: {aliases}" if aliases else "")
            )
        value = _bar_value(written, raw)
        _check_range(written, name, value)
        if any(b.metric == name for b in out):
            raise InputError(f"threshold {written!r}: {name} has two bars; give one")
        out.append(Bar(name, value, HIGHER_IS_BETTER[name], written))
    return out


def _split_bar(text: str) -> tuple[str, object]:
    metric, sep, value = text.partition("=")
    if not sep or not metric.strip() or not value.strip():
        raise InputError(f"threshold {text!r}: expected METRIC=VALUE, e.g. auc=0.85")
    return metric.strip(), value.strip()


def _bar_value(written: str, raw: object) -> float:
    try:
        value = float(raw) if isinstance(raw, str | int | float) and not isinstance(raw, bool) else None
    except ValueError:
        value = None
    if value is None:
        raise InputError(f"threshold {written!r}: {raw!r} is not a number")
    if not math.isfinite(value):
        raise InputError(f"threshold {written!r}: {raw!r} is not a finite number")
    return value


def _check_range(written: str, name: str, value: float) -> None:
    if name in _UNIT_INTERVAL and not 0.0 <= value <= 1.0:
        raise InputError(f"threshold {written}={value:g}: out of range, {name} lies in [0, 1]")
    if name == "r2" and value > 1.0:
        raise InputError(f"threshold {written}={value:g}: out of range, r2 is at most 1")
    if name not in _UNIT_INTERVAL and name != "r2" and value < 0.0:
        raise InputError(f"threshold {written}={value:g}: out of range, {name} is a loss (>= 0)")


# --- the data --------------------------------------------------------------------------------------------------


def _column(frame: pl.DataFrame, name: str, role: str, option: str) -> np.ndarray:
    if name not in frame.columns:
        shown = ", ".join(frame.columns[:12]) + (" …" if frame.width > 12 else "")
        raise InputError(f"{role} has no column {name!r} ({option}); its columns: {shown}")
    import polars as pl

    series = frame.get_column(name)
    if series.dtype.is_numeric() or series.dtype == pl.Boolean:
        return series.cast(pl.Float64).to_numpy()
    return np.asarray(series.to_list(), dtype=object)


def _labels(truth: np.ndarray) -> set[Any]:
    """The distinct non-missing labels (NaN and None left out)."""
    return {v for v in truth.tolist() if v is not None and v == v}


def infer_task(truth: np.ndarray, prediction: np.ndarray, reference_truth: np.ndarray | None = None) -> str:
    """binary: ≤ 2 distinct labels and a numeric score; regression: a numeric prediction that is not a small set
    of whole numbers; multiclass otherwise (a predicted class). `--task` overrides it.

    The labels are counted over the reference and the current data together (`reference_truth`): a 3-class
    target whose current data happens to hold two classes is not binary. Two labels with a prediction of whole
    numbers outside [0, 1] (class ids, not a score) are ambiguous: InputError asking for `--task`."""
    labels = _labels(truth) | (_labels(reference_truth) if reference_truth is not None else set())
    numeric = prediction.dtype.kind == "f"
    finite = prediction[np.isfinite(prediction)] if numeric else prediction
    whole = numeric and bool(np.all(finite == np.round(finite)))
    if numeric and len(labels) <= 2:
        if whole and finite.size and (float(finite.min()) < 0.0 or float(finite.max()) > 1.0):
            shown = ", ".join(str(v) for v in sorted(np.unique(finite).tolist())[:10])
            raise InputError(
                f"cannot tell the task: the target holds {len(labels)} values but the prediction holds whole "
                f"numbers ({shown}), class ids rather than a score; set --task (binary_classification, "
                "multiclass_classification or regression)"
            )
        return BINARY
    if numeric and (not whole or np.unique(finite).size > _MAX_CLASSES_FOR_AUTO):
        return REGRESSION
    return MULTICLASS


def _check_positive_label(positive_label: Any, *truths: np.ndarray) -> None:
    """Binary: the positive label must be one of the target's values, else every row scores as a negative and
    the metrics (and the gate) are wrong without a word."""
    found: set[Any] = set().union(*(_labels(t) for t in truths))
    if not found or positive_label in found:
        return
    shown = ", ".join(repr(v) for v in sorted(found, key=str)[:10])
    raise InputError(
        f"the positive label {positive_label!r} is not among the target's values ({shown}); "
        "set --positive-label to the value that counts as positive"
    )


def _metric_values(
    task: str,
    truth: np.ndarray,
    prediction: np.ndarray,
    *,
    threshold: float,
    positive_label: Any,
    n_boot: int,
    seed: int,
    role: str,
) -> dict[str, MetricValue]:
    from driftwatch.performance.metrics import compute_metrics
    from driftwatch.performance.uncertainty import metric_intervals

    options: dict[str, Any] = {"threshold": threshold, "positive_label": positive_label}
    if task == MULTICLASS:
        present = [v for v in np.concatenate([truth, prediction]).tolist() if v is not None and v == v]
        try:
            options["classes"] = np.array(sorted(set(present)), dtype=object)
        except TypeError:
            raise InputError(
                f"{role}: the classes mix types that cannot be ordered (text and numbers?)"
            ) from None
    try:
        values = compute_metrics(task, truth, prediction, **options)
        intervals = metric_intervals(task, truth, prediction, n_boot=n_boot, seed=seed, **options)
    except ValueError as exc:
        raise InputError(f"{role}: {exc}") from None
    return {
        m: MetricValue(v, *(intervals[m] if m in intervals else (math.nan, math.nan, math.nan)))
        for m, v in values.items()
    }


def _check(bar: Bar, value: MetricValue) -> Check:
    v = value.value
    if not math.isfinite(v):
        return Check(
            bar, value, False, f"{bar.metric} is undefined on the current data (e.g. one class only)"
        )
    passed = v >= bar.value if bar.higher_is_better else v <= bar.value
    side = "meets" if passed else "misses"
    interval = f" (95% interval {value.low:.4g}–{value.high:.4g})" if math.isfinite(value.low) else ""
    return Check(bar, value, passed, f"{bar.metric} = {v:.4g}{interval} {side} the bar {bar.rule}")


def validate(
    reference: object,
    current: object,
    *,
    target: str,
    prediction: str,
    thresholds: Mapping[str, float] | Sequence[str],
    task: str = "auto",
    drift_bar: float | None = None,
    positive_label: Any = 1,
    decision_threshold: float = 0.5,
    n_boot: int = 200,
    seed: int = 0,
    input_format: str | tuple[str, str] = "auto",
    features_column: str = FEATURES_COLUMN,
) -> ValidateResult:
    """Realized metrics of `current` (and `reference`, for context) against `thresholds`; see the module docstring.

    `reference`/`current`: paths (.parquet, .csv, .ndjson; compressed too), polars or pandas frames or Arrow
    tables. `target` and `prediction` name the label and the model's output (binary: the score of
    `positive_label`, a predicted positive being score ≥ `decision_threshold`; multiclass: the predicted class;
    regression: the predicted value). `task` "auto" infers it (`infer_task`). `drift_bar` in [0, 1]: also compare
    the features (all but target and prediction, inferred as `compare` does) and fail when the share of drifting
    input features exceeds it. Raises InputError (a clear message) on bad input.
    """
    if task not in TASK_NAMES:
        raise InputError(f"unknown task {task!r}; expected one of {', '.join(TASK_NAMES)}")
    if drift_bar is not None and not 0.0 <= drift_bar <= 1.0:
        raise InputError(f"drift bar {drift_bar:g}: out of range, a share of features lies in [0, 1]")
    if n_boot < 0:
        raise InputError(f"n_boot must be >= 0, got {n_boot}")
    ref_table, cur_table = load_pair(reference, current, input_format, features_column)
    ref, cur = as_polars(ref_table, "reference"), as_polars(cur_table, "current")
    cur_truth = _column(cur, target, "current", "--target")
    cur_pred = _column(cur, prediction, "current", "--prediction")
    ref_truth = _column(ref, target, "reference", "--target")
    ref_pred = _column(ref, prediction, "reference", "--prediction")
    resolved = infer_task(cur_truth, cur_pred, ref_truth) if task == "auto" else task
    if resolved == BINARY:
        _check_positive_label(positive_label, ref_truth, cur_truth)
    bars = parse_bars(resolved, thresholds)
    if not bars and drift_bar is None:
        raise InputError("nothing to validate: give at least one --threshold METRIC=VALUE or a --drift-bar")
    if resolved in (BINARY, REGRESSION) and cur_pred.dtype.kind != "f":
        raise InputError(f"current: {resolved} needs a numeric --prediction column, {prediction!r} is not")
    common = {
        "threshold": decision_threshold,
        "positive_label": positive_label,
        "n_boot": n_boot,
        "seed": seed,
    }
    current_values = _metric_values(resolved, cur_truth, cur_pred, role="current", **common)
    reference_values = _metric_values(resolved, ref_truth, ref_pred, role="reference", **common)
    notes = [f"task inferred as {resolved} (set --task to override)"] if task == "auto" else []
    drift = None
    if drift_bar is not None:
        from driftwatch.comparison import compare

        # The target is no feature (a label's drift is the performance's business, judged above).
        drift = compare(ref.drop(target), cur.drop(target), prediction=prediction)
    return ValidateResult(
        task=resolved,
        target=target,
        prediction=prediction,
        rows_reference=ref.height,
        rows_current=cur.height,
        current=current_values,
        reference=reference_values,
        checks=[_check(bar, current_values[bar.metric]) for bar in bars],
        drift_bar=drift_bar,
        drift=drift,
        notes=notes,
    )
