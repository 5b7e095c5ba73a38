"""The aggregates `GET /metrics` reads at scrape time (api/metrics.py turns them into Prometheus families).

Each function is one query, named for what it returns; rows come back in a stable order (monitor first), so
a scrape's series are in the same order every time. Tables owned by parts of driftwatch that may not be
installed in a database yet (performance, the alert outbox, channel health, alert state) give None when they
are missing or lack the columns read, so the scrape skips that section instead of failing.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import duckdb

from driftwatch.storage.database import Database
from driftwatch.storage.report_queries import table_columns
from driftwatch.storage.runs import INTERRUPTED
from driftwatch.storage.schema import quote_identifier

# The alert outbox under its current name and the one it had before the alerting tables were renamed.
OUTBOX_TABLES = ("alert_outbox", "notifications")


class LatestFeature(NamedTuple):
    """A feature of its monitor's latest overall window."""

    monitor: str
    model_version: str
    feature: str
    status: str
    psi: float | None
    ks_statistic: float | None


class LatestWindow(NamedTuple):
    """A model version's row in its monitor's latest overall window."""

    monitor: str
    model_version: str
    window_start: datetime  # naive UTC, as stored
    rows: int
    drift_share: float | None
    status: str


class LatestPerformance(NamedTuple):
    """A metric's latest overall window that has a value, per monitor and model version."""

    monitor: str
    model_version: str
    metric: str
    value: float | None
    status: str
    coverage: float | None
    n_labels: int | None
    window_start: datetime  # naive UTC, as stored


def latest_window_features(cur: duckdb.DuckDBPyConnection) -> list[LatestFeature]:
    """Every feature of each monitor's latest overall window, with its PSI and KS statistic when stored."""
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
    return [LatestFeature(*row) for row in rows]


def latest_window_summaries(cur: duckdb.DuckDBPyConnection) -> list[LatestWindow]:
    """Each monitor's latest overall window, one row per model version that has it."""
    rows = cur.execute(
        "SELECT monitor, model_version, window_start, rows, drift_share, status FROM window_summaries "
        "WHERE segment = '*' QUALIFY window_start = max(window_start) OVER (PARTITION BY monitor) "
        "ORDER BY monitor, model_version"
    ).fetchall()
    return [LatestWindow(*row) for row in rows]


def queued_window_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per monitor with any: windows waiting to be computed, queued or noted by a push (see
    `storage.pushes.windows_waiting`)."""
    rows = cur.execute(
        "SELECT monitor, count(*) FROM (SELECT monitor, model_version, window_start FROM window_queue "
        "UNION SELECT monitor, model_version, window_start FROM pushed_windows) GROUP BY monitor"
    ).fetchall()
    return {str(monitor): int(n) for monitor, n in rows}


def last_finished_cycles(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, str, float]]:
    """Per monitor: (monitor, status, seconds) of its last finished cycle."""
    rows = cur.execute(
        "SELECT monitor, status, epoch(finished_at - started_at) FROM runs WHERE finished_at IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY monitor ORDER BY finished_at DESC) = 1 ORDER BY monitor"
    ).fetchall()
    return [(str(monitor), str(status), float(seconds or 0.0)) for monitor, status, seconds in rows]


def last_cycle_files_failed(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Per monitor: the files, objects and sources its last finished cycle could not read (a source that failed
    as a whole, e.g. an unreachable bucket or database, counts one; docs/sources.md, "Failures")."""
    rows = cur.execute(
        "SELECT monitor, files_failed FROM runs WHERE finished_at IS NOT NULL "
        "QUALIFY row_number() OVER (PARTITION BY monitor ORDER BY finished_at DESC) = 1"
    ).fetchall()
    return {str(monitor): int(n) for monitor, n in rows}


def cycle_counts(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(monitor, status, cycles) of finished cycles, and of interrupted ones.

    An interrupted run (its process died) has no finished_at, when it stopped being unknown; it is counted
    all the same, so an alert on crashed cycles can see it (it has no duration, so it is in no duration)."""
    rows = cur.execute(
        "SELECT monitor, status, count(*) FROM runs WHERE finished_at IS NOT NULL OR status = ? "
        "GROUP BY ALL ORDER BY ALL",
        [INTERRUPTED],
    ).fetchall()
    return [(str(monitor), str(status), int(n)) for monitor, status, n in rows]


def cycle_duration_totals(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, int, float]]:
    """Per monitor: (monitor, finished cycles, their total seconds)."""
    rows = cur.execute(
        "SELECT monitor, count(*), sum(epoch(finished_at - started_at)) FROM runs "
        "WHERE finished_at IS NOT NULL GROUP BY monitor ORDER BY monitor"
    ).fetchall()
    return [(str(monitor), int(n), float(total or 0.0)) for monitor, n, total in rows]


def ingested_row_totals(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int, int]]:
    """(monitor, kind, rows inserted, rows skipped as duplicates) over every file and pushed batch read."""
    rows = cur.execute(
        "SELECT monitor, kind, sum(rows_inserted), sum(rows_duplicate) FROM ingested_files "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return [(str(monitor), str(kind), int(ins or 0), int(dup or 0)) for monitor, kind, ins, dup in rows]


def quarantined_row_counts(cur: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(monitor, kind, rows refused) from the quarantine table."""
    rows = cur.execute("SELECT monitor, kind, count(*) FROM quarantine GROUP BY ALL ORDER BY ALL").fetchall()
    return [(str(monitor), str(kind), int(n)) for monitor, kind, n in rows]


def latest_performance(db: Database) -> list[LatestPerformance] | None:
    """Each overall metric's latest window with a value (None: performance is not installed)."""
    if not db.table_exists("performance_results"):
        return None
    rows = (
        db.cursor()
        .execute(
            "SELECT monitor, model_version, metric, value, status, coverage, n_labels, window_start "
            "FROM performance_results WHERE segment = '*' AND value IS NOT NULL "
            "QUALIFY row_number() OVER (PARTITION BY monitor, model_version, metric "
            "ORDER BY window_start DESC) = 1 "
            "ORDER BY ALL"
        )
        .fetchall()
    )
    return [LatestPerformance(*row) for row in rows]


def notification_counts(db: Database) -> list[tuple[str, str, int]] | None:
    """(channel, status, messages) in the alert outbox ('' channel in an outbox without one); None when no
    outbox with a status exists."""
    table = next((t for t in OUTBOX_TABLES if db.table_exists(t)), None)
    if table is None:
        return None
    cur = db.cursor()
    columns = table_columns(cur, table)
    if "status" not in columns:
        return None
    group = "channel, status" if "channel" in columns else "'' AS channel, status"
    rows = cur.execute(
        f"SELECT {group}, count(*) FROM {quote_identifier(table)} GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return [(str(channel or ""), str(status), int(n)) for channel, status, n in rows]


def channel_health_flags(db: Database) -> list[tuple[str, bool]] | None:
    """(channel, delivers) per notification channel; None when channel health is not recorded."""
    if not db.table_exists("channel_health"):
        return None
    cur = db.cursor()
    if not {"channel", "healthy"} <= set(table_columns(cur, "channel_health")):
        return None
    rows = cur.execute("SELECT channel, healthy FROM channel_health ORDER BY channel").fetchall()
    return [(str(channel), bool(ok)) for channel, ok in rows]


def active_alert_counts(db: Database) -> list[tuple[str, str, str, int]] | None:
    """(monitor, rule, state, instances) of alert instances not inactive; None without alert state."""
    if not db.table_exists("alert_state"):
        return None
    cur = db.cursor()
    if not {"monitor", "rule", "state"} <= set(table_columns(cur, "alert_state")):
        return None
    rows = cur.execute(
        "SELECT monitor, rule, state, count(*) FROM alert_state WHERE state <> 'inactive' "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    return [(str(monitor), str(rule), str(state), int(n)) for monitor, rule, state, n in rows]


def rows_expired_totals(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Monitor → raw rows deleted by retention over every recorded run (`runs.rows_expired`)."""
    rows = cur.execute(
        "SELECT monitor, sum(coalesce(rows_expired, 0)) FROM runs GROUP BY monitor ORDER BY monitor"
    ).fetchall()
    return {str(monitor): int(n or 0) for monitor, n in rows}
