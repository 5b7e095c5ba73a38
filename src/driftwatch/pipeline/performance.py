"""Step 5 of a cycle: realized (and, for binary models, estimated) performance per window × version × segment.

Only queued windows are computed: those that got new prediction rows (copied from the drift queue) or new or
corrected labels (queued by label ingest). Each metric row carries its label count, coverage, label delay,
bootstrap interval, baseline and a verdict from `performance.verdict`; the rows a recomputation replaces are
kept in `performance_history`. docs/performance.md ("How the pipeline uses it") is the user-facing account.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa

from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.config.performance import BINARY, MULTICLASS, REGRESSION
from driftwatch.durations import iso_utc
from driftwatch.errors import SourceError
from driftwatch.performance.baseline import Baseline, judge_window, measure_baseline
from driftwatch.performance.delay import label_delay
from driftwatch.performance.estimation import Calibrator, estimate_performance, fit_calibrator
from driftwatch.performance.metrics import HIGHER_IS_BETTER, METRICS_BY_TASK, compute_metrics, usable_rows
from driftwatch.performance.multiclass_estimation import binary_estimate_intervals
from driftwatch.performance.uncertainty import metric_intervals
from driftwatch.performance.verdict import (
    PerformanceGate,
    Status,
    Tolerance,
    Verdict,
    judge_against_previous,
)
from driftwatch.pipeline.loss_estimation import LossEstimator, fitted_loss_model, loss_estimate_rows
from driftwatch.pipeline.multiclass_estimation import (
    MulticlassEstimator,
    fitted_multiclass_estimator,
    multiclass_estimate_rows,
    probability_matrix,
)
from driftwatch.pipeline.windows import OVERALL
from driftwatch.sources.files import Readable, first_line, read_source, source_file
from driftwatch.sources.identity import reference_identity
from driftwatch.sources.logs import LogLayout
from driftwatch.sources.reference_rows import reference_truth_and_score
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.label_truth import truth_and_score_sql as label_truth_sql
from driftwatch.storage.labels import window_label_rows
from driftwatch.storage.performance_results import (
    QueuedWindow,
    StoredCalibration,
    current_calibration,
    plan_performance,
    requeue_computed,
    save_calibration,
    store_performance,
)

ESTIMATE_PREFIX = "estimated_"
MetricStatus = Literal[Status, "info", "estimate"]
"""A stored performance row's status (`performance_results.status`): a verdict's (`performance.verdict.Status`:
insufficient_labels, ok, degraded) for a judged metric, `info` for a metric with no verdict although its labels
suffice (not in `performance.metrics`, or no baseline), `estimate` for a CBPE estimate. docs/performance.md
lists them; the reports, the CLI and /metrics render each."""
N_BOOT = 200
BOOT_SEED = 0  # fixed: the same rows give the same interval, so a recomputation without new labels is a no-op
# 2: DeLong stderr for AUC, delta-method F1, proportion counts and the reference's spread (τ²) are stored.
_REFERENCE_FORMAT = 2
_REFERENCE_SCORE = "_ref_score"
_SPREAD_NOTE = "_spread_note"  # a key of the stored baseline JSON that is not a metric


@dataclass(frozen=True)
class PerformanceReference:
    """What windows are judged against: a `Baseline` per metric, and the CBPE calibrator or (regression) the DLE
    loss model if any (`with_loss_model`)."""

    reference_id: str | None
    baseline: Mapping[str, Baseline]
    calibrator: Calibrator | None
    rows: int = 0
    rebuilt: bool = False
    note: str = ""  # why there is no reference baseline or calibrator, when there is not
    spread_note: str = ""  # why the reference's window-to-window spread was not measured, when it was not
    loss: LossEstimator | None = None
    loss_note: str = ""  # why a regression monitor has no loss estimate, when it has not
    multiclass: MulticlassEstimator | None = None  # multiclass CBPE's calibrators (with_multiclass_estimator)
    multiclass_note: str = (
        ""  # why a monitor with `predictions.probabilities` has no estimate, when it has not
    )


@dataclass
class PerformanceSummary:
    windows_computed: int = 0
    rows_stored: int = 0
    rows_to_history: int = 0
    reference_rebuilt: bool = False
    note: str = ""
    degraded: list[tuple[str, str, str]] = field(default_factory=list)  # (window_start ISO, segment, metric)
    insufficient: int = 0  # judged metric rows (segment '*') below the label gate


# --- how labels and scores are read --------------------------------------------------------------------------


def _text_classes(monitor: MonitorConfig) -> bool:
    """Multiclass with the predicted class in `predictions.output` compares labels as text."""
    return monitor.task == MULTICLASS and monitor.predictions.output is not None


def truth_and_score_sql(monitor: MonitorConfig) -> tuple[str, str, dict[str, object]]:
    """The monitor's truth and score expressions (`storage.label_truth.truth_and_score_sql`)."""
    return label_truth_sql(
        binary=monitor.task == BINARY,
        positive_label=monitor.positive_label,
        text_classes=_text_classes(monitor),
    )


def _numpy(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def _task_arrays(
    monitor: MonitorConfig, truth: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    if _text_classes(monitor):
        return truth.astype(object), score.astype(object)
    truth, score = np.asarray(truth, dtype=np.float64), np.asarray(score, dtype=np.float64)
    # Ingest refuses ±inf (docs/values.md); one stored by an older version counts as missing, so it cannot
    # stop this and every later cycle (the metrics raise on ±inf).
    return _finite_or_nan(truth), _finite_or_nan(score)


def _finite_or_nan(values: np.ndarray) -> np.ndarray:
    return (
        values if np.isfinite(values[~np.isnan(values)]).all() else np.where(np.isinf(values), np.nan, values)
    )


# --- the reference: baseline metrics and the calibrator, once per reference file -----------------------------


def _reference_id(monitor: MonitorConfig) -> str:
    ref = monitor.reference
    key = {
        "format": _REFERENCE_FORMAT,
        "file_format": ref.format,
        "target": ref.target,
        "prediction": ref.prediction,
        "output": ref.output,
        "task": monitor.task,
        "positive_label": repr(monitor.positive_label),
        "threshold": monitor.threshold,
    }
    return reference_identity(ref.path, key)


def _read_reference(cur: duckdb.DuckDBPyConnection, monitor: MonitorConfig) -> tuple[np.ndarray, np.ndarray]:
    """The reference's truth and score arrays (rows with an unusable target or score are dropped later)."""
    ref = monitor.reference
    assert ref.target is not None and ref.prediction is not None
    layout = LogLayout(
        id=None,
        timestamp=None,
        numeric=(),
        categorical=(),
        output=ref.target,
        extra_numeric={_REFERENCE_SCORE: ref.prediction},
    )
    truth_sql, score_sql, extra = truth_and_score_sql(monitor)

    def read(readable: Readable) -> pa.Table:
        return reference_truth_and_score(cur, readable, layout, truth_sql, score_sql, extra)

    try:
        table = read_source(cur, source_file(ref.path, ref.format), read)
    except duckdb.Error as exc:
        raise SourceError(
            ref.path, f"cannot read the reference target/prediction: {first_line(exc)}"
        ) from None
    return _task_arrays(monitor, _numpy(table, "truth"), _numpy(table, "score"))


def _configured_baseline(monitor: MonitorConfig) -> dict[str, Baseline]:
    return {m: Baseline(v) for m, v in (monitor.performance.baseline or {}).items()}


def ensure_performance_reference(db: Database, monitor: MonitorConfig) -> PerformanceReference | None:
    """Baseline metrics and the calibrator of the monitor's reference, computed once per reference file.

    None when the monitor has no `task`. Without `reference.target` and `reference.prediction` only the
    configured `performance.baseline` is used and nothing is estimated. A configured baseline always wins over
    the reference's for the metrics it names. When the reference changes, every window with performance results
    is queued again, since its baseline changed.
    """
    if monitor.task is None:
        return None
    configured = _configured_baseline(monitor)
    ref = monitor.reference
    if ref.target is None or ref.prediction is None:
        note = (
            ""
            if configured
            else "no baseline: set reference.target and reference.prediction, or performance.baseline"
        )
        return PerformanceReference(None, configured, None, note=note)
    if _text_classes(monitor):
        # The reference's predicted classes would have to come from a text column too; not supported yet.
        return PerformanceReference(
            None, configured, None, note="multiclass with text classes: use performance.baseline"
        )
    cur = db.cursor()
    rid = _reference_id(monitor)
    stored = current_calibration(cur, monitor.name)
    rebuilt = False
    if stored is None or stored.reference_id != rid:
        stored = _build_calibration(cur, monitor, rid)
        with db.transaction() as tx:
            save_calibration(tx, monitor.name, stored)
            requeue_computed(tx, monitor.name, "reference changed")
        rebuilt = True
    baseline: dict[str, Baseline] = {}
    spreads: dict[str, float] = {}
    for metric, item in stored.baseline.items():
        if metric.startswith("_"):
            continue
        spread = _number_or(item.get("spread"), 0.0)
        spreads[metric] = spread
        value = item.get("value")
        if value is not None:
            # A metric whose stderr could not be measured keeps NaN: its verdict then says so.
            baseline[metric] = Baseline(
                float(value),
                _number_or(item.get("stderr"), math.nan),
                _number_or(item.get("count"), math.nan),
                spread,
            )
    # A configured number has no sampling error, but windows still spread around it as on the reference.
    baseline.update({m: Baseline(b.value, spread=spreads.get(m, 0.0)) for m, b in configured.items()})
    calibrator = Calibrator.from_dict(stored.calibrator) if stored.calibrator else None
    note = "" if calibrator or monitor.task != BINARY else "no calibrator: the reference needs both classes"
    spread_note = ""
    if monitor.performance.reference_spread and stored.baseline.get(_SPREAD_NOTE):
        spread_note = (
            f"no reference spread (verdicts use sampling error only): {stored.baseline[_SPREAD_NOTE]}"
        )
    return PerformanceReference(rid, baseline, calibrator, stored.rows, rebuilt, note, spread_note)


def with_loss_model(
    db: Database,
    monitor: MonitorConfig,
    reference: PerformanceReference,
    features: FeatureSpec,
    profile_id: str,
) -> PerformanceReference:
    """``reference`` with a regression monitor's DLE loss model, or the note why it has none
    (`pipeline.loss_estimation.fitted_loss_model`); unchanged for other monitors."""
    fitted = fitted_loss_model(db, monitor, reference.reference_id, features, profile_id)
    if fitted is None:
        return reference
    if isinstance(fitted, str):
        return dataclasses.replace(reference, loss_note=fitted)
    return dataclasses.replace(reference, loss=fitted)


def with_multiclass_estimator(
    db: Database, monitor: MonitorConfig, reference: PerformanceReference, profile_id: str
) -> PerformanceReference:
    """``reference`` with a multiclass monitor's per-class calibrators, or the note why it has none
    (`pipeline.multiclass_estimation.fitted_multiclass_estimator`); unchanged for other monitors."""
    fitted = fitted_multiclass_estimator(db, monitor, profile_id)
    if fitted is None:
        return reference
    if isinstance(fitted, str):
        return dataclasses.replace(reference, multiclass_note=fitted)
    return dataclasses.replace(reference, multiclass=fitted)


def _build_calibration(cur: duckdb.DuckDBPyConnection, monitor: MonitorConfig, rid: str) -> StoredCalibration:
    assert monitor.task is not None
    truth, score = _read_reference(cur, monitor)
    keep = usable_rows(truth, score)
    # The baseline's own sampling error and spread enter every verdict (performance.baseline).
    measured = measure_baseline(monitor.task, truth, score, threshold=monitor.threshold)
    baseline: dict[str, Any] = {
        m: {
            "value": _finite(b.value),
            "stderr": _finite(b.stderr),
            "count": int(b.count) if math.isfinite(b.count) else None,
            "spread": _finite(b.spread),
        }
        for m, b in measured.baselines.items()
    }
    if measured.spread_note:
        baseline[_SPREAD_NOTE] = measured.spread_note
    calibrator: dict[str, Any] | None = None
    if monitor.task == BINARY:
        try:
            calibrator = fit_calibrator(score, truth).to_dict()
        except ValueError:
            calibrator = None  # one class only in the reference: no estimate, said in the note
    return StoredCalibration(rid, monitor.task, int(keep.sum()), baseline, calibrator)


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _number_or(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default


# --- one window -----------------------------------------------------------------------------------------------


def compute_window_performance(
    db: Database, monitor: MonitorConfig, reference: PerformanceReference, window: QueuedWindow, run_id: str
) -> list[dict[str, Any]]:
    """Every metric row of one window × version, overall and per segment value."""
    assert monitor.task is not None
    truth_sql, score_sql, params = truth_and_score_sql(monitor)
    segments = monitor.predictions.segments
    table = window_label_rows(
        db.cursor(),
        monitor.name,
        window.model_version,
        window.start,
        window.end,
        truth_sql,
        score_sql,
        params,
        segments,
        reference.loss.features if reference.loss else (),
        reference.multiclass.classes if reference.multiclass else (),
    )
    truth, score = _task_arrays(monitor, _numpy(table, "truth"), _numpy(table, "score"))
    design = reference.loss.design(table) if reference.loss else None
    proba = probability_matrix(table, len(reference.multiclass.classes)) if reference.multiclass else None
    ts = _numpy(table, "ts").astype("datetime64[us]")
    labelled_at = _numpy(table, "labelled_at").astype("datetime64[us]")
    now = utcnow()
    rows: list[dict[str, Any]] = []
    groups: list[tuple[str, np.ndarray | None]] = [(OVERALL, None)]
    for i, seg in enumerate(segments):
        values = np.asarray(_numpy(table, f"seg{i}"), dtype=object)
        for value in sorted({str(v) for v in values}):
            groups.append((f"{seg}={value}", values == value))
    for segment, mask in groups:
        part = slice(None) if mask is None else mask
        window_design = None if design is None else design[part]
        window_proba = None if proba is None else proba[part]
        for row in _segment_rows(
            monitor,
            reference,
            truth[part],
            score[part],
            ts[part],
            labelled_at[part],
            window_design,
            window_proba,
        ):
            row.update(
                monitor=monitor.name,
                model_version=window.model_version,
                segment=segment,
                window_start=window.start,
                window_end=window.end,
                run_id=run_id,
                computed_at=now,
            )
            rows.append(row)
    return rows


def _segment_rows(
    monitor: MonitorConfig,
    reference: PerformanceReference,
    truth: np.ndarray,
    score: np.ndarray,
    ts: np.ndarray,
    labelled_at: np.ndarray,
    design: np.ndarray | None = None,
    proba: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    assert monitor.task is not None
    task, settings = monitor.task, monitor.performance
    n_predictions = int(truth.size)
    usable = usable_rows(truth, score)
    n_labels = int(usable.sum())
    coverage = n_labels / n_predictions if n_predictions else float("nan")
    delay = label_delay(ts[usable], labelled_at[usable])
    values = compute_metrics(task, truth, score, threshold=monitor.threshold)
    intervals = (
        metric_intervals(task, truth, score, threshold=monitor.threshold, n_boot=N_BOOT, seed=BOOT_SEED)
        if n_labels >= 2
        else {}
    )
    gate = PerformanceGate(settings.min_labels, settings.min_coverage)
    # One-sided, Bonferroni over the judged metrics: a window without change reads `degraded` on any of them
    # with probability at most 1 − confidence.
    verdicts = judge_window(
        task,
        truth,
        score,
        reference.baseline,
        settings.metrics,
        gate=gate,
        tolerance=Tolerance(settings.tolerance, relative=settings.relative),
        n_labels=n_labels,
        coverage=coverage,
        confidence=settings.confidence,
        use_spread=settings.reference_spread,
        threshold=monitor.threshold,
        values=values,
        stderrs={m: interval.stderr for m, interval in intervals.items()},
    )
    shared = {
        "n_predictions": n_predictions,
        "n_labels": n_labels,
        "coverage": coverage,
        "delay_median_s": delay.median_seconds,
        "delay_p90_s": delay.p90_seconds,
    }
    rows = []
    for metric in METRICS_BY_TASK[task]:
        value = values[metric]
        nan = float("nan")
        low, high, stderr = intervals[metric] if metric in intervals else (nan, nan, nan)
        base = reference.baseline.get(metric)
        status, reason = _row_status(
            verdicts.get(metric),
            gate.shortfall(n_labels, coverage),
            metric in settings.metrics,
            reference.note,
        )
        rows.append(
            {
                "metric": metric,
                "value": value,
                "low": low,
                "high": high,
                "stderr": stderr,
                "status": status,
                "reason": reason,
                "baseline": base.value if base else None,
                **shared,
            }
        )
    if task == BINARY and reference.calibrator is not None:
        rows += _estimate_rows(monitor, reference.calibrator, reference, score, shared)
    if task == REGRESSION and reference.loss is not None and design is not None:
        rows += loss_estimate_rows(reference.loss, design, score, reference.baseline, shared)
    if task == MULTICLASS and reference.multiclass is not None and proba is not None:
        rows += multiclass_estimate_rows(reference.multiclass, proba, reference.baseline, shared)
    return rows


def _estimate_rows(
    monitor: MonitorConfig,
    calibrator: Calibrator,
    reference: PerformanceReference,
    score: np.ndarray,
    shared: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The CBPE estimates of one window × segment, each with the interval of the realized value its scores
    allow (labels drawn from the calibrated probabilities; performance.multiclass_estimation)."""
    estimates = estimate_performance(calibrator, score, threshold=monitor.threshold)
    intervals = binary_estimate_intervals(calibrator, score, threshold=monitor.threshold, seed=BOOT_SEED)
    scored = int(np.isfinite(score).sum())
    rows = []
    for metric, value in estimates.items():
        base = reference.baseline.get(metric)
        interval = intervals.get(metric)
        rows.append(
            {
                "metric": ESTIMATE_PREFIX + metric,
                "value": value,
                "low": interval.low if interval else None,
                "high": interval.high if interval else None,
                "stderr": interval.stderr if interval else None,
                "status": "estimate",
                "reason": f"CBPE estimate from {scored:,} scores, no labels; blind to concept drift",
                "baseline": base.value if base else None,
                **shared,
            }
        )
    return rows


def _row_status(
    verdict: Verdict | None, shortfall: str | None, judged: bool, note: str
) -> tuple[MetricStatus, str]:
    """A realized metric row's status and reason: its verdict when it has one, else why it has none."""
    if verdict is not None:
        return verdict.status, verdict.reason
    if shortfall is not None:
        return "insufficient_labels", f"insufficient labels: {shortfall}; no verdict, no alert"
    if judged:
        return "info", note or "no baseline for this metric; no verdict"
    return "info", "not judged (not in performance.metrics)"


# --- the whole step -------------------------------------------------------------------------------------------


def compute_queued_performance(
    db: Database, monitor: MonitorConfig, reference: PerformanceReference, run_id: str, now: datetime
) -> PerformanceSummary:
    """Compute and store every closed window in the performance queue."""
    notes = (reference.note, reference.spread_note, reference.loss_note, reference.multiclass_note)
    note = "; ".join(n for n in notes if n)
    summary = PerformanceSummary(reference_rebuilt=reference.rebuilt, note=note)
    for window in plan_performance(db.cursor(), monitor.name, now):
        rows = compute_window_performance(db, monitor, reference, window, run_id)
        summary.rows_to_history += store_performance(db, monitor.name, window, rows)
        summary.windows_computed += 1
        summary.rows_stored += len(rows)
        for row in rows:
            if row["segment"] != OVERALL or row["metric"] not in monitor.performance.metrics:
                continue
            if row["status"] == "degraded":
                start = iso_utc(row["window_start"])
                summary.degraded.append((start, row["segment"], row["metric"]))
            elif row["status"] == "insufficient_labels":
                summary.insufficient += 1
    return summary


def period_over_period(
    row: Mapping[str, Any], gate: PerformanceGate, relative_drop: float = 0.10
) -> Verdict | None:
    """A week-over-week (or any period) verdict for one `performance_results` query row, against the
    `previous_*` fields beside it; None for estimates and first windows."""
    metric = str(row["metric"])
    if metric not in HIGHER_IS_BETTER or row.get("previous_value") is None:
        return None

    def number(key: str) -> float:
        value = row.get(key)
        return float("nan") if value is None else float(value)

    return judge_against_previous(
        metric,
        number("value"),
        number("previous_value"),
        stderr_now=number("stderr"),
        stderr_prev=number("previous_stderr"),
        n_now=int(row.get("n_labels") or 0),
        n_prev=int(row.get("previous_n_labels") or 0),
        coverage_now=number("coverage"),
        coverage_prev=number("previous_coverage"),
        gate=gate,
        relative_drop=relative_drop,
    )
