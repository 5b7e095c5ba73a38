"""Alerting rows in DuckDB: instance state, the outbox and its attempts, channel health, silences, progress.

Plain values only (the storage layer sits below `driftwatch.alerting`): `pipeline.alerts` maps them to the
alerting package's dataclasses and implements the `Outbox` protocol on top of these functions. Functions that
write take a cursor, so the pipeline can put a state change and its outbox rows in ONE transaction; the few
that need their own transaction take the `Database`.

Times are timezone-aware UTC in Python and naive UTC in the tables.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from driftwatch.durations import as_utc, iso_utc, to_naive_utc
from driftwatch.storage.database import Database, first_row

OUTBOX_STATUSES = ("pending", "delivered", "failed", "suppressed")
INSTANCE_STATES = ("inactive", "pending", "firing")


def naive(ts: datetime | None) -> datetime | None:
    """The naive-UTC form every TIMESTAMP column holds (an aware time is converted first)."""
    return None if ts is None else to_naive_utc(ts)


def aware(ts: datetime | None) -> datetime | None:
    return None if ts is None else as_utc(ts)


def _iso(ts: datetime | None) -> str | None:
    return None if ts is None else iso_utc(ts)


# --- alert_state -----------------------------------------------------------------------------------------

# What identifies an alert instance (alert_state's primary key); the reports list alert rows by it too.
INSTANCE_KEY = ("rule", "monitor", "model_version", "segment", "feature")
STATE_COLUMNS = (
    *INSTANCE_KEY,
    "state",
    "pending_count",
    "healthy_count",
    "active_since",
    "firing_since",
    "last_window",
    "last_sent",
    "resolved_at",
    "value",
)
_STATE_TIMES = ("active_since", "firing_since", "last_window", "last_sent", "resolved_at")


@dataclass(frozen=True)
class StateRow:
    rule: str
    monitor: str
    model_version: str
    segment: str
    feature: str | None  # None: a whole-model metric ('' in the table)
    state: str
    pending_count: int
    healthy_count: int
    active_since: datetime | None
    firing_since: datetime | None
    last_window: datetime | None
    last_sent: datetime | None
    resolved_at: datetime | None
    value: float | None


def load_states(cur: duckdb.DuckDBPyConnection, monitor: str | None = None) -> list[StateRow]:
    sql = f"SELECT {', '.join(STATE_COLUMNS)} FROM alert_state"
    params: list[object] = []
    if monitor is not None:
        sql += " WHERE monitor = ?"
        params.append(monitor)
    rows = cur.execute(sql + " ORDER BY rule, monitor, model_version, segment, feature", params).fetchall()
    out = []
    for row in rows:
        item = dict(zip(STATE_COLUMNS, row, strict=True))
        item["feature"] = item["feature"] or None
        for name in _STATE_TIMES:
            item[name] = aware(item[name])
        out.append(StateRow(**item))
    return out


def upsert_states(cur: duckdb.DuckDBPyConnection, rows: Sequence[StateRow], now: datetime) -> None:
    """Insert or replace each instance's row (each key at most once in `rows`)."""
    if not rows:
        return
    values = [
        [
            r.rule,
            r.monitor,
            r.model_version,
            r.segment,
            r.feature or "",
            r.state,
            r.pending_count,
            r.healthy_count,
            *(naive(getattr(r, name)) for name in _STATE_TIMES),
            r.value,
            naive(now),
        ]
        for r in rows
    ]
    updates = ", ".join(f"{c} = excluded.{c}" for c in (*STATE_COLUMNS[len(INSTANCE_KEY) :], "updated_at"))
    cur.executemany(
        f"INSERT INTO alert_state ({', '.join(STATE_COLUMNS)}, updated_at) "
        f"VALUES ({', '.join('?' for _ in range(len(STATE_COLUMNS) + 1))}) "
        f"ON CONFLICT ({', '.join(INSTANCE_KEY)}) DO UPDATE SET {updates}",
        values,
    )


def alert_instances(
    cur: duckdb.DuckDBPyConnection,
    states: Iterable[str] | None = ("pending", "firing"),
    monitor: str | None = None,
) -> list[dict[str, Any]]:
    """Alert instances as JSON-ready dicts, firing first, for `driftwatch alerts` and the API."""
    where = ["1 = 1"]
    params: list[object] = []
    if states is not None:
        wanted = list(states)
        where.append(f"state IN ({', '.join('?' for _ in wanted)})" if wanted else "false")
        params.extend(wanted)
    if monitor is not None:
        where.append("monitor = ?")
        params.append(monitor)
    rows = cur.execute(
        f"SELECT {', '.join(STATE_COLUMNS)}, updated_at FROM alert_state WHERE {' AND '.join(where)} "
        "ORDER BY CASE state WHEN 'firing' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, "
        "rule, monitor, model_version, segment, feature",
        params,
    ).fetchall()
    out = []
    for row in rows:
        item = dict(zip((*STATE_COLUMNS, "updated_at"), row, strict=True))
        item["feature"] = item["feature"] or None
        for name in (*_STATE_TIMES, "updated_at"):
            item[name] = _iso(item[name])
        out.append(item)
    return out


# --- alert_outbox and alert_attempts -----------------------------------------------------------------------

_MESSAGE_COLUMNS = (
    "id",
    "dedupe_key",
    "channel",
    "rule",
    "monitor",
    "transition",
    "window_start",
    "alerts",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "silenced_by",
    "created_at",
    "delivered_at",
)


@dataclass(frozen=True)
class NewMessage:
    """One message to insert into the outbox; `payload` is the message's JSON form (AlertGroup.to_dict())."""

    dedupe_key: str
    channel: str
    rule: str
    monitor: str
    transition: str
    window_start: datetime
    alerts: int
    payload: Mapping[str, Any]
    created_at: datetime
    status: str = "pending"  # or "suppressed"
    silenced_by: str | None = None


@dataclass(frozen=True)
class StoredMessage:
    id: int
    dedupe_key: str
    channel: str
    rule: str
    monitor: str
    transition: str
    window_start: datetime
    alerts: int
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    silenced_by: str | None
    created_at: datetime
    delivered_at: datetime | None


def insert_messages(cur: duckdb.DuckDBPyConnection, messages: Sequence[NewMessage]) -> int:
    """Insert messages due at their `created_at`; a dedupe key already present is left alone.

    Returns the number of rows inserted (suppressed ones included).
    """
    inserted = 0
    for m in messages:
        if m.status not in ("pending", "suppressed"):
            raise ValueError(f"a new outbox row is pending or suppressed, not {m.status!r}")
        finished = naive(m.created_at) if m.status == "suppressed" else None
        rows = cur.execute(
            "INSERT INTO alert_outbox (dedupe_key, channel, rule, monitor, transition, window_start, alerts, "
            "payload, status, attempts, next_attempt_at, silenced_by, created_at, delivered_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            [
                m.dedupe_key,
                m.channel,
                m.rule,
                m.monitor,
                m.transition,
                naive(m.window_start),
                m.alerts,
                json.dumps(m.payload, allow_nan=False, sort_keys=True),
                m.status,
                naive(m.created_at),
                m.silenced_by,
                naive(m.created_at),
                finished,
            ],
        ).fetchall()
        inserted += len(rows)
    return inserted


def _message(row: Sequence[Any]) -> StoredMessage:
    item = dict(zip(_MESSAGE_COLUMNS, row, strict=True))
    item["payload"] = json.loads(item["payload"]) if isinstance(item["payload"], str) else item["payload"]
    for name in ("window_start", "next_attempt_at", "created_at", "delivered_at"):
        item[name] = aware(item[name])
    return StoredMessage(**item)


def due_messages(
    cur: duckdb.DuckDBPyConnection,
    now: datetime,
    limit: int = 100,
    channels: Iterable[str] | None = None,
) -> list[StoredMessage]:
    """Pending rows with `next_attempt_at <= now` (for `channels` only, when given), oldest due first."""
    where = "status = 'pending' AND next_attempt_at <= ?"
    params: list[object] = [naive(now)]
    if channels is not None:
        names = sorted(set(channels))
        where += f" AND channel IN ({', '.join('?' for _ in names)})" if names else " AND false"
        params.extend(names)
    rows = cur.execute(
        f"SELECT {', '.join(_MESSAGE_COLUMNS)} FROM alert_outbox WHERE {where} "
        "ORDER BY next_attempt_at, id LIMIT ?",
        [*params, int(limit)],
    ).fetchall()
    return [_message(r) for r in rows]


def messages(
    cur: duckdb.DuckDBPyConnection,
    status: str | None = None,
    monitor: str | None = None,
    limit: int = 50,
) -> list[StoredMessage]:
    """The newest outbox rows (any status unless given), newest first."""
    where = ["1 = 1"]
    params: list[object] = []
    if status is not None:
        where.append("status = ?")
        params.append(status)
    if monitor is not None:
        where.append("monitor = ?")
        params.append(monitor)
    rows = cur.execute(
        f"SELECT {', '.join(_MESSAGE_COLUMNS)} FROM alert_outbox WHERE {' AND '.join(where)} "
        "ORDER BY created_at DESC, id DESC LIMIT ?",
        [*params, int(limit)],
    ).fetchall()
    return [_message(r) for r in rows]


def message_dict(message: StoredMessage) -> dict[str, Any]:
    """A stored message's row as a JSON-ready dict (without the payload)."""
    return {
        "id": message.id,
        "dedupe_key": message.dedupe_key,
        "channel": message.channel,
        "rule": message.rule,
        "monitor": message.monitor,
        "transition": message.transition,
        "window_start": _iso(message.window_start),
        "alerts": message.alerts,
        "status": message.status,
        "attempts": message.attempts,
        "next_attempt_at": _iso(message.next_attempt_at) if message.status == "pending" else None,
        "last_error": message.last_error,
        "silenced_by": message.silenced_by,
        "created_at": _iso(message.created_at),
        "finished_at": _iso(message.delivered_at),
    }


def pending_outlook(cur: duckdb.DuckDBPyConnection) -> tuple[int, datetime | None]:
    """Rows still pending and the earliest `next_attempt_at` among them (aware UTC; None when none)."""
    row = cur.execute(
        "SELECT count(*), min(next_attempt_at) FROM alert_outbox WHERE status = 'pending'"
    ).fetchall()
    count, earliest = row[0] if row else (0, None)
    return int(count or 0), aware(earliest)


def record_attempt(
    db: Database,
    row_id: int,
    outcome: str,
    status_code: int | None,
    error: str | None,
    next_attempt_at: datetime | None,
    attempted_at: datetime,
) -> None:
    """Append one attempt and count it on the row; a retry moves the row's `next_attempt_at`."""
    with db.transaction() as tx:
        found = first_row(tx.execute("SELECT attempts FROM alert_outbox WHERE id = ?", [row_id]))
        if found is None:
            raise KeyError(row_id)
        attempt = int(found[0]) + 1
        tx.execute(
            "INSERT INTO alert_attempts (outbox_id, attempt, attempted_at, outcome, status_code, error, "
            "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [row_id, attempt, naive(attempted_at), outcome, status_code, error, naive(next_attempt_at)],
        )
        tx.execute(
            "UPDATE alert_outbox SET attempts = ?, last_error = coalesce(?, last_error), "
            "next_attempt_at = coalesce(?, next_attempt_at) WHERE id = ?",
            [attempt, error, naive(next_attempt_at), row_id],
        )


def finish_message(db: Database, row_id: int, status: str, at: datetime, reason: str | None = None) -> None:
    """Mark a row delivered or failed (for good)."""
    if status not in ("delivered", "failed"):
        raise ValueError(f"a message finishes delivered or failed, not {status!r}")
    with db.transaction() as tx:
        tx.execute(
            "UPDATE alert_outbox SET status = ?, delivered_at = ?, last_error = coalesce(?, last_error) "
            "WHERE id = ?",
            [status, naive(at), reason, row_id],
        )


def attempts(cur: duckdb.DuckDBPyConnection, row_id: int) -> list[dict[str, Any]]:
    rows = cur.execute(
        "SELECT attempt, attempted_at, outcome, status_code, error, next_attempt_at FROM alert_attempts "
        "WHERE outbox_id = ? ORDER BY attempt",
        [row_id],
    ).fetchall()
    return [
        {
            "attempt": int(a),
            "attempted_at": _iso(at),
            "outcome": str(outcome),
            "status_code": code,
            "error": error,
            "next_attempt_at": _iso(next_at),
        }
        for a, at, outcome, code, error, next_at in rows
    ]


# --- channel_health -------------------------------------------------------------------------------------


def mark_channel(db: Database, channel: str, healthy: bool, reason: str | None, at: datetime) -> bool:
    """Record a channel's health; True when this changes it (a channel never seen counts as healthy)."""
    with db.transaction() as tx:
        found = first_row(tx.execute("SELECT healthy FROM channel_health WHERE channel = ?", [channel]))
        was_healthy = True if found is None else bool(found[0])
        changed = was_healthy != healthy
        if found is None and healthy:
            return False  # nothing to record: healthy until told otherwise
        if found is None:
            tx.execute(
                "INSERT INTO channel_health (channel, healthy, reason, changed_at, last_failed_at) "
                "VALUES (?, false, ?, ?, ?)",
                [channel, reason, naive(at), naive(at)],
            )
        elif healthy:
            tx.execute(
                "UPDATE channel_health SET healthy = true, changed_at = CASE WHEN healthy THEN changed_at "
                "ELSE ? END, last_ok_at = ? WHERE channel = ?",
                [naive(at), naive(at), channel],
            )
        else:
            tx.execute(
                "UPDATE channel_health SET healthy = false, reason = ?, changed_at = CASE WHEN healthy "
                "THEN ? ELSE changed_at END, last_failed_at = ? WHERE channel = ?",
                [reason, naive(at), naive(at), channel],
            )
        return changed


def channel_health(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = cur.execute(
        "SELECT channel, healthy, reason, changed_at, last_ok_at, last_failed_at FROM channel_health "
        "ORDER BY channel"
    ).fetchall()
    return [
        {
            "channel": str(channel),
            "healthy": bool(healthy),
            "reason": reason,
            "changed_at": _iso(changed),
            "last_ok_at": _iso(ok),
            "last_failed_at": _iso(failed),
        }
        for channel, healthy, reason, changed, ok, failed in rows
    ]


# --- silences -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SilenceRow:
    id: str
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    created_at: datetime
    expired_at: datetime | None = None

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.id,
            "matchers": dict(self.matchers),
            "starts_at": _iso(self.starts_at),
            "ends_at": _iso(self.ends_at),
            "comment": self.comment,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "expired_at": _iso(self.expired_at),
        }
        if now is not None:
            item["active"] = self.starts_at <= now < self.ends_at
        return item


_SILENCE_COLUMNS = (
    "id",
    "matchers",
    "starts_at",
    "ends_at",
    "comment",
    "created_by",
    "created_at",
    "expired_at",
)


def insert_silence(db: Database, silence: SilenceRow) -> None:
    with db.transaction() as tx:
        tx.execute(
            f"INSERT INTO silences ({', '.join(_SILENCE_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                silence.id,
                json.dumps(dict(silence.matchers), sort_keys=True),
                naive(silence.starts_at),
                naive(silence.ends_at),
                silence.comment,
                silence.created_by,
                naive(silence.created_at),
                naive(silence.expired_at),
            ],
        )


def load_silences(
    cur: duckdb.DuckDBPyConnection, now: datetime | None = None, include_ended: bool = True
) -> list[SilenceRow]:
    """Every silence (or, with `include_ended=False`, those not yet ended at `now`), oldest first."""
    if include_ended:
        return _silence_rows(cur, "", [])
    if now is None:
        raise ValueError("`now` is needed to leave out ended silences")
    return _silence_rows(cur, "WHERE ends_at > ?", [naive(now)])


def silence_by_id(cur: duckdb.DuckDBPyConnection, silence_id: str) -> SilenceRow | None:
    """The silence with this id, or None."""
    found = _silence_rows(cur, "WHERE id = ?", [silence_id])
    return found[0] if found else None


def _silence_rows(cur: duckdb.DuckDBPyConnection, where: str, params: list[object]) -> list[SilenceRow]:
    rows = cur.execute(
        f"SELECT {', '.join(_SILENCE_COLUMNS)} FROM silences {where} ORDER BY created_at, id", params
    ).fetchall()
    out = []
    for row in rows:
        item = dict(zip(_SILENCE_COLUMNS, row, strict=True))
        raw = item["matchers"]
        item["matchers"] = {
            str(k): str(v) for k, v in (json.loads(raw) if isinstance(raw, str) else raw).items()
        }
        for name in ("starts_at", "ends_at", "created_at", "expired_at"):
            item[name] = aware(item[name])
        out.append(SilenceRow(**item))
    return out


def expire_silence(db: Database, silence_id: str, now: datetime) -> SilenceRow | None:
    """End a silence at `now` (an already ended one keeps its end). None when no silence has that id."""
    with db.transaction() as tx:
        found = first_row(tx.execute("SELECT ends_at FROM silences WHERE id = ?", [silence_id]))
        if found is None:
            return None
        tx.execute(
            "UPDATE silences SET ends_at = least(ends_at, ?), expired_at = coalesce(expired_at, ?) WHERE id = ?",
            [naive(now), naive(now), silence_id],
        )
    return silence_by_id(db.cursor(), silence_id)


# --- alert_progress -------------------------------------------------------------------------------------


def evaluated_through(cur: duckdb.DuckDBPyConnection, monitor: str) -> datetime | None:
    found = first_row(
        cur.execute("SELECT evaluated_through FROM alert_progress WHERE monitor = ?", [monitor])
    )
    return None if found is None else aware(found[0])


def set_evaluated_through(
    cur: duckdb.DuckDBPyConnection, monitor: str, through: datetime, now: datetime
) -> None:
    cur.execute(
        "INSERT INTO alert_progress (monitor, evaluated_through, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (monitor) DO UPDATE SET evaluated_through = greatest(alert_progress.evaluated_through, "
        "excluded.evaluated_through), updated_at = excluded.updated_at",
        [monitor, naive(through), naive(now)],
    )


# --- Alertmanager re-posts --------------------------------------------------------------------------------


def delivered_firing_payloads(
    cur: duckdb.DuckDBPyConnection, channels: Sequence[str], since: datetime
) -> list[tuple[str, dict[str, Any]]]:
    """(channel, payload) of every firing or repeat message delivered to `channels` and created at or after
    `since`, oldest first: what the Alertmanager re-posts copy (the latest message per alert wins)."""
    names = sorted(set(channels))
    if not names:
        return []
    rows = cur.execute(
        "SELECT channel, payload FROM alert_outbox WHERE status = 'delivered' "
        "AND transition IN ('firing', 'repeat') "
        f"AND channel IN ({', '.join('?' for _ in names)}) AND created_at >= ? ORDER BY created_at, id",
        [*names, naive(since)],
    ).fetchall()
    return [
        (str(channel), json.loads(payload) if isinstance(payload, str) else payload)
        for channel, payload in rows
    ]
