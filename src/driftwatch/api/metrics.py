"""`GET /metrics`: Prometheus text, collected from the database at scrape time.

A custom Collector reads the results, runs and ingest tables on each scrape, so nothing is kept in process
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

from driftwatch.api.queries import table_columns, utc
from driftwatch.api.state import package_version
from driftwatch.config.settings import Settings
from driftwatch.storage.database import Database
from driftwatch.storage.runs import INTERRUPTED
from driftwatch.worker import Worker

log = logging.getLogger("driftwatch.metrics")

STATUS_VALUE = {"insufficient_data": -1, "ok": 0, "warn": 1, "drift": 2}
PERFORMANCE_STATUS_VALUE = {"insufficient_labels": -1, "ok": 0, "info": 0, "estimate": 0, "degraded": 2}
OUTBOX_TABLES = ("alert_outbox", "notifications")


def _ts(value: datetime | None) -> float | None:
    if value is None:
        return None
    aware = utc(value)
    return aware.timestamp() if aware is not None else None


def _num(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None


class DriftwatchCollector(Collector):
    def __init__(self, settings: Settings, db: Database, worker: Worker | None, max_features: int) -> None:
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
            ("performance", self._performance),
            ("notifications", self._notifications),
            ("alerts", self._alerts),
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
        cur = self.db.cursor()
        rows = cur.execute(
            "WITH latest AS (SELECT monitor, max(window_start) AS ws FROM feature_results WHERE segment = '*' "
            "GROUP BY monitor) "
            "SELECT r.monitor, r.model_version, r.feature, r.status, "
            "max(s.value) FILTER (WHERE s.statistic = 'psi'), "
            "max(s.value) FILTER (WHERE s.statistic = 'ks_statistic') "
            "FROM feature_results r JOIN latest l ON r.monitor = l.monitor AND r.window_start = l.ws "
            "LEFT JOIN feature_stats s ON s.monitor = r.monitor AND s.model_version = r.model_version "
            "AND s.segment = r.segment AND s.window_start = r.window_start AND s.feature = r.feature "
            "WHERE r.segment = '*' GROUP BY r.monitor, r.model_version, r.feature, r.status "
            "ORDER BY r.monitor, r.model_version, r.feature"
        ).fetchall()
        per_monitor: dict[str, list[tuple[object, ...]]] = {}
        for row in rows:
            per_monitor.setdefault(str(row[0]), []).append(row)
        for monitor, items in per_monitor.items():
            items.sort(key=lambda r: (-STATUS_VALUE.get(str(r[3]), 0), -(_num(r[4]) or 0.0)))
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
        rows = cur.execute(
            "SELECT monitor, model_version, window_start, rows, drift_share, status FROM window_summaries "
            "WHERE segment = '*' QUALIFY window_start = max(window_start) OVER (PARTITION BY monitor) "
            "ORDER BY monitor, model_version"
        ).fetchall()
        for monitor, version, ws, n, drift_share, state in rows:
            labels = [str(monitor), str(version)]
            if (value := _num(drift_share)) is not None:
                share.add_metric(labels, value)
            status.add_metric(labels, STATUS_VALUE.get(str(state), -1))
            rows_g.add_metric(labels, float(n))
            if (when := _ts(ws)) is not None:
                start.add_metric(labels, when)
        counts = dict(cur.execute("SELECT monitor, count(*) FROM window_queue GROUP BY monitor").fetchall())
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
        cur = self.db.cursor()
        for monitor, ts in cur.execute(
            "SELECT monitor, max(finished_at) FROM runs WHERE status = 'ok' GROUP BY monitor ORDER BY monitor"
        ).fetchall():
            if (when := _ts(ts)) is not None:
                last_ok.add_metric([str(monitor)], when)
        for monitor, state, seconds in cur.execute(
            "SELECT monitor, status, epoch(finished_at - started_at) FROM runs WHERE finished_at IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY monitor ORDER BY finished_at DESC) = 1 ORDER BY monitor"
        ).fetchall():
            last_duration.add_metric([str(monitor), str(state)], float(seconds or 0.0))
        # An interrupted run (its process died) has no finished_at, when it stopped being unknown; it is counted
        # here all the same, so an alert on crashed cycles can see it (it has no duration above or below).
        for monitor, state, n in cur.execute(
            "SELECT monitor, status, count(*) FROM runs WHERE finished_at IS NOT NULL OR status = ? "
            "GROUP BY ALL ORDER BY ALL",
            [INTERRUPTED],
        ).fetchall():
            cycles.add_metric([str(monitor), str(state)], float(n))
        for monitor, n, total in cur.execute(
            "SELECT monitor, count(*), sum(epoch(finished_at - started_at)) FROM runs "
            "WHERE finished_at IS NOT NULL GROUP BY monitor ORDER BY monitor"
        ).fetchall():
            durations.add_metric([str(monitor)], count_value=float(n), sum_value=float(total or 0.0))
        return [last_ok, last_duration, durations, cycles]

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
        for monitor, kind, inserted, dup in cur.execute(
            "SELECT monitor, kind, sum(rows_inserted), sum(rows_duplicate) FROM ingested_files "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            ingested.add_metric([str(monitor), str(kind)], float(inserted or 0))
            duplicate.add_metric([str(monitor), str(kind)], float(dup or 0))
        for monitor, kind, n in cur.execute(
            "SELECT monitor, kind, count(*) FROM quarantine GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            quarantined.add_metric([str(monitor), str(kind)], float(n))
        return [ingested, duplicate, quarantined]

    def _performance(self) -> Iterable[Metric]:
        if not self.db.table_exists("performance_results"):
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
        cur = self.db.cursor()
        rows = cur.execute(
            "SELECT monitor, model_version, metric, value, status, coverage, n_labels, window_start "
            "FROM performance_results WHERE segment = '*' AND value IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY monitor, model_version, metric ORDER BY window_start DESC) = 1 "
            "ORDER BY ALL"
        ).fetchall()
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
        table = next((t for t in OUTBOX_TABLES if self.db.table_exists(t)), None)
        if table is None:
            return []
        cur = self.db.cursor()
        columns = table_columns(cur, table)
        if "status" not in columns:
            return []
        by_channel = "channel" in columns
        sent = CounterMetricFamily(
            "driftwatch_notifications",
            "Notifications in the outbox by status (delivered, failed, pending)",
            labels=["channel", "status"],
        )
        group = "channel, status" if by_channel else "'' AS channel, status"
        for channel, state, n in cur.execute(
            f'SELECT {group}, count(*) FROM "{table}" GROUP BY ALL ORDER BY ALL'
        ).fetchall():
            sent.add_metric([str(channel or ""), str(state)], float(n))
        out: list[Metric] = [sent]
        if self.db.table_exists("channel_health") and {"channel", "healthy"} <= set(
            table_columns(cur, "channel_health")
        ):
            healthy = GaugeMetricFamily(
                "driftwatch_channel_healthy", "1 while the notification channel delivers", labels=["channel"]
            )
            for channel, ok in cur.execute(
                "SELECT channel, healthy FROM channel_health ORDER BY channel"
            ).fetchall():
                healthy.add_metric([str(channel)], 1.0 if ok else 0.0)
            out.append(healthy)
        return out

    def _alerts(self) -> Iterable[Metric]:
        if not self.db.table_exists("alert_state"):
            return []
        cur = self.db.cursor()
        if not {"monitor", "rule", "state"} <= set(table_columns(cur, "alert_state")):
            return []
        firing = GaugeMetricFamily(
            "driftwatch_alerts",
            "Alert instances by rule and state (pending, firing)",
            labels=["monitor", "rule", "state"],
        )
        for monitor, rule, state, n in cur.execute(
            "SELECT monitor, rule, state, count(*) FROM alert_state WHERE state <> 'inactive' "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            firing.add_metric([str(monitor), str(rule), str(state)], float(n))
        return [firing]


def metrics_registry(
    settings: Settings, db: Database, worker: Worker | None, max_features: int
) -> CollectorRegistry:
    """A registry of its own (not the process-global one), so each app and test has independent metrics."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DriftwatchCollector(settings, db, worker, max_features))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
