"""Alert instance state and silences: the storage rows (`storage.alerts`) ↔ the alerting package's types."""

from __future__ import annotations

import math
from datetime import datetime

import duckdb

from driftwatch.alerting.model import AlertState, AlertStatus, InstanceKey
from driftwatch.alerting.silences import Silence
from driftwatch.storage import alerts as store
from driftwatch.storage.database import Database


def instance_key(row: store.StateRow) -> InstanceKey:
    return InstanceKey(row.rule, row.monitor, row.model_version, row.segment, row.feature)


def alert_state(row: store.StateRow) -> AlertState:
    return AlertState(
        status=AlertStatus(row.state),
        bad_windows=row.pending_count,
        healthy_windows=row.healthy_count,
        last_window=row.last_window,
        active_since=row.active_since,
        fired_at=row.firing_since,
        last_notified_at=row.last_sent,
        last_value=row.value,
        resolved_at=row.resolved_at,
    )


def _finite(value: float | None) -> float | None:
    # A NaN value is stored as NULL: "no value", which is what the instance rows show (API, `alerts`).
    return value if value is None or math.isfinite(value) else None


def state_row(key: InstanceKey, state: AlertState) -> store.StateRow:
    return store.StateRow(
        rule=key.rule,
        monitor=key.monitor,
        model_version=key.model_version,
        segment=key.segment,
        feature=key.feature,
        state=state.status.value,
        pending_count=state.bad_windows,
        healthy_count=state.healthy_windows,
        active_since=state.active_since,
        firing_since=state.fired_at,
        last_window=state.last_window,
        last_sent=state.last_notified_at,
        resolved_at=state.resolved_at,
        value=_finite(state.last_value),
    )


def states(cur: duckdb.DuckDBPyConnection, monitor: str | None = None) -> dict[InstanceKey, AlertState]:
    """Every stored instance (of `monitor`, when given) with its state."""
    return {instance_key(row): alert_state(row) for row in store.load_states(cur, monitor)}


def load_state(db: Database, monitor: str | None = None) -> dict[InstanceKey, AlertState]:
    return states(db.cursor(), monitor)


def _silence(row: store.SilenceRow) -> Silence:
    return Silence(
        matchers=row.matchers,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        comment=row.comment,
        created_by=row.created_by,
        id=row.id,
    )


def stored_silence(silence: Silence, created_at: datetime) -> store.SilenceRow:
    """A new silence as the row `store.insert_silence` keeps (the CLI's `silence add`, `POST /api/silences`)."""
    return store.SilenceRow(
        id=silence.id,
        matchers=dict(silence.matchers),
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        comment=silence.comment,
        created_by=silence.created_by,
        created_at=created_at,
    )


def current_silences(cur: duckdb.DuckDBPyConnection, now: datetime) -> list[Silence]:
    """Silences that have not ended at `now` (active ones, and those starting later)."""
    return [_silence(row) for row in store.load_silences(cur, now, include_ended=False)]
