"""The data-quality table, as ONE migration (appended to `storage.schema.MIGRATIONS`).

In its own module, not `storage.quality`, because `storage.schema` imports it at its end and `storage.quality`
reaches `storage.database` (through `storage.predictions`), which imports `storage.schema`: an import cycle.
"""

from __future__ import annotations

QUALITY_MIGRATION = """
CREATE TABLE IF NOT EXISTS quality_results (
    monitor VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,            -- 'window' or 'cycle'
    model_version VARCHAR NOT NULL,    -- '*' for a cycle
    window_start TIMESTAMP NOT NULL,   -- a cycle: the run's start
    window_end TIMESTAMP NOT NULL,     -- a cycle: the run's end of ingest
    check_name VARCHAR NOT NULL,       -- range, categories, missing, constant, row_count, parse, type, duplicates
    feature VARCHAR NOT NULL,          -- '' for a check of the whole window or cycle
    status VARCHAR NOT NULL,           -- ok, warn, fail, not_judged
    value DOUBLE,
    warn_bar DOUBLE,
    fail_bar DOUBLE,
    reason VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (monitor, scope, model_version, window_start, check_name, feature)
);
"""
