"""The registry tables' migration (storage/registry.py), in its own module so storage/schema.py can append it
without importing storage/database.py's dependents.
"""

from __future__ import annotations

REGISTRY_MIGRATION = """
    CREATE TABLE registry_versions (
        monitor VARCHAR NOT NULL,
        model VARCHAR NOT NULL,            -- the registered model's name
        version INTEGER NOT NULL,          -- the registry version number
        run_id VARCHAR,                    -- the MLflow run its training data came from
        profile_id VARCHAR NOT NULL,       -- its profile in reference_profiles
        local_path VARCHAR NOT NULL,       -- the downloaded training data (the cache under the data dir)
        built_at TIMESTAMP NOT NULL,
        PRIMARY KEY (monitor, model, version)
    );
    CREATE TABLE registry_changes (
        monitor VARCHAR NOT NULL,
        reference VARCHAR NOT NULL,        -- as configured: mlflow://models/<name>@<alias>
        version INTEGER NOT NULL,          -- the version it resolves to from now on
        previous_version INTEGER,          -- NULL: the first resolution
        run_id VARCHAR NOT NULL,           -- the cycle that saw the change
        changed_at TIMESTAMP NOT NULL,
        PRIMARY KEY (monitor, changed_at, version)
    );
    CREATE TABLE registry_writebacks (
        monitor VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        model_version VARCHAR NOT NULL,    -- the logged value the window belongs to
        window_start TIMESTAMP NOT NULL,   -- the window whose summary was written
        status VARCHAR NOT NULL,           -- 'ok' or 'failed'
        error VARCHAR,
        written_at TIMESTAMP NOT NULL,
        PRIMARY KEY (monitor, model, version)
    );
"""
