"""The `quality_results` table (storage/quality.py; docs/quality.md), in a module of its own that imports
nothing, so storage/schema.py can append it to the migrations without an import cycle (as alert_schema.py)."""

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
