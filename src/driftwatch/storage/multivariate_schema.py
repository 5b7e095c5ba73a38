"""The multivariate drift tables, as ONE migration (appended to `storage.schema.MIGRATIONS`).

In its own module, not `storage.multivariate`, because `storage.schema` imports it at its end and
`storage.multivariate` imports `storage.schema` (a cycle would hand `storage.database` the tuple without it).

multivariate_profiles  per monitor × reference profile × settings: the fitted encoding, principal axes,
                       held-out reference errors and classifier sample (`stats.multivariate.profile_to_dict`).
multivariate_results   per window (all rows, segment '*') × method: the statistic, its bars or interval, the
                       status and reason. Replaced when the window is recomputed.

The two `profile_key` columns do not hold the same key, although they share a name (the migration below is
applied and is never edited, so the truth is written here):

- `multivariate_profiles.profile_key` is the fitted profile's key, as its comment says: the reference profile
  id and the settings the fit depends on (`pipeline.multivariate.profile_key`: explained_variance,
  reference_rows, classifier_rows, top_categories, the profile format).
- `multivariate_results.profile_key` is the **judging key** (`pipeline.multivariate.judging_key`): a hash of
  that profile key *and* of every setting a window's verdict depends on beyond the profile (methods, margin,
  folds, max_rows, the resolved min_rows). It never equals a `multivariate_profiles.profile_key`: do not join
  the two tables on it. `storage.multivariate.windows_to_judge` compares it with the current judging key, so
  changing any of those settings re-judges the stored windows without refitting the profile.
"""

from __future__ import annotations

MULTIVARIATE_MIGRATION = """
CREATE TABLE IF NOT EXISTS multivariate_profiles (
    monitor VARCHAR NOT NULL,
    profile_key VARCHAR NOT NULL,      -- reference profile id + the multivariate settings it was fit with
    rows BIGINT NOT NULL,              -- reference rows sampled
    profile JSON NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (monitor, profile_key)
);
CREATE TABLE IF NOT EXISTS multivariate_results (
    monitor VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    method VARCHAR NOT NULL,           -- reconstruction | classifier
    status VARCHAR NOT NULL,           -- ok | warn | drift | insufficient_data
    reason VARCHAR NOT NULL,
    rows BIGINT NOT NULL,              -- window rows the statistic used (a sample of at most max_rows)
    window_rows BIGINT NOT NULL,       -- all rows of the window
    value DOUBLE,                      -- mean reconstruction error, or the classifier's ROC AUC
    warn_bar DOUBLE,
    drift_bar DOUBLE,
    low DOUBLE,                        -- the AUC's 95 % interval
    high DOUBLE,
    profile_key VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (monitor, model_version, window_start, method)
);
"""
