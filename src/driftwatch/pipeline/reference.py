"""Step 2 of a cycle: the monitor's reference profile, built once per reference file and reused.

The profile is rebuilt only when the reference file or the profile settings change (its id fingerprints the
path, size, mtime, feature lists and bin count). A rebuilt profile queues every computed window again, since
their statistics were taken against the old reference.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

import duckdb

from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.errors import SourceError
from driftwatch.sources.columns import (
    Exclusion,
    InferredFeatures,
    describe_exclusions,
    duckdb_column_facts,
    json_key_facts,
    ndjson_columns,
)
from driftwatch.sources.columns import infer_features as infer_from_facts
from driftwatch.sources.files import (
    Readable,
    first_line,
    is_empty,
    read_source,
    source_file,
)
from driftwatch.sources.identity import reference_identity
from driftwatch.sources.logs import LogLayout
from driftwatch.sources.reference_rows import (
    column_sample,
    drop_reference_rows,
    load_reference_rows,
    reference_category_counts,
    reference_numeric_arrays,
    reference_output_counts,
    reference_scores,
    rejected_reference_rows,
)
from driftwatch.stats.decision import OUTPUT_FEATURE, PREDICTION_FEATURE
from driftwatch.stats.profile import (
    FeatureProfile,
    ReferenceProfile,
    categorical_profile,
    numeric_profile,
)
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.profiles import current_profile_id, load_profile, save_profile
from driftwatch.storage.stored_values import canonicalise_stored_values
from driftwatch.storage.windows import requeue_computed_windows

PROFILE_FORMAT = (
    3  # 2: the model's output (score, decision) is profiled too; 3: values by identity (docs/values.md)
)
_CACHE: dict[tuple[str, str, str], ReferenceProfile] = {}
# Inferred features per reference file version and config: the inference reads up to SAMPLE_ROWS rows, which
# a scheduled cycle should not pay again while neither changed.
_INFERRED: dict[tuple[object, ...], InferredFeatures] = {}
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class ReferenceOutcome:
    profile: ReferenceProfile
    features: FeatureSpec
    rebuilt: bool
    rows_rejected: int
    excluded: tuple[Exclusion, ...] = ()  # reference columns not inferred as features, with the reason


def _reserved_columns(monitor: MonitorConfig) -> dict[str, str]:
    """Columns the config names for another role → the key naming them (the reason they are not features)."""
    p, r = monitor.predictions, monitor.reference
    names: dict[str, str] = {}
    keys = [
        ("predictions.id", p.id),
        ("predictions.timestamp", p.timestamp),
        ("predictions.model_version", p.model_version),
        ("predictions.prediction", p.prediction),
        ("predictions.output", p.output),
        ("reference.prediction", r.prediction),
        ("reference.output", r.output),
        ("reference.target", r.target),
        *(("predictions.segments", s) for s in p.segments),
        # a column named like an output feature would clash with it
        *(("a model output feature", n) for n in watched_outputs(monitor)),
    ]
    if isinstance(p.features, str):
        keys.append(("predictions.features", p.features))
    if monitor.labels is not None:
        keys += [("labels.id", monitor.labels.id), ("labels.label", monitor.labels.label)]
    for key, name in keys:
        if name and name not in names:
            names[name] = key
    return names


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


def infer_features(cur: duckdb.DuckDBPyConnection, monitor: MonitorConfig) -> InferredFeatures:
    """Numeric and categorical features of a reference with no `features:` section in the config, and the
    columns left out with their reason (rules: `sources.columns`).

    A `predictions.features` list of plain columns decides the features; otherwise every reference column (or
    key of `reference.features`) is a candidate and identifiers, timestamps, labels and outputs are left out.
    """
    ref = monitor.reference
    reserved = _reserved_columns(monitor)
    listed = monitor.predictions.features if isinstance(monitor.predictions.features, tuple) else None
    try:
        stat = os.stat(ref.path)
    except OSError as exc:
        raise SourceError(ref.path, f"reference file cannot be read: {exc.strerror}") from None
    key = (
        ref.path,
        stat.st_size,
        stat.st_mtime_ns,
        ref.format,
        ref.features,
        tuple(reserved.items()),
        listed,
    )
    with _CACHE_LOCK:
        known = _INFERRED.get(key)
    if known is not None:
        return known
    inferred = _inferred_features(cur, monitor, reserved, listed)
    with _CACHE_LOCK:
        _INFERRED[key] = inferred
    return inferred


def _inferred_features(
    cur: duckdb.DuckDBPyConnection,
    monitor: MonitorConfig,
    reserved: dict[str, str],
    listed: tuple[str, ...] | None,
) -> InferredFeatures:
    ref = monitor.reference
    # Through `read_source`, so a malformed row cannot turn a CSV header into one column named "a,b,c". DuckDB's
    # errors leave `_infer_from` as they are: `read_source` repairs the file when its reader refused a row.
    try:
        return read_source(
            cur,
            source_file(ref.path, ref.format),
            lambda readable: _infer_from(cur, monitor, reserved, listed, readable),
        )
    except duckdb.Error as exc:
        raise SourceError(ref.path, f"cannot read reference: {first_line(exc)}") from None


def _infer_from(
    cur: duckdb.DuckDBPyConnection,
    monitor: MonitorConfig,
    reserved: dict[str, str],
    listed: tuple[str, ...] | None,
    readable: Readable,
) -> InferredFeatures:
    # Errors name ref.path; `path` is the file as read (the original or a repaired copy).
    ref = monitor.reference
    fmt, path, columns = readable.fmt, readable.path, readable.columns
    if ref.features is not None:
        facts = json_key_facts(cur, fmt, path, columns, ref.features, ref.path, readable.compression)
    else:
        if fmt == "ndjson":
            relation, params, exprs = ndjson_columns(cur, path, readable.compression)
        else:
            relation, params, exprs = column_sample(readable)
        facts = duckdb_column_facts(cur, relation, params, exprs)
    if listed is not None:
        missing = [n for n in listed if n not in {f.name for f in facts}]
        if missing:
            known = ", ".join(f.name for f in facts) or "none"
            raise SourceError(
                ref.path,
                f"has no column {missing[0]!r} (listed in predictions.features); its columns are: {known}",
            )
    inferred = infer_from_facts(facts, reserved, listed, "predictions.features")
    if not inferred.numeric and not inferred.categorical:
        left_out = f" (left out: {describe_exclusions(inferred.excluded)})" if inferred.excluded else ""
        raise SourceError(
            ref.path, f"no feature columns found{left_out}; list them under `features:` in the config"
        )
    return inferred


def profile_settings(monitor: MonitorConfig, features: FeatureSpec) -> dict[str, object]:
    """Everything besides the reference data that a profile depends on (its id fingerprints these)."""
    ref = monitor.reference
    return {
        "format": PROFILE_FORMAT,
        "numeric": features.numeric,
        "categorical": features.categorical,
        "bins": monitor.psi_bins,
        "max_rows": ref.max_rows,
        "features": ref.features,
        "outputs": watched_outputs(monitor),
    }


def profile_id(monitor: MonitorConfig, features: FeatureSpec) -> str:
    return reference_identity(monitor.reference.path, profile_settings(monitor, features))


def reference_layout(
    monitor: MonitorConfig,
    features: FeatureSpec,
    *,
    prediction: str | None = None,
    output: str | None = None,
    extra_numeric: dict[str, str] | None = None,
) -> LogLayout:
    """How the monitor's reference file is read: its features (plain columns, or the JSON/struct field
    `reference.features`), with no request id or timestamp (a reference row has neither), plus the outputs the
    caller reads from it: the profile its watched model outputs, the loss model its score (`extra_numeric`)
    and target, the multivariate stage nothing more."""
    return LogLayout(
        id=None,
        timestamp=None,
        numeric=features.numeric,
        categorical=features.categorical,
        features_json=monitor.reference.features,
        prediction=prediction,
        output=output,
        extra_numeric=extra_numeric or {},
    )


def build_profile(
    cur: duckdb.DuckDBPyConnection, monitor: MonitorConfig, features: FeatureSpec, pid: str
) -> tuple[ReferenceProfile, int]:
    """Read the reference file and profile every feature. Returns the profile and the rows rejected."""
    ref = monitor.reference
    f = source_file(ref.path, ref.format)
    if is_empty(f):
        raise SourceError(ref.path, "the reference file is empty")
    layout = reference_layout(
        monitor,
        features,
        prediction=ref.prediction if PREDICTION_FEATURE in watched_outputs(monitor) else None,
        output=ref.output if OUTPUT_FEATURE in watched_outputs(monitor) else None,
    )

    def load(readable: Readable) -> int:
        """The reference's normalised rows into the temp table; returns the rows its reader refused."""
        return load_reference_rows(cur, readable, layout, ref.max_rows)

    try:
        refused = read_source(cur, f, load)
    except duckdb.Error as exc:
        raise SourceError(ref.path, f"cannot read reference: {first_line(exc)}") from None
    try:
        rejected = rejected_reference_rows(cur) + refused
        profiles, rows = _profile_loaded_rows(cur, features, layout, monitor.psi_bins)
    finally:
        drop_reference_rows(cur)
    if rows == 0:
        raise SourceError(ref.path, "the reference has no usable rows")
    return ReferenceProfile(profile_id=pid, rows=rows, features=profiles), rejected


def _profile_loaded_rows(
    cur: duckdb.DuckDBPyConnection, features: FeatureSpec, layout: LogLayout, bins: int
) -> tuple[dict[str, FeatureProfile], int]:
    """Every feature's profile from the loaded reference rows, and the rows profiled (0: none usable)."""
    profiles: dict[str, FeatureProfile] = {}
    rows = 0
    for name, values in reference_numeric_arrays(cur, features.numeric).items():
        profiles[name] = numeric_profile(name, values, bins)
        rows = int(values.size)
    for name in features.categorical:
        value_counts = reference_category_counts(cur, name)
        profiles[name] = categorical_profile(name, value_counts)
        rows = int(sum(value_counts.values()))
    if layout.prediction is not None:
        profiles[PREDICTION_FEATURE] = numeric_profile(PREDICTION_FEATURE, reference_scores(cur), bins)
    if layout.output is not None:
        profiles[OUTPUT_FEATURE] = categorical_profile(OUTPUT_FEATURE, reference_output_counts(cur))
    return profiles, rows


def ensure_reference(db: Database, monitor: MonitorConfig) -> ReferenceOutcome:
    """The current profile, building and storing it when the reference (or its settings) changed."""
    return ensure_reference_ahead(db, monitor, ahead=False).result()


@dataclass(frozen=True)
class PendingReference:
    """The reference's features, known at once, and its outcome, which may still be being read (`outcome`, a
    future). Whoever holds one lets the read end (`settle`) before the database may close."""

    features: FeatureSpec
    outcome: Future[ReferenceOutcome]

    @classmethod
    def done(cls, outcome: ReferenceOutcome) -> PendingReference:
        ready: Future[ReferenceOutcome] = Future()
        ready.set_result(outcome)
        return cls(outcome.features, ready)

    def result(self) -> ReferenceOutcome:
        return self.outcome.result()

    def settle(self) -> None:
        """Wait for the read, if any, to end; its error (if any) is `result`'s to raise."""
        wait([self.outcome])


def ensure_reference_ahead(db: Database, monitor: MonitorConfig, ahead: bool = True) -> PendingReference:
    """`ensure_reference`, but with `ahead` a stored profile that is current (every cycle but the one after the
    reference changed) is read from the database on a thread of its own while the caller goes on: a cycle
    ingests meanwhile (mostly inside DuckDB, without the GIL), and only its windows wait for the profile (a 1M-row
    reference: ~0.3 s that no longer comes before the ingest). A profile to build is built before this returns,
    as before: its transaction re-queues windows, which must come before the ingest queues its own."""
    cur = db.cursor()
    excluded: tuple[Exclusion, ...] = ()
    if monitor.features is not None:
        features = monitor.features
    else:
        inferred = infer_features(cur, monitor)
        features = FeatureSpec(numeric=inferred.numeric, categorical=inferred.categorical)
        excluded = inferred.excluded
    pid = profile_id(monitor, features)
    if current_profile_id(cur, monitor.name) != pid:
        return PendingReference.done(_build_reference(db, monitor, features, pid, excluded))
    if not ahead or _held(db, monitor.name, pid) is not None:
        return PendingReference.done(
            ReferenceOutcome(cached_profile(db, monitor.name, pid), features, False, 0, excluded)
        )

    def read() -> ReferenceOutcome:
        with db.side_cursor() as own:  # a pool thread keeps no cursor after it
            profile = cached_profile(db, monitor.name, pid, own)
        return ReferenceOutcome(profile, features, False, 0, excluded)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-reference")
    reading = pool.submit(read)
    pool.shutdown(wait=False)  # the thread ends with the read
    return PendingReference(features, reading)


def _build_reference(
    db: Database, monitor: MonitorConfig, features: FeatureSpec, pid: str, excluded: tuple[Exclusion, ...]
) -> ReferenceOutcome:
    cur = db.cursor()
    profile, rejected = build_profile(cur, monitor, features, pid)
    with db.transaction() as tx:
        save_profile(tx, monitor.name, monitor.reference.path, profile)
        # Rows stored before the value model, to the identities the new profile holds (a no-op after that).
        canonicalise_stored_values(
            tx, monitor.name, features.numeric, features.categorical, monitor.predictions.segments
        )
        requeue_computed_windows(tx, monitor.name, "reference changed", utcnow())
    with _CACHE_LOCK:
        _CACHE[(str(db.path), monitor.name, pid)] = profile
    return ReferenceOutcome(profile, features, True, rejected, excluded)


def cached_profiles(db: Database, monitor: str) -> dict[tuple[str, str], ReferenceProfile]:
    """The monitor's profiles this process holds, keyed (monitor, profile id) as `render_reports` takes them:
    the pages drawn after a cycle use them instead of reading a 1M-row reference back (~0.3 s) a second time."""
    with _CACHE_LOCK:
        return {
            (m, pid): hit for (path, m, pid), hit in _CACHE.items() if path == str(db.path) and m == monitor
        }


def cached_profile(
    db: Database, monitor: str, pid: str, cur: duckdb.DuckDBPyConnection | None = None
) -> ReferenceProfile:
    """A stored profile, read from the database (on `cur`, default this thread's cursor) once per process."""
    hit = _held(db, monitor, pid)
    if hit is not None:
        return hit
    profile = load_profile(cur or db.cursor(), monitor, pid)
    with _CACHE_LOCK:
        _CACHE[(str(db.path), monitor, pid)] = profile
    return profile


def _held(db: Database, monitor: str, pid: str) -> ReferenceProfile | None:
    with _CACHE_LOCK:
        return _CACHE.get((str(db.path), monitor, pid))
