"""What driftwatch remembers about a monitor's MLflow registry reference (pipeline.registry).

- `registry_versions`: each registry version whose reference profile was built, with that profile's id;
  the profile itself is in `reference_profiles` / `reference_features` like any other.
- `registry_changes`: one row each time the alias (or version) the reference names resolves to another
  version than the cycle before: the "new champion" history the reports show.
- `registry_writebacks`: the last write-back of a window's summary to each registry version, ok or failed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from driftwatch.storage.database import first_row
from driftwatch.storage.retention import NOT_EXPIRED_SQL


@dataclass(frozen=True)
class StoredVersion:
    version: int
    run_id: str | None
    profile_id: str
    local_path: str


@dataclass(frozen=True)
class RegistryChange:
    reference: str
    version: int
    previous_version: int | None
    run_id: str
    changed_at: datetime


@dataclass(frozen=True)
class WriteBack:
    version: int
    model_version: str
    window_start: datetime
    status: str
    error: str | None
    written_at: datetime


def stored_version(
    cur: duckdb.DuckDBPyConnection, monitor: str, model: str, version: int
) -> StoredVersion | None:
    row = first_row(
        cur.execute(
            "SELECT version, run_id, profile_id, local_path FROM registry_versions "
            "WHERE monitor = ? AND model = ? AND version = ?",
            [monitor, model, version],
        )
    )
    return None if row is None else StoredVersion(int(row[0]), row[1], str(row[2]), str(row[3]))


def save_version(
    cur: duckdb.DuckDBPyConnection, monitor: str, model: str, stored: StoredVersion, now: datetime
) -> None:
    cur.execute(
        "INSERT INTO registry_versions VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        "run_id = excluded.run_id, profile_id = excluded.profile_id, local_path = excluded.local_path, "
        "built_at = excluded.built_at",
        [monitor, model, stored.version, stored.run_id, stored.profile_id, stored.local_path, now],
    )


def make_profile_current(cur: duckdb.DuckDBPyConnection, monitor: str, profile_id: str) -> None:
    """Mark a stored profile as the monitor's current one (the one its registry reference names now)."""
    cur.execute(
        "UPDATE reference_profiles SET is_current = (profile_id = ?) WHERE monitor = ?", [profile_id, monitor]
    )


def requeue_profile_windows(
    cur: duckdb.DuckDBPyConnection, monitor: str, profile_id: str, reason: str, now: datetime
) -> None:
    """Queue again the windows whose results were computed against `profile_id` (and only those)."""
    cur.execute(
        "INSERT INTO window_queue SELECT DISTINCT monitor, model_version, window_start, window_end, ?, ? "
        f"FROM feature_results WHERE monitor = ? AND profile_id = ? AND {NOT_EXPIRED_SQL} ON CONFLICT DO NOTHING",
        [now, reason, monitor, profile_id, monitor],
    )


def last_resolution(cur: duckdb.DuckDBPyConnection, monitor: str) -> int | None:
    row = first_row(
        cur.execute(
            "SELECT version FROM registry_changes WHERE monitor = ? ORDER BY changed_at DESC LIMIT 1",
            [monitor],
        )
    )
    return None if row is None else int(row[0])


def record_change(cur: duckdb.DuckDBPyConnection, monitor: str, change: RegistryChange) -> None:
    cur.execute(
        "INSERT INTO registry_changes VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            monitor,
            change.reference,
            change.version,
            change.previous_version,
            change.run_id,
            change.changed_at,
        ],
    )


def registry_changes(cur: duckdb.DuckDBPyConnection, monitor: str) -> list[RegistryChange]:
    """The monitor's reference resolutions, oldest first."""
    rows = cur.execute(
        "SELECT reference, version, previous_version, run_id, changed_at FROM registry_changes "
        "WHERE monitor = ? ORDER BY changed_at",
        [monitor],
    ).fetchall()
    return [
        RegistryChange(str(r[0]), int(r[1]), None if r[2] is None else int(r[2]), str(r[3]), r[4])
        for r in rows
    ]


def latest_overall_windows(
    cur: duckdb.DuckDBPyConnection, monitor: str, model_versions: list[str]
) -> list[tuple[str, datetime, datetime, int, int, int, float | None, str]]:
    """Per logged model version: its latest computed window's overall summary
    (model_version, window_start, window_end, rows, features, features_drift, drift_share, status)."""
    if not model_versions:
        return []
    rows = cur.execute(
        "SELECT model_version, window_start, window_end, rows, features, features_drift, drift_share, status "
        "FROM window_summaries WHERE monitor = ? AND segment = '*' AND list_contains(?, model_version) "
        "QUALIFY row_number() OVER (PARTITION BY model_version ORDER BY window_start DESC) = 1",
        [monitor, model_versions],
    ).fetchall()
    return [
        (
            str(r[0]),
            r[1],
            r[2],
            int(r[3]),
            int(r[4]),
            int(r[5]),
            None if r[6] is None else float(r[6]),
            str(r[7]),
        )
        for r in rows
    ]


def window_performance(
    cur: duckdb.DuckDBPyConnection, monitor: str, model_version: str, window_start: datetime
) -> list[tuple[str, float | None, str]]:
    """The window's overall performance metrics (metric, value, status); empty before labels arrive."""
    rows = cur.execute(
        "SELECT metric, value, status FROM performance_results "
        "WHERE monitor = ? AND model_version = ? AND window_start = ? AND segment = '*' ORDER BY metric",
        [monitor, model_version, window_start],
    ).fetchall()
    return [(str(r[0]), None if r[1] is None else float(r[1]), str(r[2])) for r in rows]


def record_writeback(cur: duckdb.DuckDBPyConnection, monitor: str, model: str, wb: WriteBack) -> None:
    cur.execute(
        "INSERT INTO registry_writebacks VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
        "model_version = excluded.model_version, window_start = excluded.window_start, "
        "status = excluded.status, error = excluded.error, written_at = excluded.written_at",
        [monitor, model, wb.version, wb.model_version, wb.window_start, wb.status, wb.error, wb.written_at],
    )


def failed_writebacks(cur: duckdb.DuckDBPyConnection, monitor: str) -> list[str]:
    """Logged model versions whose last write-back failed (tried again next cycle)."""
    rows = cur.execute(
        "SELECT model_version FROM registry_writebacks WHERE monitor = ? AND status = 'failed'", [monitor]
    ).fetchall()
    return [str(r[0]) for r in rows]


def writebacks(cur: duckdb.DuckDBPyConnection, monitor: str) -> list[WriteBack]:
    rows = cur.execute(
        "SELECT version, model_version, window_start, status, error, written_at FROM registry_writebacks "
        "WHERE monitor = ? ORDER BY version",
        [monitor],
    ).fetchall()
    return [WriteBack(int(r[0]), str(r[1]), r[2], str(r[3]), r[4], r[5]) for r in rows]


def logged_versions(cur: duckdb.DuckDBPyConnection, monitor: str) -> list[str]:
    """Every logged model version with a computed window."""
    rows = cur.execute(
        "SELECT DISTINCT model_version FROM window_summaries WHERE monitor = ? ORDER BY 1", [monitor]
    ).fetchall()
    return [str(r[0]) for r in rows]
