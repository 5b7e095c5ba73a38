"""The cycle's version-comparison step: baseline vs candidate (the monitor's `versions:`) per window.

Runs after the drift windows and performance of the cycle, once per window that both versions have results
for and that changed since it was last compared (storage.versions.windows_to_compare), so a rerun with
nothing new stores nothing and a window whose labels arrived later is compared again.

Per window: both versions' rows are read once; the output drift is always computed; requests scored by both
versions (same request_id) make it a shadow comparison, disjoint ones a canary (or as configured); the verdict
and every statistic behind it are stored in one transaction. docs/versions.md explains each statistic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.config.performance import BINARY
from driftwatch.config.versions import AUTO, CANARY, SHADOW, VersionSettings
from driftwatch.errors import SourceError
from driftwatch.performance.versions import (
    LabelledRows,
    MetricComparison,
    TaskSpec,
    VersionVerdict,
    canary_verdict,
    compare_metric,
    compare_paired,
    compare_segments,
    judge_family,
    shadow_verdict,
)
from driftwatch.pipeline.performance import truth_and_score_sql
from driftwatch.stats.versions import (
    FlipTest,
    InputDriftBars,
    InputShift,
    OutputDrift,
    ShadowComparison,
    input_drift,
    output_drift,
    shadow_comparison,
)
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.versions import (
    ComparisonWindow,
    replace_comparison,
    version_window_rows,
    windows_to_compare,
)

OVERALL = "*"
# A configured version name → the model_version value it is logged under. The identity for literal versions;
# `@champion` is resolved through the monitor's MLflow registry (pipeline.registry.RegistryCycle).
VersionResolver = Callable[[str], str]


def logged_versions(settings: VersionSettings, resolve: VersionResolver | None = None) -> tuple[str, str]:
    """(baseline, candidate) as logged `model_version` values."""
    if resolve is None:
        return settings.baseline, settings.candidate
    return resolve(settings.baseline), resolve(settings.candidate)


@dataclass(frozen=True)
class ComparedWindow:
    start: datetime
    mode: str
    status: str
    reasons: tuple[str, ...]


@dataclass
class VersionsSummary:
    baseline: str
    candidate: str
    windows: list[ComparedWindow] = field(default_factory=list)


@dataclass(frozen=True)
class VersionRows:
    """One version's rows of a window as arrays (request-id order)."""

    request_ids: np.ndarray
    scores: np.ndarray  # float64, NaN when missing
    decisions: np.ndarray | None  # object (str / None); None when the task has no decisions
    truth: np.ndarray | None  # object/float, None where unlabelled; None without a task
    predicted: np.ndarray  # what the metric reads: the score, or (multiclass with `output`) the class
    features: dict[str, np.ndarray]
    segments: dict[str, np.ndarray]  # segment column → object array of its values

    @property
    def size(self) -> int:
        return int(self.request_ids.size)

    def take(self, index: np.ndarray) -> VersionRows:
        return VersionRows(
            self.request_ids[index],
            self.scores[index],
            None if self.decisions is None else self.decisions[index],
            None if self.truth is None else self.truth[index],
            self.predicted[index],
            {k: v[index] for k, v in self.features.items()},
            {k: v[index] for k, v in self.segments.items()},
        )


def compare_versions(
    db: Database,
    monitor: MonitorConfig,
    features: FeatureSpec,
    run_id: str,
    resolve: VersionResolver | None = None,
) -> VersionsSummary | None:
    """Compare every changed window of the monitor's baseline and candidate; None without `versions:`."""
    settings = monitor.versions
    if settings is None:
        return None
    baseline, candidate = logged_versions(settings, resolve)
    summary = VersionsSummary(baseline, candidate)
    for window in windows_to_compare(db.cursor(), monitor.name, baseline, candidate):
        summary.windows.append(compare_window(db, monitor, features, baseline, candidate, window, run_id))
    return summary


def compare_versions_or_warn(
    db: Database,
    monitor: MonitorConfig,
    features: FeatureSpec,
    run_id: str,
    resolve: VersionResolver | None,
    warnings: list[str],
) -> VersionsSummary | None:
    """``compare_versions`` as a cycle step: a version name that cannot be resolved (e.g. `@challenger` removed
    from the registry after a promotion) is a run warning, not a failed cycle — retention and write-back still
    run, and the next cycle tries again. Windows compared before the error stay stored."""
    try:
        return compare_versions(db, monitor, features, run_id, resolve)
    except SourceError as exc:
        warnings.append(f"version comparison skipped: {exc}")
        return None


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def _decisions(monitor: MonitorConfig, prediction: np.ndarray, output: np.ndarray) -> np.ndarray | None:
    """The decision per row: the logged `output` when there is one, else (binary) score ≥ threshold."""
    if monitor.predictions.output is not None:
        return output.astype(object)
    if monitor.task == BINARY:
        return np.array(
            [None if np.isnan(s) else str(int(s >= monitor.threshold)) for s in prediction], object
        )
    return None


def read_version(
    db: Database, monitor: MonitorConfig, features: FeatureSpec, version: str, window: ComparisonWindow
) -> VersionRows:
    truth_sql: tuple[str, dict[str, object]] | None = None
    score_name = "prediction"
    if monitor.task is not None:
        truth, score_name, params = truth_and_score_sql(monitor)
        truth_sql = (truth, params)
    segments = monitor.predictions.segments
    table = version_window_rows(
        db.cursor(), monitor.name, version, window, features.names, segments, truth_sql
    )
    prediction = np.asarray(_column(table, "prediction"), dtype=np.float64)
    output = _column(table, "output")
    return VersionRows(
        request_ids=_column(table, "request_id").astype(object),
        scores=prediction,
        decisions=_decisions(monitor, prediction, output),
        truth=_column(table, "truth") if truth_sql is not None else None,
        predicted=prediction if score_name == "prediction" else output.astype(object),
        features={
            name: (
                np.asarray(_column(table, f"f{i}"), dtype=np.float64)
                if name in features.numeric
                else _column(table, f"f{i}").astype(object)
            )
            for i, name in enumerate(features.names)
        },
        segments={s: _column(table, f"seg{i}").astype(object) for i, s in enumerate(segments)},
    )


def _pairs(baseline: VersionRows, candidate: VersionRows) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the requests both versions scored, aligned."""
    _, b_index, c_index = np.intersect1d(
        baseline.request_ids.astype(str),
        candidate.request_ids.astype(str),
        assume_unique=True,
        return_indices=True,
    )
    return b_index, c_index


def traffic_mode(settings: VersionSettings, pairs: int, baseline_rows: int, candidate_rows: int) -> str:
    """Configured mode, or for `auto`: shadow when most of the smaller side's requests are paired."""
    if settings.mode != AUTO:
        return settings.mode
    smaller = min(baseline_rows, candidate_rows)
    return SHADOW if smaller and pairs >= 0.5 * smaller else CANARY


@dataclass(frozen=True)
class Evaluation:
    """Everything one window's comparison found (pure: from the two versions' rows)."""

    mode: str
    pairs: int
    drift: OutputDrift
    verdict: VersionVerdict
    shadow: ShadowComparison | None = None
    overall: MetricComparison | None = None
    segments: tuple[MetricComparison, ...] = ()
    inputs: tuple[InputShift, ...] = ()


def evaluate(monitor: MonitorConfig, features: FeatureSpec, b: VersionRows, c: VersionRows) -> Evaluation:
    """Output drift, then the shadow or canary statistics and the verdict, from both versions' rows."""
    settings = monitor.versions
    assert settings is not None
    drift = output_drift(b.scores, c.scores, b.decisions, c.decisions, bins=monitor.psi_bins)
    b_index, c_index = _pairs(b, c)
    pairs = int(b_index.size)
    mode = traffic_mode(settings, pairs, b.size, c.size)
    if mode == SHADOW:
        paired_b, paired_c = b.take(b_index), c.take(c_index)
        shadow = _shadow(paired_b, paired_c, settings)
        labelled, unjudged = _shadow_labelled(monitor, paired_b, paired_c, settings)
        verdict = shadow_verdict(shadow, settings, labelled, unjudged)
        overall = labelled[0] if labelled else None
        return Evaluation(mode, pairs, drift, verdict, shadow=shadow, overall=overall, segments=labelled[1:])
    overall, segments, inputs = _canary(monitor, features, b, c, settings)
    verdict = canary_verdict(overall, segments, inputs, settings)
    return Evaluation(mode, pairs, drift, verdict, overall=overall, segments=segments, inputs=inputs)


def compare_window(
    db: Database,
    monitor: MonitorConfig,
    features: FeatureSpec,
    baseline: str,
    candidate: str,
    window: ComparisonWindow,
    run_id: str,
) -> ComparedWindow:
    """Read both versions' rows, evaluate, store the comparison (replacing an earlier one)."""
    b = read_version(db, monitor, features, baseline, window)
    c = read_version(db, monitor, features, candidate, window)
    ev = evaluate(monitor, features, b, c)
    row = _base_row(monitor.name, baseline, candidate, window, ev.mode, ev.drift, ev.pairs)
    row.update(_shadow_columns(ev.shadow))
    row.update(_metric_columns(ev.overall))
    details = (_flip_details(ev.shadow) if ev.shadow else []) + _metric_details(ev.segments)
    details += _input_details(ev.inputs)
    row.update(
        status=ev.verdict.status, reasons=list(ev.verdict.reasons), run_id=run_id, computed_at=utcnow()
    )
    replace_comparison(db, row, details)
    return ComparedWindow(window.start, ev.mode, ev.verdict.status, ev.verdict.reasons)


def _shadow(b: VersionRows, c: VersionRows, settings: VersionSettings) -> ShadowComparison:
    test = FlipTest(settings.alpha, settings.segment_min_pairs, settings.min_flip_lift)
    return shadow_comparison(b.scores, c.scores, b.decisions, c.decisions, b.segments, test=test)


def _shadow_labelled(
    monitor: MonitorConfig, b: VersionRows, c: VersionRows, settings: VersionSettings
) -> tuple[tuple[MetricComparison, ...], str | None]:
    """The paired comparison on the labelled requests both versions scored: overall (needs `min_labels`) and
    per segment value (needs `segment_min_pairs`), one BH family. Empty without enough labels. With enough
    labels but no paired comparison (a metric without a paired form, or undefined on these rows), also the
    reason: the labels exist, so agreement alone must not call the candidate ok."""
    if monitor.task is None or settings.metric is None or b.truth is None:
        return (), None
    truth: np.ndarray = b.truth  # the same requests: the same labels on both sides
    labelled = _has_label(truth)
    n_labelled = int(labelled.sum())
    if n_labelled < settings.min_labels:
        return (), None
    spec = TaskSpec(monitor.task, monitor.threshold, monitor.positive_label)

    def paired(segment: str, mask: np.ndarray) -> MetricComparison | None:
        return compare_paired(
            spec,
            settings.metric or "",
            segment,
            truth[mask],
            b.predicted[mask],
            c.predicted[mask],
            tolerance=settings.tolerance,
        )

    overall = paired(OVERALL, labelled)
    if overall is None:
        return (), (
            f"{settings.metric} has no paired test on the {n_labelled} labelled requests both versions scored "
            "(no paired form for this metric, or undefined on these rows): the candidate's performance is "
            "not judged"
        )
    found = [overall]
    for column, values in b.segments.items():
        names = _segment_values(values)
        for value in sorted(set(names.tolist())):
            mask = labelled & (names == value)
            if int(mask.sum()) >= settings.segment_min_pairs and (m := paired(f"{column}={value}", mask)):
                found.append(m)
    return judge_family(found, settings.alpha), None


def _has_label(truth: np.ndarray) -> np.ndarray:
    """Rows with a label: not None and not NaN (t == t)."""
    return np.array([t is not None and t == t for t in truth], dtype=bool)


def _segment_values(values: np.ndarray) -> np.ndarray:
    """A segment column's values as text (a missing value is the empty string, as in the flip table)."""
    return np.array(["" if v is None else str(v) for v in values], dtype=object)


def _labelled(rows: VersionRows, mask: np.ndarray | None = None) -> LabelledRows:
    assert rows.truth is not None
    keep = _has_label(rows.truth)
    if mask is not None:
        keep &= mask
    return LabelledRows(truth=rows.truth[keep], score=rows.predicted[keep])


def _by_segment(rows: VersionRows) -> dict[str, LabelledRows]:
    out: dict[str, LabelledRows] = {}
    for column, values in rows.segments.items():
        labels = _segment_values(values)
        for value in sorted(set(labels.tolist())):
            out[f"{column}={value}"] = _labelled(rows, labels == value)
    return out


def _canary(
    monitor: MonitorConfig, features: FeatureSpec, b: VersionRows, c: VersionRows, settings: VersionSettings
) -> tuple[MetricComparison | None, tuple[MetricComparison, ...], tuple[InputShift, ...]]:
    inputs = input_drift(
        {n: (b.features[n], c.features[n]) for n in features.numeric},
        {n: (b.features[n], c.features[n]) for n in features.categorical},
        bins=monitor.psi_bins,
        bars=InputDriftBars(settings.alpha, settings.input_psi, settings.input_js),
    )
    if monitor.task is None or settings.metric is None or b.truth is None or c.truth is None:
        return None, (), inputs
    spec = TaskSpec(monitor.task, monitor.threshold, monitor.positive_label)
    overall = compare_metric(
        spec, settings.metric, OVERALL, _labelled(b), _labelled(c), tolerance=settings.tolerance
    )
    segments = compare_segments(spec, settings.metric, _by_segment(b), _by_segment(c), settings)
    family = judge_family([overall, *segments], settings.alpha)
    return family[0], family[1:], inputs


# --- rows to store ---------------------------------------------------------------------------------------------


def _base_row(
    monitor: str,
    baseline: str,
    candidate: str,
    window: ComparisonWindow,
    mode: str,
    drift: OutputDrift,
    pairs: int,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "monitor": monitor,
        "baseline": baseline,
        "candidate": candidate,
        "window_start": window.start,
        "window_end": window.end,
        "mode": mode,
        "baseline_rows": drift.baseline_rows,
        "candidate_rows": drift.candidate_rows,
        "pairs": pairs,
        "score_ks": drift.score_ks,
        "score_ks_pvalue": drift.score_ks_pvalue,
        "score_psi": drift.score_psi,
        "decision_chi2_pvalue": drift.decision_chi2_pvalue,
        "decision_js": drift.decision_js,
    }
    return {k: _finite_or_none(v) for k, v in row.items()}


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not np.isfinite(value) else value


def _shadow_columns(shadow: ShadowComparison | None) -> dict[str, Any]:
    names = ("agreement", "agreement_low", "agreement_high", "flip_share", "score_diff_mean")
    if shadow is None:
        return {**dict.fromkeys(names), "score_diff_quantiles": None}
    out = {n: _finite_or_none(getattr(shadow, n)) for n in names}
    out["score_diff_quantiles"] = list(shadow.score_diff_quantiles) or None
    return out


def _metric_columns(m: MetricComparison | None) -> dict[str, Any]:
    pairs = {
        "baseline_value": "baseline_value",
        "baseline_low": "baseline_low",
        "baseline_high": "baseline_high",
        "baseline_labels": "baseline_n",
        "candidate_value": "candidate_value",
        "candidate_low": "candidate_low",
        "candidate_high": "candidate_high",
        "candidate_labels": "candidate_n",
        "metric_delta": "delta",
        "metric_delta_low": "delta_low",
        "metric_delta_high": "delta_high",
        "metric_delta_pvalue": "pvalue",
    }
    if m is None:
        return {"metric": None, **dict.fromkeys(pairs)}
    return {
        "metric": m.metric,
        **{column: _finite_or_none(getattr(m, attr)) for column, attr in pairs.items()},
    }


def _detail(
    kind: str, name: str, n: int | None, value: float, other: float, p: float, q: float, flag: bool
) -> dict[str, Any]:
    return {
        "kind": kind,
        "name": name,
        "n": n,
        "value": _finite_or_none(value),
        "other": _finite_or_none(other),
        "pvalue": _finite_or_none(p),
        "adjusted_pvalue": _finite_or_none(q),
        "flagged": flag,
    }


def _flip_details(shadow: ShadowComparison) -> list[dict[str, Any]]:
    return [
        _detail(
            "segment_flips",
            s.segment,
            s.pairs,
            s.flip_rate,
            s.rest_flip_rate,
            s.pvalue,
            s.adjusted_pvalue,
            s.concentrated,
        )
        for s in shadow.segments
    ]


def _metric_details(segments: Sequence[MetricComparison]) -> list[dict[str, Any]]:
    return [
        _detail(
            "segment_metric",
            m.segment,
            m.candidate_n,
            m.delta,
            m.baseline_value,
            m.pvalue,
            m.adjusted_pvalue,
            m.worse,
        )
        for m in segments
    ]


def _input_details(inputs: Sequence[InputShift]) -> list[dict[str, Any]]:
    return [
        _detail("input", s.feature, None, s.statistic, s.psi, s.pvalue, s.adjusted_pvalue, s.shifted)
        for s in inputs
    ]


__all__ = [
    "VersionResolver",
    "VersionVerdict",
    "VersionsSummary",
    "compare_versions",
    "compare_versions_or_warn",
    "logged_versions",
]
