"""The version-comparison tables (storage/versions.py), as ONE migration appended to `storage.schema.MIGRATIONS`.

Its own module, importing nothing, so schema.py can append it without an import cycle.
"""

VERSIONS_MIGRATION = """
CREATE TABLE version_comparisons (
    monitor VARCHAR NOT NULL,
    baseline VARCHAR NOT NULL,             -- model_version values as logged
    candidate VARCHAR NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    mode VARCHAR NOT NULL,                 -- 'shadow' or 'canary' (as configured, or as `auto` found it)
    status VARCHAR NOT NULL,               -- candidate_ok, candidate_worse, insufficient_data
    reasons JSON NOT NULL,                 -- list of strings
    baseline_rows BIGINT NOT NULL,
    candidate_rows BIGINT NOT NULL,
    pairs BIGINT NOT NULL,                 -- requests scored by both versions
    score_ks DOUBLE,
    score_ks_pvalue DOUBLE,
    score_psi DOUBLE,
    decision_chi2_pvalue DOUBLE,
    decision_js DOUBLE,
    agreement DOUBLE,                      -- shadow: share of paired decisions that agree
    agreement_low DOUBLE,
    agreement_high DOUBLE,
    flip_share DOUBLE,
    score_diff_mean DOUBLE,                -- shadow: candidate - baseline
    score_diff_quantiles DOUBLE[],         -- at 5, 25, 50, 75, 95 %
    metric VARCHAR,                        -- canary: the metric compared on labelled rows
    baseline_value DOUBLE,
    baseline_low DOUBLE,
    baseline_high DOUBLE,
    baseline_labels BIGINT,
    candidate_value DOUBLE,
    candidate_low DOUBLE,
    candidate_high DOUBLE,
    candidate_labels BIGINT,
    metric_delta DOUBLE,                   -- candidate - baseline
    metric_delta_low DOUBLE,
    metric_delta_high DOUBLE,
    metric_delta_pvalue DOUBLE,            -- one-sided: the candidate is worse
    run_id VARCHAR NOT NULL,
    computed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (monitor, baseline, candidate, window_start)
);
CREATE TABLE version_details (
    monitor VARCHAR NOT NULL,
    baseline VARCHAR NOT NULL,
    candidate VARCHAR NOT NULL,
    window_start TIMESTAMP NOT NULL,
    kind VARCHAR NOT NULL,                 -- segment_flips, segment_metric, input
    name VARCHAR NOT NULL,                 -- 'column=value' or the feature
    n BIGINT,                              -- pairs / candidate labelled rows / -
    value DOUBLE,                          -- flip rate / candidate - baseline / KS D or JS
    other DOUBLE,                          -- rest's flip rate / baseline value / PSI
    pvalue DOUBLE,
    adjusted_pvalue DOUBLE,
    flagged BOOLEAN NOT NULL,              -- concentrated flips / worse segment / shifted input
    PRIMARY KEY (monitor, baseline, candidate, window_start, kind, name)
);
"""
