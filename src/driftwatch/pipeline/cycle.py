"""A whole cycle for one monitor: ingest → reference profile → windows → labels → performance, recorded in
the `runs` table.

The worker's schedule, the API's "run now" and `driftwatch run` all call `run_cycle`; nothing else decides
what a cycle does.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.settings import Settings
from driftwatch.durations import utc_now
from driftwatch.pipeline.alerts import AlertCycleSummary, AlertingRun, alert_cycle
from driftwatch.pipeline.ingest import IngestSummary, ingest_predictions
from driftwatch.pipeline.labels import LabelIngestSummary, ingest_labels
from driftwatch.pipeline.multivariate import MultivariateSummary, compute_multivariate
from driftwatch.pipeline.object_sources import local_reference
from driftwatch.pipeline.performance import (
    PerformanceSummary,
    compute_queued_performance,
    ensure_performance_reference,
    with_loss_model,
    with_multiclass_estimator,
)
from driftwatch.pipeline.quality import QualitySummary, check_quality, recomputer
from driftwatch.pipeline.reference import PendingReference, cached_profiles, ensure_reference_ahead
from driftwatch.pipeline.registry import open_registry_cycle, write_back
from driftwatch.pipeline.retention import RetentionSummary, expire_rows
from driftwatch.pipeline.run_status import run_outcome
from driftwatch.pipeline.versions import VersionsSummary, compare_versions_or_warn
from driftwatch.pipeline.windows import OVERALL, PlannedWindow, WindowResult, compute_queued_windows
from driftwatch.reports.site import ComputedCharts, render_reports, window_page
from driftwatch.sources.columns import Exclusion
from driftwatch.stats.decision import OUTPUT_FEATURES
from driftwatch.stats.profile import CategoricalProfile, category_cap_note
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.performance_results import queue_from_window_queue
from driftwatch.storage.pushes import fold_pushed_windows
from driftwatch.storage.runs import RunCounts, finish_run, record_run_alerts, start_run
from driftwatch.workdirs import sweep_workdirs


@dataclass
class CycleSummary:
    monitor: str
    run_id: str
    ingest: IngestSummary
    features: tuple[str, ...] = ()
    outputs: tuple[
        str, ...
    ] = ()  # the model outputs watched alongside them (raw_prediction, business_output)
    profile_rebuilt: bool = False
    excluded: tuple[Exclusion, ...] = ()  # reference columns not inferred as features, and why
    capped: tuple[tuple[str, str], ...] = ()  # (feature, note): categoricals over the category cap
    reference_rows_rejected: int = 0
    windows: list[WindowResult] = field(default_factory=list)
    reports: list[Path] = field(default_factory=list)  # report files (re)written after the cycle
    labels: LabelIngestSummary = field(default_factory=LabelIngestSummary)
    performance: PerformanceSummary | None = None  # None: the monitor has no `task`
    alerts: AlertCycleSummary | None = None  # None: alerting is off
    windows_pushed: int = 0  # windows queued for rows pushed through the API since the last cycle
    retention: RetentionSummary = field(default_factory=RetentionSummary)  # raw rows deleted (retention:)
    quality: QualitySummary = field(default_factory=QualitySummary)  # data-quality checks (docs/quality.md)
    multivariate: MultivariateSummary | None = None  # None: the monitor's `multivariate:` is off
    versions: VersionsSummary | None = None  # baseline vs candidate windows compared (None: no `versions:`)
    registry_warnings: list[str] = field(default_factory=list)  # an mlflow:// reference (pipeline.registry)
    reference_warnings: list[str] = field(default_factory=list)  # a database reference's fallback to its copy
    compute_warnings: list[str] = field(default_factory=list)  # windows `compute:`'s cluster could not take
    registry_change: str | None = None  # "mlflow://models/m@champion: version 1 → 2" when it moved this cycle
    seconds: float = 0.0
    status: str = (
        "running"  # as recorded in `runs` once it ends: ok, degraded (pipeline/run_status.py), failed
    )
    status_note: str | None = None  # `runs.error` of a degraded run: what could not be read

    @property
    def windows_computed(self) -> int:
        return len(self.windows)

    @property
    def warnings(self) -> list[str]:
        """Things that did not fail but need a look, e.g. a predictions/labels glob that matched no file."""
        return (
            self.ingest.warnings
            + self.labels.warnings
            + self.retention.warnings
            + self.registry_warnings
            + self.reference_warnings
            + self.compute_warnings
        )

    def drifting_features(self) -> dict[str, int]:
        """Feature → number of computed windows (overall segment) in which it is at `drift`."""
        counts: dict[str, int] = {}
        for w in self.windows:
            seg = w.overall
            for fs, fd in zip(seg.features, seg.decision.features, strict=True):
                if fd.status == "drift":
                    counts[fs.name] = counts.get(fs.name, 0) + 1
        return counts


@dataclass
class CycleHooks:
    """Progress callbacks (the CLI draws a bar with them; the worker leaves them empty)."""

    on_file: Callable[[str], None] | None = None
    on_window: Callable[[PlannedWindow, int, int], None] | None = None


def run_cycle(
    db: Database,
    monitor: MonitorConfig,
    now: datetime | None = None,
    trigger: str = "cli",
    hooks: CycleHooks | None = None,
    alerting: AlertingRun | None = None,
) -> CycleSummary:
    """Ingest new rows, refresh the reference profile if needed, compute every closed queued window."""
    hooks = hooks or CycleHooks()
    now = now or utc_now()
    sweep_workdirs()  # temporary folders of killed processes (a pulled batch, a downloaded object)
    run_id = uuid.uuid4().hex
    started = time.perf_counter()
    with db.transaction() as tx:
        start_run(tx, run_id, monitor.name, trigger, utcnow())
    summary = CycleSummary(monitor=monitor.name, run_id=run_id, ingest=IngestSummary())
    try:
        # an s3:// or database reference: its local copy (pipeline.object_sources, pipeline.database_reference)
        monitor = local_reference(db, monitor, warnings=summary.reference_warnings)
        registry = open_registry_cycle(db, monitor, run_id)  # an mlflow:// reference: a profile per version
        if registry is not None:
            summary.registry_warnings = registry.warnings
            summary.registry_change = registry.change_note()
            monitor = registry.monitor
        # A current stored profile is read while the rows are ingested (`ensure_reference_ahead`); the read
        # ends before this returns, however the ingest ends (the caller may close the database then).
        pending: PendingReference | None = None
        try:
            pending = (
                PendingReference.done(registry.reference)
                if registry is not None
                else ensure_reference_ahead(db, monitor)
            )
            summary.ingest = ingest_predictions(db, monitor, pending.features, hooks.on_file)
            reference = pending.result()
        finally:
            if pending is not None:
                pending.settle()
        summary.features = reference.features.names
        summary.outputs = tuple(n for n in OUTPUT_FEATURES if n in reference.profile.features)
        summary.profile_rebuilt = reference.rebuilt
        summary.excluded = reference.excluded
        summary.capped = tuple(
            (name, note)
            for name, profile in reference.profile.features.items()
            if isinstance(profile, CategoricalProfile) and (note := category_cap_note(profile)) is not None
        )
        summary.reference_rows_rejected = reference.rows_rejected
        # Pushed batches are already stored (they never wait for a cycle); their windows are queued here.
        # A batch committed after this point is in the table the windows read, and its windows wait for the
        # next cycle: computed once more rather than missed.
        with db.transaction() as tx:
            summary.windows_pushed = fold_pushed_windows(tx, monitor.name, utcnow())
        if monitor.task is not None:
            # Before the drift windows empty their queue: every window with new predictions (which may
            # already have labels waiting) gets its performance recomputed too.
            with db.transaction() as tx:
                queue_from_window_queue(tx, monitor.name)
        summary.windows = compute_queued_windows(
            db,
            monitor,
            reference.features,
            reference.profile,
            run_id,
            now,
            hooks.on_window,
            profile_for=registry.profile_for if registry is not None else None,
            warnings=summary.compute_warnings,
        )
        # With a recomputer: windows a stopped cycle stored but never judged are judged now too.
        recompute = recomputer(
            db, monitor, reference.features, reference.profile, registry.profile_for if registry else None
        )
        summary.quality = check_quality(
            db, monitor, reference.profile, summary.windows, summary.ingest, run_id, recompute
        )
        summary.multivariate = compute_multivariate(db, monitor, reference, run_id)
        summary.labels = ingest_labels(db, monitor)
        perf_reference = ensure_performance_reference(db, monitor)
        if perf_reference is not None:  # a regression monitor's DLE loss model (pipeline.loss_estimation)
            perf_reference = with_loss_model(
                db, monitor, perf_reference, reference.features, reference.profile.profile_id
            )
        if (
            perf_reference is not None
        ):  # a multiclass monitor's CBPE calibrators (pipeline.multiclass_estimation)
            perf_reference = with_multiclass_estimator(
                db, monitor, perf_reference, reference.profile.profile_id
            )
        if perf_reference is not None:
            summary.performance = compute_queued_performance(db, monitor, perf_reference, run_id, now)
        summary.versions = compare_versions_or_warn(
            db,
            monitor,
            reference.features,
            run_id,
            registry.resolve_version_name if registry is not None else None,
            summary.registry_warnings,
        )
        if registry is not None:
            touched = {w.window.model_version for w in summary.windows}
            write_back(registry, touched, bool(summary.performance and summary.performance.windows_computed))
        # Last: only windows computed above (and no longer queued) give up their raw rows.
        summary.retention = expire_rows(db, monitor, now, summary.run_id)
    except BaseException as exc:
        summary.status = "failed"
        _finish(db, summary, started, summary.status, f"{type(exc).__name__}: {exc}")
        raise
    # An ok run keeps its warnings in `error` (shown by `runs` and GET /api/runs), so a run that read nothing
    # because the path matches no file does not look like a quiet day; a source it could not read makes it
    # `degraded`, naming the source (pipeline/run_status.py).
    outcome = run_outcome(summary)
    summary.status, summary.status_note = outcome.status, outcome.note
    _finish(db, summary, started, outcome.status, outcome.error)
    if alerting is not None:
        # After the run is recorded, so its own quarantined_rows are judged now. A failure here loses nothing:
        # the results stay unevaluated (alert_progress) until the next cycle evaluates them.
        summary.alerts = alert_cycle(db, alerting, monitor, now, report_url=report_link)
        with db.transaction() as tx:  # on the run's row too: `driftwatch runs` shows it
            record_run_alerts(
                tx, run_id, summary.alerts.firing, summary.alerts.enqueued, summary.alerts.suppressed
            )
    return summary


def report_link(monitor: str, model_version: str, segment: str, window_start: datetime) -> str:
    """The window report's URL path as the server serves it; alert channels join it to `report_base_url`."""
    return "reports/" + window_page(monitor, model_version, segment, window_start)


def run_monitor(
    db: Database,
    settings: Settings,
    name: str,
    now: datetime | None = None,
    trigger: str = "cli",
    hooks: CycleHooks | None = None,
    alerting: AlertingRun | None = None,
) -> CycleSummary:
    """A cycle and then the reports it changed: what the CLI, the scheduler and the API's "run now" call."""
    summary = run_cycle(db, settings.monitor(name), now=now, trigger=trigger, hooks=hooks, alerting=alerting)
    summary.reports = render_reports(
        db,
        settings,
        monitor=name,
        computed=computed_charts(summary.windows),
        profiles=cached_profiles(db, name),
    )
    return summary


def computed_charts(windows: Sequence[WindowResult]) -> ComputedCharts:
    """The chart data the windows' statistics computed, keyed as `render_reports` looks it up: the pages of
    these windows are then drawn without fetching or sorting their values again."""
    return {
        (w.window.model_version, segment.segment, w.window.start): {
            f.name: f.ecdf for f in segment.features if f.ecdf is not None
        }
        for w in windows
        for segment in w.segments
    }


def _finish(db: Database, summary: CycleSummary, started: float, status: str, error: str | None) -> None:
    summary.seconds = time.perf_counter() - started
    ing = summary.ingest
    counts = RunCounts(
        rows_ingested=ing.rows_inserted,
        rows_duplicate=ing.rows_duplicate,
        rows_quarantined=ing.rows_quarantined,
        # label sources and a database reference that fell back to its copy count too: an unreachable table
        # must show in /metrics and its alert rule
        files_failed=len(ing.failed_files)
        + len(summary.labels.failed_files)
        + len(summary.reference_warnings),
        windows_computed=summary.windows_computed,
        rows_expired=summary.retention.rows_expired,
    )
    with db.transaction() as tx:
        finish_run(tx, summary.run_id, status, utcnow(), counts, error)


__all__ = ["OVERALL", "CycleHooks", "CycleSummary", "run_cycle"]
