"""Stored results → `alerting.model.Sample`s: what the rules of one monitor are evaluated on.

The rows come from `storage.alert_samples`; this module decides what each becomes (metric names, the
"no data" cases, the per-window performance status).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import duckdb

from driftwatch.alerting.evaluation import lookback
from driftwatch.alerting.model import Rule, RuleSet, Sample
from driftwatch.config.monitors import MonitorConfig
from driftwatch.durations import window_start as align_window
from driftwatch.pipeline.alerts.multivariate_samples import multivariate_samples
from driftwatch.storage import alert_samples as stored
from driftwatch.storage.database import Database
from driftwatch.storage.quality import QualityRow, quality_rows_since
from driftwatch.storage.versions import VersionSampleRow, comparison_sample_rows

OVERALL = "*"  # the segment of all rows, and the model version of whole-monitor values
DRIFT_STATUS = {"ok": 0.0, "warn": 1.0, "drift": 2.0}
# Stored statistic → the metric name rules use for it, when they differ.
STAT_ALIASES = {"missing_share_current": "missing_share"}
ESTIMATE_PREFIX = "estimated_"  # as in pipeline.performance (CBPE estimates are stored beside real metrics)

ReportUrl = Callable[[str, str, str, datetime], str | None]  # (monitor, model_version, segment, window_start)


@dataclass
class SampleBatch:
    samples: list[Sample] = field(default_factory=list)
    through: datetime | None = None  # newest computed_at / finished_at read: the next `since`

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def saw(self, moment: datetime | None) -> None:
        if moment is not None and (self.through is None or moment > self.through):
            self.through = moment


def _number(value: float | None) -> float | None:
    """A stored value, NaN read as "no data"."""
    return None if value is None or math.isnan(value) else value


@dataclass(frozen=True)
class _Samples:
    """Builds the samples of one monitor (and their report links) into one batch."""

    monitor: str
    batch: SampleBatch
    report_url: ReportUrl | None

    def add(
        self,
        version: str,
        segment: str,
        feature: str | None,
        metric: str,
        window: tuple[datetime, datetime],
        value: float | None,
        samples: int | None,
        baseline: float | None = None,
    ) -> None:
        start, end = window
        url = self.report_url(self.monitor, version, segment, start) if self.report_url is not None else None
        self.batch.add(
            Sample(
                monitor=self.monitor,
                model_version=version,
                segment=segment,
                feature=feature,
                metric=metric,
                window_start=start,
                window_end=end,
                value=value,
                samples=samples,
                baseline=baseline,
                report_url=url,
            )
        )


def collect_samples(
    db: Database,
    monitor: MonitorConfig,
    now: datetime,
    since: datetime | None = None,
    window_cutoff: datetime | None = None,
    report_url: ReportUrl | None = None,
) -> SampleBatch:
    """Samples of every result stored after `since` (all when None) for windows starting at or after
    `window_cutoff`:

    * per feature and window: every stored statistic under its own name (`psi`, `ks_statistic`, `ks_pvalue`,
      `chi2_pvalue`, `js_distance`, `hellinger`, `wasserstein_norm`, `unseen_share`, ...), `missing_share`
      (the window's missing share) and `drift_status` (0 ok, 1 warn, 2 drift; no data when insufficient);
      `samples` is the window's rows;
    * per window: `dataset_drift_share`, `dataset_status` (0 ok, 1 warn, 2 drift; both no data when the window
      was not judged), `dataset_judged` (1, or 0 when it had fewer than min_rows rows) and `rows` (feature None);
    * per finished run: `quarantined_rows` (model version and segment `*`; the run is its "window");
    * `windows_without_data`: closed windows since the last one with data, judged on the latest closed window;
    * performance: every stored metric (`roc_auc`, ...; no data while labels are insufficient),
      `performance_status` (0 ok, 1 degraded), `label_coverage`, `label_count`, with `samples` = labels and
      `baseline` = the reference's value;
    * data quality (docs/quality.md): `quality_<check>` per check (with its feature where it has one),
      `quality_feature_status` per feature, `quality_status` and `quality_failures` per window or cycle.
    """
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware (UTC)")
    batch = SampleBatch()
    out = _Samples(monitor.name, batch, report_url)
    cur = db.cursor()
    _feature_samples(stored.feature_result_rows(cur, monitor.name, since, window_cutoff), out)
    _window_samples(stored.window_summary_rows(cur, monitor.name, since, window_cutoff), out)
    _run_samples(stored.finished_run_rows(cur, monitor.name, since, window_cutoff), out)
    _gap_sample(cur, monitor, now, out)
    _performance_samples(stored.performance_rows(cur, monitor.name, since, window_cutoff), out)
    _quality_samples(quality_rows_since(cur, monitor.name, since, window_cutoff), out)
    for mv in multivariate_samples(cur, monitor.name, since, window_cutoff):  # docs/alert-rules.md
        out.batch.saw(mv.computed_at)
        out.add(mv.model_version, OVERALL, None, mv.metric, mv.window, mv.value, mv.rows)
    _version_samples(comparison_sample_rows(cur, monitor.name, since, window_cutoff), out)
    return batch


def _feature_samples(results: Sequence[stored.FeatureResultRow], out: _Samples) -> None:
    """Per feature: every statistic, missing_share and drift_status."""
    for r in results:
        out.batch.saw(r.computed_at)
        window = (r.window_start, r.window_end)
        for stat, value in r.statistics:
            number = _number(value)
            out.add(r.model_version, r.segment, r.feature, stat, window, number, r.rows)
            alias = STAT_ALIASES.get(stat)
            if alias is not None:
                out.add(r.model_version, r.segment, r.feature, alias, window, number, r.rows)
        status = DRIFT_STATUS.get(r.status)
        out.add(r.model_version, r.segment, r.feature, "drift_status", window, status, r.rows)


def _window_samples(summaries: Sequence[stored.WindowSummaryRow], out: _Samples) -> None:
    """Per window: the share of drifting features, the verdict, whether there is one, and the rows. A window
    with too few rows has no verdict: its share and status are "no data" (they change no alert, so they never
    read as ok), and `dataset_judged` 0 makes "not judged" something a rule can fire on."""
    for s in summaries:
        out.batch.saw(s.computed_at)
        window = (s.window_start, s.window_end)
        judged = s.status != "insufficient_data"
        share = _number(s.drift_share) if judged else None
        out.add(s.model_version, s.segment, None, "dataset_drift_share", window, share, s.rows)
        out.add(
            s.model_version, s.segment, None, "dataset_status", window, DRIFT_STATUS.get(s.status), s.rows
        )
        out.add(s.model_version, s.segment, None, "dataset_judged", window, 1.0 if judged else 0.0, s.rows)
        out.add(s.model_version, s.segment, None, "rows", window, float(s.rows), s.rows)


def _run_samples(runs: Sequence[stored.FinishedRunRow], out: _Samples) -> None:
    """Per finished run: quarantined rows (a run that took no time still gets a non-empty "window")."""
    for run in runs:
        out.batch.saw(run.finished_at)
        end = (
            run.finished_at
            if run.finished_at > run.started_at
            else run.started_at + timedelta(microseconds=1)
        )
        quarantined = float(run.rows_quarantined)
        out.add(OVERALL, OVERALL, None, "quarantined_rows", (run.started_at, end), quarantined, run.rows_read)


def _gap_sample(cur: duckdb.DuckDBPyConnection, monitor: MonitorConfig, now: datetime, out: _Samples) -> None:
    """Closed windows without data, judged on the latest closed window (nothing before the first window)."""
    width = monitor.window
    latest_end = align_window(now, width)
    last_data_end = stored.last_data_window_end(cur, monitor.name, latest_end)
    if last_data_end is None:
        return
    gap = max(0, math.floor((latest_end - last_data_end) / width))
    out.add(
        OVERALL, OVERALL, None, "windows_without_data", (latest_end - width, latest_end), float(gap), None
    )


def _performance_samples(results: Sequence[stored.PerformanceRow], out: _Samples) -> None:
    """Every stored metric, and per window its status, label coverage and label count."""
    windows: dict[tuple[str, str, datetime, datetime], list[stored.PerformanceRow]] = {}
    for r in results:
        out.batch.saw(r.computed_at)
        windows.setdefault((r.model_version, r.segment, r.window_start, r.window_end), []).append(r)
    for (version, segment, start, end), items in windows.items():
        for item in items:
            # insufficient_labels is the pipeline's own gate: no verdict, no alert.
            value = None if item.status == "insufficient_labels" else _number(item.value)
            baseline = _number(item.baseline)
            out.add(version, segment, None, item.metric, (start, end), value, item.n_labels, baseline)
        _performance_window(version, segment, (start, end), items, out)


def _performance_window(
    version: str,
    segment: str,
    window: tuple[datetime, datetime],
    items: Sequence[stored.PerformanceRow],
    out: _Samples,
) -> None:
    """A window's performance_status (1 when any real metric degraded, 0 when one is ok, else no data),
    label_coverage and label_count, from its real metrics (CBPE estimates judge nothing here)."""
    real = [item for item in items if not item.metric.startswith(ESTIMATE_PREFIX)]
    if not real:
        return
    statuses = {item.status for item in real}
    labels = real[0].n_labels
    coverage = next((c for item in real if (c := _number(item.coverage)) is not None), None)
    status_value = 1.0 if "degraded" in statuses else 0.0 if "ok" in statuses else None
    out.add(version, segment, None, "performance_status", window, status_value, labels)
    out.add(version, segment, None, "label_coverage", window, coverage, labels)
    out.add(version, segment, None, "label_count", window, float(labels), labels)


VERSION_VERDICT = {"candidate_ok": 0.0, "candidate_worse": 1.0}  # insufficient_data: no data


def _version_samples(rows: Sequence[VersionSampleRow], out: _Samples) -> None:
    """Per compared window, under the candidate's model version (segment '*'): `version_verdict` (0 ok,
    1 worse, no data when insufficient), `version_agreement` and `version_flip_share` (shadow; samples = the
    pairs) and `candidate_metric_delta` (canary: candidate − baseline, baseline = the baseline's value;
    samples = the candidate's labelled rows)."""
    for r in rows:
        out.batch.saw(r.computed_at)
        window = (r.window_start, r.window_end)
        verdict = VERSION_VERDICT.get(r.status)
        out.add(r.candidate, OVERALL, None, "version_verdict", window, verdict, None)
        out.add(r.candidate, OVERALL, None, "version_agreement", window, _number(r.agreement), r.pairs)
        out.add(r.candidate, OVERALL, None, "version_flip_share", window, _number(r.flip_share), r.pairs)
        delta, baseline = _number(r.metric_delta), _number(r.baseline_value)
        out.add(
            r.candidate, OVERALL, None, "candidate_metric_delta", window, delta, r.candidate_labels, baseline
        )


def past_samples(
    db: Database,
    rules: RuleSet | Sequence[Rule],
    monitor: MonitorConfig,
    samples: Sequence[Sample],
    now: datetime,
) -> list[Sample]:
    """The stored values relative rules compare the new `samples` with: every result of windows starting up to
    `lookback(rules)` before the earliest new window, read by the same queries as the samples themselves (so a
    past value is exactly what a rule saw, or would have seen, for that window). Empty without relative rules."""
    span = lookback(rules)
    if span is None or not samples:
        return []
    earliest = min(s.window_start for s in samples)
    return collect_samples(db, monitor, now, since=None, window_cutoff=earliest - span).samples


QUALITY_STATUS = {"ok": 0.0, "warn": 1.0, "fail": 2.0}  # not_judged: no data


def _quality_samples(rows: Sequence[QualityRow], out: _Samples) -> None:
    """Per check `quality_<check>` (its status; no data when not judged), per feature the worst of its checks
    in the window (`quality_feature_status`; windows only), and per window or cycle the worst check (`quality_status`) and the number of
    failed checks (`quality_failures`). `samples` is None: the checks judge shares, not a sample size."""
    groups: dict[tuple[str, datetime, datetime], list[QualityRow]] = {}
    for r in rows:
        out.batch.saw(r.computed_at)
        groups.setdefault((r.model_version, r.window_start, r.window_end), []).append(r)
    for (version, start, end), items in groups.items():
        window = (start, end)
        features: dict[str, list[float]] = {}
        for r in items:
            value = QUALITY_STATUS.get(r.status)
            out.add(version, OVERALL, r.feature, f"quality_{r.check}", window, value, None)
            # Per window only: a cycle's `quality_type` is its own series (the run is its "window").
            if r.feature is not None and value is not None and r.scope == "window":
                features.setdefault(r.feature, []).append(value)
        for feature, values in features.items():
            out.add(version, OVERALL, feature, "quality_feature_status", window, max(values), None)
        judged = [v for r in items if (v := QUALITY_STATUS.get(r.status)) is not None]
        out.add(version, OVERALL, None, "quality_status", window, max(judged) if judged else None, None)
        failures = float(sum(1 for r in items if r.status == "fail"))
        out.add(version, OVERALL, None, "quality_failures", window, failures, None)
