"""Step 2 of a cycle: the monitor's reference profile, built once per reference file and reused.

The profile is rebuilt only when the reference file or the profile settings change (its id fingerprints the
path, size, mtime, feature lists and bin count). A rebuilt profile queues every computed window again, since
their statistics were taken against the old reference.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass

import duckdb
import numpy as np

from driftwatch.config import FeatureSpec, MonitorConfig
from driftwatch.errors import SourceError
from driftwatch.sources.files import describe_columns, first_line, source_sql
from driftwatch.sources.formats import file_format
from driftwatch.sources.logs import LogLayout, feature_object_query, normalise_query
from driftwatch.stats.decision import OUTPUT_FEATURE, PREDICTION_FEATURE
from driftwatch.stats.profile import (
    FeatureProfile,
    ReferenceProfile,
    categorical_profile,
    numeric_profile,
)
from driftwatch.storage.database import Database, first_row, utcnow
from driftwatch.storage.profiles import current_profile_id, load_profile, save_profile
from driftwatch.storage.schema import feature_column, quote_identifier
from driftwatch.storage.stored_values import canonicalise_stored_values

PROFILE_FORMAT = (
    3  # 2: the model's output (score, decision) is profiled too; 3: values by identity (docs/values.md)
)
REFERENCE_TABLE = "_reference_rows"
_NUMERIC_TYPES = (
    "DOUBLE",
    "FLOAT",
    "REAL",
    "BIGINT",
    "INTEGER",
    "SMALLINT",
    "TINYINT",
    "HUGEINT",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
)
_CACHE: dict[tuple[str, str, str], ReferenceProfile] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class ReferenceOutcome:
    profile: ReferenceProfile
    features: FeatureSpec
    rebuilt: bool
    rows_rejected: int


def _reserved_columns(monitor: MonitorConfig) -> set[str]:
    p, r = monitor.predictions, monitor.reference
    names = {
        p.id,
        p.timestamp,
        p.model_version,
        p.prediction,
        p.output,
        r.prediction,
        r.output,
        r.target,
        *p.segments,
    }
    names.update(watched_outputs(monitor))  # a column named like an output feature would clash with it
    if isinstance(p.features, str):
        names.add(p.features)
    return {n for n in names if n}


def watched_outputs(monitor: MonitorConfig) -> tuple[str, ...]:
    """The model outputs whose drift is tracked: those both the logs and the reference name a column for."""
    p, r = monitor.predictions, monitor.reference
    return tuple(
        name
        for name, logs, ref in (
            (PREDICTION_FEATURE, p.prediction, r.prediction),
            (OUTPUT_FEATURE, p.output, r.output),
        )
        if logs and ref
    )


def infer_features(cur: duckdb.DuckDBPyConnection, monitor: MonitorConfig) -> FeatureSpec:
    """Numeric and categorical features of a reference with no `features:` section in the config."""
    ref = monitor.reference
    fmt = file_format(ref.path, ref.format)
    columns = describe_columns(cur, fmt, ref.path)
    reserved = _reserved_columns(monitor)
    numeric: list[str] = []
    categorical: list[str] = []
    if ref.features is not None:
        if ref.features not in columns and fmt != "ndjson":
            raise SourceError(ref.path, f"has no column {ref.features!r} (reference.features)")
        # Sample the JSON objects' keys and value types.
        sql, params = feature_object_query(fmt, ref.path, columns, ref.features)
        rows = cur.execute(
            "SELECT k, bool_and(json_type(_fj, '$.\"' || replace(k, '\"', '\\\"') || '\"') "
            "IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')) "
            f"FROM (SELECT _fj, unnest(json_keys(_fj)) AS k FROM (SELECT * FROM ({sql}) LIMIT 10000)) "
            "GROUP BY k ORDER BY k",
            params,
        ).fetchall()
        for key, is_numeric in rows:
            (numeric if is_numeric else categorical).append(str(key))
    else:
        for name, sql_type in columns.items():
            if name in reserved:
                continue
            if fmt == "parquet":
                (
                    numeric
                    if sql_type.upper().split("(")[0] in _NUMERIC_TYPES
                    or sql_type.upper().startswith("DECIMAL")
                    else categorical
                ).append(name)
            else:
                numeric.append(name) if _text_column_is_numeric(
                    cur, fmt, ref.path, name
                ) else categorical.append(name)
    if not numeric and not categorical:
        raise SourceError(ref.path, "no feature columns found; list them under `features:` in the config")
    return FeatureSpec(numeric=tuple(numeric), categorical=tuple(categorical))


def _text_column_is_numeric(cur: duckdb.DuckDBPyConnection, fmt: str, path: str, name: str) -> bool:
    col = quote_identifier(name) if fmt != "ndjson" else "json_extract_string(_line, $key)"
    row = first_row(
        cur.execute(
            f"SELECT count(*) FILTER (WHERE v IS NOT NULL AND trim(v) <> '' AND TRY_CAST(v AS DOUBLE) IS NULL), "
            f"count(*) FILTER (WHERE v IS NOT NULL AND trim(v) <> '') FROM (SELECT CAST({col} AS VARCHAR) AS v "
            f"FROM ({source_sql(fmt)}) LIMIT 100000)",
            {"path": path, **({"key": f'$."{name}"'} if fmt == "ndjson" else {})},
        )
    )
    return bool(row and row[0] == 0 and row[1] > 0)


def profile_id(monitor: MonitorConfig, features: FeatureSpec) -> str:
    ref = monitor.reference
    try:
        stat = os.stat(ref.path)
    except OSError as exc:
        raise SourceError(ref.path, f"reference file cannot be read: {exc.strerror}") from None
    key = {
        "format": PROFILE_FORMAT,
        "path": ref.path,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "numeric": features.numeric,
        "categorical": features.categorical,
        "bins": monitor.psi_bins,
        "max_rows": ref.max_rows,
        "features": ref.features,
        "outputs": watched_outputs(monitor),
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def build_profile(
    cur: duckdb.DuckDBPyConnection, monitor: MonitorConfig, features: FeatureSpec, pid: str
) -> tuple[ReferenceProfile, int]:
    """Read the reference file and profile every feature. Returns the profile and the rows rejected."""
    ref = monitor.reference
    fmt = file_format(ref.path, ref.format)
    columns = describe_columns(cur, fmt, ref.path)
    layout = LogLayout(
        id=None,
        timestamp=None,
        numeric=features.numeric,
        categorical=features.categorical,
        features_json=ref.features,
        prediction=ref.prediction if PREDICTION_FEATURE in watched_outputs(monitor) else None,
        output=ref.output if OUTPUT_FEATURE in watched_outputs(monitor) else None,
    )
    sql, params = normalise_query(fmt, ref.path, columns, layout)
    sample = f" USING SAMPLE reservoir({int(ref.max_rows)} ROWS) REPEATABLE (42)" if ref.max_rows else ""
    try:
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {REFERENCE_TABLE} AS SELECT * FROM ({sql}){sample}", params
        )
    except duckdb.Error as exc:
        raise SourceError(ref.path, f"cannot read reference: {first_line(exc)}") from None
    try:
        row = first_row(
            cur.execute(f"SELECT count(*) FILTER (WHERE _reason IS NOT NULL) FROM {REFERENCE_TABLE}")
        )
        rejected = int(row[0]) if row else 0
        good = f"FROM {REFERENCE_TABLE} WHERE _reason IS NULL"
        profiles: dict[str, FeatureProfile] = {}
        rows = 0
        if features.numeric:
            cols = ", ".join(
                f"coalesce({feature_column(n)}, 'NaN'::DOUBLE) AS {feature_column(n)}"
                for n in features.numeric
            )
            arrays = cur.execute(f"SELECT {cols} {good}").fetchnumpy()
            for name in features.numeric:
                values = np.asarray(arrays[f"f:{name}"], dtype=np.float64)
                profiles[name] = numeric_profile(name, values, monitor.psi_bins)
                rows = int(values.size)
        for name in features.categorical:
            col = feature_column(name)
            counts = cur.execute(f"SELECT {col}, count(*) {good} GROUP BY {col}").fetchall()
            value_counts = {(None if v is None else str(v)): int(c) for v, c in counts}
            profiles[name] = categorical_profile(name, value_counts)
            rows = int(sum(value_counts.values()))
        if layout.prediction is not None:
            scores = cur.execute(f"SELECT coalesce(prediction, 'NaN'::DOUBLE) AS p {good}").fetchnumpy()["p"]
            profiles[PREDICTION_FEATURE] = numeric_profile(
                PREDICTION_FEATURE, np.asarray(scores, dtype=np.float64), monitor.psi_bins
            )
        if layout.output is not None:
            counts = cur.execute(f"SELECT output, count(*) {good} GROUP BY output").fetchall()
            profiles[OUTPUT_FEATURE] = categorical_profile(
                OUTPUT_FEATURE, {(None if v is None else str(v)): int(c) for v, c in counts}
            )
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {REFERENCE_TABLE}")
    if rows == 0:
        raise SourceError(ref.path, "the reference has no usable rows")
    return ReferenceProfile(profile_id=pid, rows=rows, features=profiles), rejected


def ensure_reference(db: Database, monitor: MonitorConfig) -> ReferenceOutcome:
    """The current profile, building and storing it when the reference (or its settings) changed."""
    cur = db.cursor()
    features = monitor.features or infer_features(cur, monitor)
    pid = profile_id(monitor, features)
    if current_profile_id(cur, monitor.name) == pid:
        return ReferenceOutcome(cached_profile(db, monitor.name, pid), features, False, 0)
    profile, rejected = build_profile(cur, monitor, features, pid)
    with db.transaction() as tx:
        save_profile(tx, monitor.name, monitor.reference.path, profile)
        # Rows stored before the value model, to the identities the new profile holds (a no-op after that).
        canonicalise_stored_values(
            tx, monitor.name, features.numeric, features.categorical, monitor.predictions.segments
        )
        tx.execute(
            "INSERT INTO window_queue SELECT DISTINCT monitor, model_version, window_start, window_end, ?, "
            "'reference changed' FROM window_summaries WHERE monitor = ? ON CONFLICT DO NOTHING",
            [utcnow(), monitor.name],
        )
    with _CACHE_LOCK:
        _CACHE[(str(db.path), monitor.name, pid)] = profile
    return ReferenceOutcome(profile, features, True, rejected)


def cached_profile(db: Database, monitor: str, pid: str) -> ReferenceProfile:
    """A stored profile, read from the database once per process."""
    key = (str(db.path), monitor, pid)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None:
        return hit
    profile = load_profile(db.cursor(), monitor, pid)
    with _CACHE_LOCK:
        _CACHE[key] = profile
    return profile
