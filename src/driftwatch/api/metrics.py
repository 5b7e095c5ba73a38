"""`GET /metrics`: Prometheus text, collected from the database at scrape time.

A custom Collector reads the results, runs and ingest tables on each scrape (the queries are in
storage/metrics_queries.py; this module only builds the metric families), so nothing is kept in process
memory and a restart loses no counter (they are sums over tables that only grow). Every family is listed in
docs/api.md. Per monitor, at most `server.metrics_max_features` features are exported (the most severe and
largest-PSI first) to bound the series count; `driftwatch_features_not_exported{monitor}` says how many were
left out.

A section whose table does not exist yet (performance, notifications) is skipped; a section that fails is
counted in `driftwatch_metrics_collect_errors{section}` and logged, and the other sections still export.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from driftwatch.api.metrics_multivariate import multivariate_metrics
from driftwatch.api.metrics_quality import quality_families
from driftwatch.api.metrics_versions import version_metrics
from driftwatch.api.state import Scheduler, package_version
from driftwatch.config.settings import Settings
from driftwatch.durations import as_utc
from driftwatch.storage import metrics_queries as q
from driftwatch.storage.api_queries import last_successful_cycles
from driftwatch.storage.database import Database
from driftwatch.storage.retention import oldest_prediction
from driftwatch.storage.snapshots import snapshot_bytes_total

log = logging.getLogger("driftwatch.metrics")

STATUS_VALUE = {"insufficient_data": -1, "ok": 0, "warn": 1, "drift": 2}
PERFORMANCE_STATUS_VALUE = {"insufficient_labels": -1, "ok": 0, "info": 0, "estimate": 0, "degraded": 2}


def _ts(value: datetime | None) -> float | None:
    if value is None:
        return None
    return as_utc(value).timestamp()


def _num(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None


class DriftwatchCollector(Collector):
    def __init__(self, settings: Settings, db: Database, worker: Scheduler | None, max_features: int) -> None:
        self.settings = settings
        self.db = db
        self.worker = worker
        self.max_features = max_features

    def describe(self) -> Iterable[Metric]:
        return []  # collected at scrape time only; registering must not query the database

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        errors = GaugeMetricFamily(
            "driftwatch_metrics_collect_errors",
            "1 for each section of this scrape that failed to collect",
            labels=["section"],
        )
        sections: list[tuple[str, Callable[[], Iterable[Metric]]]] = [
            ("service", self._service),
            ("features", self._features),
            ("windows", self._windows),
            ("runs", self._runs),
            ("ingest", self._ingest),
            ("retention", self._retention),
            ("performance", self._performance),
            ("notifications", self._notifications),
            ("alerts", self._alerts),
            ("quality", lambda: quality_families(self.db)),
            ("multivariate", lambda: multivariate_metrics(self.db)),
            ("versions", lambda: version_metrics(self.db)),
        ]
        for name, section in sections:
            try:
                metrics = list(section())
            except Exception as exc:  # noqa: BLE001 - one broken section must not blank the scrape
                log.error("metrics section %s failed: %s: %s", name, type(exc).__name__, exc)
                errors.add_metric([name], 1)
                continue
            yield from metrics
        yield errors
        duration = GaugeMetricFamily(
            "driftwatch_metrics_collect_seconds", "Time spent reading the database for this scrape"
        )
        duration.add_metric([], time.perf_counter() - started)
        yield duration

    def _service(self) -> Iterable[Metric]:
        info = GaugeMetricFamily("driftwatch_info", "driftwatch version", labels=["version"])
        info.add_metric([package_version()], 1)
        running = GaugeMetricFamily("driftwatch_scheduler_running", "1 while the scheduler is running")
        running.add_metric([], 1 if self.worker is not None and self.worker.running else 0)
        monitors = GaugeMetricFamily("driftwatch_monitors", "Monitors configured")
        monitors.add_metric([], len(self.settings.monitors))
        nxt = GaugeMetricFamily(
            "driftwatch_next_scheduled_cycle_timestamp_seconds",
            "When the monitor's next scheduled cycle is due (Unix time)",
            labels=["monitor"],
        )
        if self.worker is not None:
            for name in self.settings.monitors:
                when = self.worker.next_run(name)
                if when is not None:
                    nxt.add_metric([name], when.timestamp())
        return [info, running, monitors, nxt]

    def _features(self) -> Iterable[Metric]:
        psi = GaugeMetricFamily(
            "driftwatch_feature_psi",
            "PSI of the feature in the monitor's latest computed window",
            labels=["monitor", "model_version", "feature"],
        )
        ks = GaugeMetricFamily(
            "driftwatch_feature_ks_statistic",
            "Two-sample KS statistic D of the feature in the latest window (numeric features)",
            labels=["monitor", "model_version", "feature"],
        )
        status = GaugeMetricFamily(
            "driftwatch_feature_status",
            "Feature status in the latest window: -1 insufficient_data, 0 ok, 1 warn, 2 drift",
            labels=["monitor", "model_version", "feature"],
        )
        dropped = GaugeMetricFamily(
            "driftwatch_features_not_exported",
            "Features of the latest window left out by server.metrics_max_features",
            labels=["monitor"],
        )
        per_monitor: dict[str, list[q.LatestFeature]] = {}
        for row in q.latest_window_features(self.db.cursor()):
            per_monitor.setdefault(str(row.monitor), []).append(row)
        for monitor, items in per_monitor.items():
            items.sort(key=lambda r: (-STATUS_VALUE.get(str(r.status), 0), -(_num(r.psi) or 0.0)))
            kept = items[: self.max_features]
            dropped.add_metric([monitor], len(items) - len(kept))
            for _, version, feature, state, psi_value, ks_value in kept:
                labels = [monitor, str(version), str(feature)]
                status.add_metric(labels, STATUS_VALUE.get(str(state), -1))
                if (value := _num(psi_value)) is not None:
                    psi.add_metric(labels, value)
                if (value := _num(ks_value)) is not None:
                    ks.add_metric(labels, value)
        return [psi, ks, status, dropped]

    def _windows(self) -> Iterable[Metric]:
        share = GaugeMetricFamily(
            "driftwatch_dataset_drift_share",
            "Share of features drifting in the monitor's latest window",
            labels=["monitor", "model_version"],
        )
        status = GaugeMetricFamily(
            "driftwatch_window_status",
            "Dataset status of the latest window: -1 insufficient_data, 0 ok, 1 warn, 2 drift",
            labels=["monitor", "model_version"],
        )
        rows_g = GaugeMetricFamily(
            "driftwatch_window_rows", "Rows in the latest window", labels=["monitor", "model_version"]
        )
        start = GaugeMetricFamily(
            "driftwatch_latest_window_start_timestamp_seconds",
            "Start of the latest computed window (Unix time)",
            labels=["monitor", "model_version"],
        )
        queued = GaugeMetricFamily(
            "driftwatch_windows_queued", "Windows waiting to be computed", labels=["monitor"]
        )
        cur = self.db.cursor()
        for monitor, version, ws, n, drift_share, state in q.latest_window_summaries(cur):
            labels = [str(monitor), str(version)]
            if (value := _num(drift_share)) is not None:
                share.add_metric(labels, value)
            status.add_metric(labels, STATUS_VALUE.get(str(state), -1))
            rows_g.add_metric(labels, float(n))
            if (when := _ts(ws)) is not None:
                start.add_metric(labels, when)
        counts = q.queued_window_counts(cur)
        for name in self.settings.monitors:
            queued.add_metric([name], float(counts.get(name, 0)))
        return [share, status, rows_g, start, queued]

    def _runs(self) -> Iterable[Metric]:
        last_ok = GaugeMetricFamily(
            "driftwatch_last_successful_cycle_timestamp_seconds",
            "When the monitor's last successful cycle finished (Unix time); absent until one has",
            labels=["monitor"],
        )
        last_duration = GaugeMetricFamily(
            "driftwatch_last_cycle_duration_seconds",
            "Duration of the monitor's last finished cycle",
            labels=["monitor", "status"],
        )
        durations = SummaryMetricFamily(
            "driftwatch_cycle_duration_seconds", "Durations of finished cycles", labels=["monitor"]
        )
        cycles = CounterMetricFamily(
            "driftwatch_cycles",
            "Cycles finished (or interrupted: their process died), by outcome",
            labels=["monitor", "status"],
        )
        failed = GaugeMetricFamily(
            "driftwatch_last_cycle_files_failed",
            "Files, objects and sources the monitor's last finished cycle could not read (retried next cycle)",
            labels=["monitor"],
        )
        cur = self.db.cursor()
        for monitor, n in q.last_cycle_files_failed(cur).items():
            failed.add_metric([monitor], float(n))
        for monitor, finished in last_successful_cycles(cur).items():
            last_ok.add_metric([monitor], finished.timestamp())
        for monitor, state, seconds in q.last_finished_cycles(cur):
            last_duration.add_metric([monitor, state], seconds)
        # Interrupted runs (their process died) are counted too, so an alert on crashed cycles can see them;
        # they have no finished_at, hence no duration above or below.
        for monitor, state, n in q.cycle_counts(cur):
            cycles.add_metric([monitor, state], float(n))
        for monitor, n, total in q.cycle_duration_totals(cur):
            durations.add_metric([monitor], count_value=n, sum_value=total)
        return [last_ok, last_duration, durations, cycles, failed]

    def _ingest(self) -> Iterable[Metric]:
        ingested = CounterMetricFamily(
            "driftwatch_rows_ingested",
            "Rows stored from files and pushed batches",
            labels=["monitor", "kind"],
        )
        duplicate = CounterMetricFamily(
            "driftwatch_rows_duplicate",
            "Rows skipped because their request id was already stored (labels: unchanged)",
            labels=["monitor", "kind"],
        )
        quarantined = CounterMetricFamily(
            "driftwatch_rows_quarantined",
            "Rows refused with a reason (table quarantine)",
            labels=["monitor", "kind"],
        )
        cur = self.db.cursor()
        for monitor, kind, inserted, dup in q.ingested_row_totals(cur):
            ingested.add_metric([monitor, kind], float(inserted))
            duplicate.add_metric([monitor, kind], float(dup))
        for monitor, kind, n in q.quarantined_row_counts(cur):
            quarantined.add_metric([monitor, kind], float(n))
        return [ingested, duplicate, quarantined]

    def _retention(self) -> Iterable[Metric]:
        expired = CounterMetricFamily(
            "driftwatch_rows_expired",
            "Raw rows (predictions, quarantined rows, labels) deleted by the monitor's retention",
            labels=["monitor"],
        )
        oldest = GaugeMetricFamily(
            "driftwatch_oldest_prediction_timestamp_seconds",
            "Timestamp of the oldest prediction row kept (Unix time); absent while the table is empty",
            labels=["monitor"],
        )
        snapshot_bytes = CounterMetricFamily(
            "driftwatch_snapshot_bytes",
            "Bytes of Parquet written by completed snapshots (retention's and `driftwatch snapshot`'s)",
            labels=["monitor"],
        )
        cur = self.db.cursor()
        totals = q.rows_expired_totals(cur)
        written = snapshot_bytes_total(cur)
        for name in self.settings.monitors:
            expired.add_metric([name], float(totals.get(name, 0)))
            snapshot_bytes.add_metric([name], float(written.get(name, 0)))
            kept = oldest_prediction(cur, name)
            if kept is not None:
                oldest.add_metric([name], as_utc(kept).timestamp())
        return [expired, oldest, snapshot_bytes]

    def _performance(self) -> Iterable[Metric]:
        rows = q.latest_performance(self.db)
        if rows is None:
            return []
        value = GaugeMetricFamily(
            "driftwatch_performance",
            "Realized (or estimated_*) performance in the latest window with a value",
            labels=["monitor", "model_version", "metric"],
        )
        status = GaugeMetricFamily(
            "driftwatch_performance_status",
            "Performance status of that window: -1 insufficient_labels, 0 ok, 2 degraded",
            labels=["monitor", "model_version", "metric"],
        )
        coverage = GaugeMetricFamily(
            "driftwatch_label_coverage",
            "Share of the window's predictions that have a label",
            labels=["monitor", "model_version", "metric"],
        )
        labels_n = GaugeMetricFamily(
            "driftwatch_labels",
            "Labelled predictions in that window",
            labels=["monitor", "model_version", "metric"],
        )
        start = GaugeMetricFamily(
            "driftwatch_performance_window_start_timestamp_seconds",
            "Start of the window these performance values come from (Unix time)",
            labels=["monitor", "model_version", "metric"],
        )
        for monitor, version, metric, v, state, cov, n, ws in rows:
            labels = [str(monitor), str(version), str(metric)]
            if (number := _num(v)) is not None:
                value.add_metric(labels, number)
            status.add_metric(labels, PERFORMANCE_STATUS_VALUE.get(str(state), 0))
            if (number := _num(cov)) is not None:
                coverage.add_metric(labels, number)
            labels_n.add_metric(labels, float(n or 0))
            if (when := _ts(ws)) is not None:
                start.add_metric(labels, when)
        return [value, status, coverage, labels_n, start]

    def _notifications(self) -> Iterable[Metric]:
        counts = q.notification_counts(self.db)
        if counts is None:
            return []
        sent = CounterMetricFamily(
            "driftwatch_notifications",
            "Notifications in the outbox by status (delivered, failed, pending)",
            labels=["channel", "status"],
        )
        for channel, state, n in counts:
            sent.add_metric([channel, state], float(n))
        out: list[Metric] = [sent]
        flags = q.channel_health_flags(self.db)
        if flags is not None:
            healthy = GaugeMetricFamily(
                "driftwatch_channel_healthy", "1 while the notification channel delivers", labels=["channel"]
            )
            for channel, ok in flags:
                healthy.add_metric([channel], 1.0 if ok else 0.0)
            out.append(healthy)
        return out

    def _alerts(self) -> Iterable[Metric]:
        counts = q.active_alert_counts(self.db)
        if counts is None:
            return []
        firing = GaugeMetricFamily(
            "driftwatch_alerts",
            "Alert instances by rule and state (pending, firing)",
            labels=["monitor", "rule", "state"],
        )
        for monitor, rule, state, n in counts:
            firing.add_metric([monitor, rule, state], float(n))
        return [firing]


def metrics_registry(
    settings: Settings, db: Database, worker: Scheduler | None, max_features: int
) -> CollectorRegistry:
    """A registry of its own (not the process-global one), so each app and test has independent metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DriftwatchCollector(settings, db, worker, max_features))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
