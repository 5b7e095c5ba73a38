"""The alerting tables, as ONE migration (appended to `storage.schema.MIGRATIONS`).

Every TIMESTAMP is naive UTC, like the rest of the schema. `IF NOT EXISTS` everywhere: should the migration
ever be renumbered (moved into the tuple), applying it to a database that already has the tables is harmless.

alert_state     one row per alert instance (rule × monitor × model_version × segment × feature): what
                `evaluate` needs next time (pending counter, firing since, last window, last notification).
                `feature` is '' for whole-model metrics (a key column cannot be NULL).
alert_outbox    one row per message (AlertGroup) owed to a channel; `dedupe_key` is UNIQUE, so re-evaluating a
                window inserts nothing. status: pending | delivered | failed | suppressed (silenced: kept for
                the record, never sent).
alert_attempts  every delivery attempt of an outbox row, with its outcome, HTTP status and error (no secrets:
                channels keep URLs out of their errors).
channel_health  one row per channel that ever failed or recovered; meta-alerts go out once per outage.
silences        label matchers (JSON) muting alerts between starts_at and ends_at.
alert_progress  per monitor, the newest `computed_at` / `finished_at` of the results already evaluated, so
                results stored by a cycle that crashed before evaluating them are still evaluated next time.
"""

from __future__ import annotations

ALERTING_MIGRATION = """
CREATE TABLE IF NOT EXISTS alert_state (
    rule VARCHAR NOT NULL,
    monitor VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    segment VARCHAR NOT NULL,
    feature VARCHAR NOT NULL,          -- '' for whole-model metrics
    state VARCHAR NOT NULL,            -- inactive | pending | firing
    pending_count INTEGER NOT NULL,    -- consecutive bad windows (the `for` counter)
    healthy_count INTEGER NOT NULL,    -- consecutive healthy windows while firing (keep_firing_for)
    active_since TIMESTAMP,            -- first bad window of the current episode
    firing_since TIMESTAMP,            -- window that made it fire
    last_window TIMESTAMP,             -- last evaluated window (window_start)
    last_sent TIMESTAMP,               -- `now` of the last firing/repeat notification not silenced
    resolved_at TIMESTAMP,             -- window that resolved the last episode
    value DOUBLE,                      -- value in the last evaluated window
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (rule, monitor, model_version, segment, feature)
);
CREATE SEQUENCE IF NOT EXISTS alert_outbox_id START 1;
CREATE TABLE IF NOT EXISTS alert_outbox (
    id BIGINT PRIMARY KEY DEFAULT nextval('alert_outbox_id'),
    dedupe_key VARCHAR NOT NULL UNIQUE,
    channel VARCHAR NOT NULL,
    rule VARCHAR NOT NULL,
    monitor VARCHAR NOT NULL,
    transition VARCHAR NOT NULL,       -- firing | repeat | resolved
    window_start TIMESTAMP NOT NULL,
    alerts INTEGER NOT NULL,           -- alert instances listed in the message
    payload JSON NOT NULL,             -- AlertGroup.to_dict()
    status VARCHAR NOT NULL,           -- pending | delivered | failed | suppressed
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    last_error VARCHAR,
    silenced_by VARCHAR,               -- silence id(s), for suppressed rows
    created_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP             -- when it was delivered, failed for good, or suppressed
);
CREATE TABLE IF NOT EXISTS alert_attempts (
    outbox_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,          -- 1 = the first attempt
    attempted_at TIMESTAMP NOT NULL,
    outcome VARCHAR NOT NULL,          -- delivered | retry | failed
    status_code INTEGER,               -- NULL: no HTTP response (connection error, timeout, file error)
    error VARCHAR,
    next_attempt_at TIMESTAMP,
    PRIMARY KEY (outbox_id, attempt)
);
CREATE TABLE IF NOT EXISTS channel_health (
    channel VARCHAR PRIMARY KEY,
    healthy BOOLEAN NOT NULL,
    reason VARCHAR,
    changed_at TIMESTAMP NOT NULL,     -- when it last went healthy or unhealthy
    last_ok_at TIMESTAMP,
    last_failed_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS silences (
    id VARCHAR PRIMARY KEY,
    matchers JSON NOT NULL,            -- {"label": "glob", ...}
    starts_at TIMESTAMP NOT NULL,
    ends_at TIMESTAMP NOT NULL,
    comment VARCHAR NOT NULL,
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expired_at TIMESTAMP               -- set by `driftwatch silence expire`
);
CREATE TABLE IF NOT EXISTS alert_progress (
    monitor VARCHAR PRIMARY KEY,
    evaluated_through TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
"""

ALERTING_TABLES = (
    "alert_state",
    "alert_outbox",
    "alert_attempts",
    "channel_health",
    "silences",
    "alert_progress",
)
