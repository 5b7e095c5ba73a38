"""The database schema, in one place, as numbered migrations.

Tables shared by every monitor are created here. Each monitor's predictions live in their own table, named
`predictions:<monitor>`, because their feature columns are typed per monitor (see `prediction_table`); that
table's columns come from the monitor's config and are added by `storage.predictions.ensure_prediction_table`.
"""

from __future__ import annotations

from driftwatch.stats.model_outputs import OUTPUT_FEATURE, PREDICTION_FEATURE

# Each entry is applied once, in order, inside one transaction with its version row. Never edit an applied
# migration: append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE ingested_files (
        monitor VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,             -- 'predictions' or 'labels'
        path VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        mtime_ns BIGINT NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_inserted BIGINT NOT NULL,
        rows_duplicate BIGINT NOT NULL,
        rows_quarantined BIGINT NOT NULL,
        ingested_at TIMESTAMP NOT NULL,
        PRIMARY KEY (monitor, kind, path, size, mtime_ns)
    );
    CREATE TABLE quarantine (
        monitor VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        source VARCHAR NOT NULL,           -- file path, or 'api' for pushed records
        row_number BIGINT NOT NULL,        -- 1-based row in the source
        request_id VARCHAR,
        reason VARCHAR NOT NULL,
        raw VARCHAR,
        quarantined_at TIMESTAMP NOT NULL,
        PRIMARY KEY (monitor, kind, source, row_number)
    );
    CREATE TABLE window_queue (
        monitor VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL,
        window_start TIMESTAMP NOT NULL,
        window_end TIMESTAMP NOT NULL,
        queued_at TIMESTAMP NOT NULL,
        reason VARCHAR NOT NULL,
        PRIMARY KEY (monitor, model_version, window_start)
    );
    CREATE TABLE reference_profiles (
        monitor VARCHAR NOT NULL,
        profile_id VARCHAR NOT NULL,       -- fingerprint of the reference file and the profile settings
        path VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        created_at TIMESTAMP NOT NULL,
        is_current BOOLEAN NOT NULL,
        PRIMARY KEY (monitor, profile_id)
    );
    CREATE TABLE reference_features (
        monitor VARCHAR NOT NULL,
        profile_id VARCHAR NOT NULL,
        feature VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,             -- 'numeric' or 'categorical'
        rows BIGINT NOT NULL,
        missing BIGINT NOT NULL,
        edges DOUBLE[],                    -- numeric: PSI inner edges
        bin_counts BIGINT[],               -- numeric: PSI bins + missing; categorical: categories + unseen + missing
        categories VARCHAR[],              -- categorical: reference categories, in bin order
        sorted_values DOUBLE[],            -- numeric: the non-missing reference values, ascending
        mean DOUBLE,
        std DOUBLE,
        PRIMARY KEY (monitor, profile_id, feature)
    );
    CREATE TABLE feature_results (
        monitor VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL,
        segment VARCHAR NOT NULL,          -- '*' for all rows, else 'column=value'
        window_start TIMESTAMP NOT NULL,
        window_end TIMESTAMP NOT NULL,
        feature VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        status VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        profile_id VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        computed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (monitor, model_version, segment, window_start, feature)
    );
    CREATE TABLE feature_stats (
        monitor VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL,
        segment VARCHAR NOT NULL,
        window_start TIMESTAMP NOT NULL,
        feature VARCHAR NOT NULL,
        statistic VARCHAR NOT NULL,
        value DOUBLE,
        PRIMARY KEY (monitor, model_version, segment, window_start, feature, statistic)
    );
    CREATE TABLE feature_bins (             -- mergeable partial counts, for roll-ups
        monitor VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL,
        segment VARCHAR NOT NULL,
        window_start TIMESTAMP NOT NULL,
        feature VARCHAR NOT NULL,
        profile_id VARCHAR NOT NULL,
        counts BIGINT[] NOT NULL,
        PRIMARY KEY (monitor, model_version, segment, window_start, feature)
    );
    CREATE TABLE window_summaries (
        monitor VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL,
        segment VARCHAR NOT NULL,
        window_start TIMESTAMP NOT NULL,
        window_end TIMESTAMP NOT NULL,
        rows BIGINT NOT NULL,
        features BIGINT NOT NULL,
        features_warn BIGINT NOT NULL,
        features_drift BIGINT NOT NULL,
        drift_share DOUBLE,
        status VARCHAR NOT NULL,
        run_id VARCHAR NOT NULL,
        computed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (monitor, model_version, segment, window_start)
    );
    CREATE TABLE runs (
        run_id VARCHAR PRIMARY KEY,
        monitor VARCHAR NOT NULL,
        trigger VARCHAR NOT NULL,          -- 'cli', 'schedule', 'api', 'demo'
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,           -- 'running', 'ok', 'failed'
        rows_ingested BIGINT NOT NULL DEFAULT 0,
        rows_duplicate BIGINT NOT NULL DEFAULT 0,
        rows_quarantined BIGINT NOT NULL DEFAULT 0,
        files_failed BIGINT NOT NULL DEFAULT 0,
        windows_computed BIGINT NOT NULL DEFAULT 0,
        error VARCHAR
    );
    """,
    # 2: delayed labels and model performance (docs/performance.md, "How the pipeline uses it").
    """
    CREATE TABLE IF NOT EXISTS labels (
        monitor VARCHAR NOT NULL,
        request_id VARCHAR NOT NULL,
        label VARCHAR NOT NULL,            -- as written in the source (classes, '0'/'1', numbers as text)
        label_value DOUBLE,                -- the label as a number when it is one (regression, 0/1 labels)
        labelled_at TIMESTAMP NOT NULL,    -- the source's label timestamp, else when it was first ingested
        source VARCHAR NOT NULL,           -- file path the current label came from
        ingested_at TIMESTAMP NOT NULL,
        PRIMARY KEY (monitor, request_id)
    );
    CREATE TABLE IF NOT EXISTS label_history (           -- every label replaced by a later one for the same request id
        monitor VARCHAR NOT NULL,
        request_id VARCHAR NOT NULL,
        label VARCHAR NOT NULL,
        label_value DOUBLE,
        labelled_at TIMESTAMP NOT NULL,
        source VARCHAR NOT NULL,
        ingested_at TIMESTAMP NOT NULL,
        replaced_at TIMESTAMP NOT NULL,
        replaced_by VARCHAR NOT NULL       -- the file holding the replacement
    );
    CREATE TABLE IF NOT EXISTS performance_queue (
        monitor VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL,
        window_start TIMESTAMP NOT NULL,
        window_end TIMESTAMP NOT NULL,
        queued_at TIMESTAMP NOT NULL,
        reason VARCHAR NOT NULL,
        PRIMARY KEY (monitor, model_version, window_start)
    );
    CREATE TABLE IF NOT EXISTS performance_results (
        monitor VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL,
        segment VARCHAR NOT NULL,
        window_start TIMESTAMP NOT NULL,
        metric VARCHAR NOT NULL,           -- e.g. roc_auc; estimated_roc_auc for a CBPE estimate
        window_end TIMESTAMP NOT NULL,
        value DOUBLE,
        low DOUBLE,
        high DOUBLE,
        stderr DOUBLE,
        n_predictions BIGINT NOT NULL,
        n_labels BIGINT NOT NULL,
        coverage DOUBLE,
        delay_median_s DOUBLE,
        delay_p90_s DOUBLE,
        status VARCHAR NOT NULL,           -- insufficient_labels, ok, degraded, info, estimate
        reason VARCHAR NOT NULL,
        baseline DOUBLE,
        run_id VARCHAR NOT NULL,
        computed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (monitor, model_version, segment, window_start, metric)
    );
    CREATE TABLE IF NOT EXISTS performance_history (     -- a row's earlier versions, kept when a window is recomputed
        monitor VARCHAR NOT NULL,
        model_version VARCHAR NOT NULL,
        segment VARCHAR NOT NULL,
        window_start TIMESTAMP NOT NULL,
        metric VARCHAR NOT NULL,
        window_end TIMESTAMP NOT NULL,
        value DOUBLE,
        low DOUBLE,
        high DOUBLE,
        stderr DOUBLE,
        n_predictions BIGINT NOT NULL,
        n_labels BIGINT NOT NULL,
        coverage DOUBLE,
        delay_median_s DOUBLE,
        delay_p90_s DOUBLE,
        status VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        baseline DOUBLE,
        run_id VARCHAR NOT NULL,
        computed_at TIMESTAMP NOT NULL,
        replaced_at TIMESTAMP NOT NULL,
        PRIMARY KEY (monitor, model_version, segment, window_start, metric, computed_at)
    );
    CREATE TABLE IF NOT EXISTS reference_calibration (   -- per monitor × reference: baseline metrics and the CBPE calibrator
        monitor VARCHAR NOT NULL,
        reference_id VARCHAR NOT NULL,     -- fingerprint of the reference file and the performance settings
        task VARCHAR NOT NULL,
        rows BIGINT NOT NULL,              -- reference rows with both a target and a prediction
        baseline JSON NOT NULL,            -- {metric: {"value": v, "stderr": se}}
        calibrator JSON,                   -- Calibrator.to_dict(); binary tasks only
        created_at TIMESTAMP NOT NULL,
        is_current BOOLEAN NOT NULL,
        PRIMARY KEY (monitor, reference_id)
    );
    """,
)

SHARED_TABLES = (
    "ingested_files",
    "quarantine",
    "window_queue",
    "reference_profiles",
    "reference_features",
    "feature_results",
    "feature_stats",
    "feature_bins",
    "window_summaries",
    "runs",
    "labels",
    "label_history",
    "performance_queue",
    "performance_results",
    "performance_history",
    "reference_calibration",
)


def quote_identifier(name: str) -> str:
    """Quote an SQL identifier (names from config are user data)."""
    return '"' + name.replace('"', '""') + '"'


def prediction_table(monitor: str) -> str:
    """The quoted name of a monitor's predictions table."""
    return quote_identifier(f"predictions:{monitor}")


def feature_column(feature: str) -> str:
    """The quoted column holding a feature; prefixed so a feature can never collide with a system column."""
    return quote_identifier(f"f:{feature}")


def segment_column(segment: str) -> str:
    """The quoted column holding a segment's value; prefixed like a feature's, with `s:`."""
    return quote_identifier(f"s:{segment}")


PREDICTION_COLUMN = "prediction"
"""The predictions table's column for the model's score."""
OUTPUT_COLUMN = "output"
"""The predictions table's column for the model's decision (its business output)."""
# The model's score and decision are watched like features but live in their own columns.
_OUTPUT_COLUMNS = {PREDICTION_FEATURE: PREDICTION_COLUMN, OUTPUT_FEATURE: OUTPUT_COLUMN}


def value_column_name(feature: str) -> str:
    """The unquoted column holding a watched feature's values, the model's outputs included."""
    return _OUTPUT_COLUMNS.get(feature, f"f:{feature}")


def value_column(feature: str) -> str:
    """As ``value_column_name``, quoted."""
    return quote_identifier(value_column_name(feature))


from driftwatch.storage.alert_schema import ALERTING_MIGRATION  # noqa: E402

MIGRATIONS = (*MIGRATIONS, ALERTING_MIGRATION)
from driftwatch.storage.version_schema import VERSIONS_MIGRATION  # noqa: E402

MIGRATIONS = (*MIGRATIONS, VERSIONS_MIGRATION)
from driftwatch.storage.registry_schema import REGISTRY_MIGRATION  # noqa: E402

MIGRATIONS = (*MIGRATIONS, REGISTRY_MIGRATION)

# Outside the numbered migrations: the push path's own table (storage/pushes.py), created idempotently by
# `Database.migrate` so it merges with any other branch's migrations. Here, not in pushes.py, so that
# database.py does not import pushes.py (which imports database.py).
PUSHED_WINDOWS_SQL = """
CREATE TABLE IF NOT EXISTS pushed_windows (
    monitor VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    pushed_at TIMESTAMP NOT NULL
)
"""

# Outside the numbered migrations too (like PUSHED_WINDOWS_SQL, so it merges with other branches' migrations):
# retention (storage/retention.py). Idempotent; `Database.migrate` runs it every time.
RETENTION_SQL = (
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS rows_expired BIGINT DEFAULT 0",
    """
    CREATE TABLE IF NOT EXISTS retention_state (   -- per monitor: prediction rows older than this may be gone
        monitor VARCHAR PRIMARY KEY,
        expired_before TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS snapshots (         -- Parquet exports of prediction rows (storage/snapshots.py)
        monitor VARCHAR NOT NULL,
        snapshot_id VARCHAR PRIMARY KEY,
        path VARCHAR NOT NULL,             -- the final folder; its manifest.json is written last
        after_ts TIMESTAMP,                -- rows with after_ts <= ts < before_ts (NULL: from the oldest)
        before_ts TIMESTAMP NOT NULL,
        status VARCHAR NOT NULL,           -- writing, complete, applied (rows deleted), on_demand, abandoned
        rows BIGINT,
        bytes BIGINT,
        created_at TIMESTAMP NOT NULL
    )
    """,
)

# Outside the numbered migrations too (like RETENTION_SQL): what the alert evaluation after a cycle did, kept on
# its `runs` row (storage/runs.py `record_run_alerts`; NULL: alerting off, the cycle failed, or an older run).
RUN_ALERTS_SQL = (
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS alerts_firing BIGINT",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS alerts_enqueued BIGINT",
    "ALTER TABLE runs ADD COLUMN IF NOT EXISTS alerts_suppressed BIGINT",
)

from driftwatch.storage.quality_schema import QUALITY_MIGRATION  # noqa: E402

MIGRATIONS = (*MIGRATIONS, QUALITY_MIGRATION)
from driftwatch.storage.multivariate_schema import MULTIVARIATE_MIGRATION  # noqa: E402

MIGRATIONS = (*MIGRATIONS, MULTIVARIATE_MIGRATION)
