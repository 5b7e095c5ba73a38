"""The `monitors:` section of driftwatch.yml: what each monitor reads, compares and judges.

Every error names the file, the dotted key and the bad value (ConfigError). Relative paths resolve against the
config file's folder, so a project can be run from anywhere. Each key is documented in docs/configuration.md;
a test checks that every key accepted here appears there.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from driftwatch.config.compute import ComputeSettings, parse_compute
from driftwatch.config.mlflow import RegistryReference, is_registry_url, parse_registry_reference
from driftwatch.config.multivariate import MultivariateSettings, parse_multivariate
from driftwatch.config.performance import MULTICLASS, TASKS, PerformanceSettings, parse_performance
from driftwatch.config.probabilities import ClassProbability, parse_probabilities
from driftwatch.config.quality import parse_quality
from driftwatch.config.retention import RetentionSettings, parse_retention
from driftwatch.config.sections import Section, resolve_path
from driftwatch.config.sources import (
    REFERENCE_DATABASE_KEYS,
    DatabaseSourceOptions,
    ObjectStoreOptions,
    is_object_url,
    parse_database_source,
    parse_object_store,
)
from driftwatch.config.versions import VersionSettings, parse_versions
from driftwatch.durations import parse_duration
from driftwatch.errors import ConfigError
from driftwatch.stats.decision import OUTPUT_FEATURE, PREDICTION_FEATURE, Thresholds
from driftwatch.stats.quality import QualitySettings

FILE_FORMATS = ("auto", "parquet", "csv", "ndjson")
MONITOR_KEYS = (
    "predictions",
    "reference",
    "features",
    "window",
    "min_rows",
    "psi_bins",
    "drift",
    "task",
    "positive_label",
    "threshold",
    "labels",
    "performance",
    "retention",
    "stream_rows",
    "quality",
    "multivariate",
    "versions",
    "compute",
)
PREDICTION_KEYS = (
    "path",
    "format",
    "timestamp",
    "id",
    "model_version",
    "features",
    "prediction",
    "output",
    "segments",
    "object_store",
    "database",
    "probabilities",
)
REFERENCE_KEYS = (
    "path",
    "format",
    "features",
    "prediction",
    "output",
    "max_rows",
    "target",
    "object_store",
    "mlflow",
    "database",
)
LABEL_KEYS = ("path", "format", "id", "label", "timestamp", "object_store", "database")
FEATURE_KEYS = ("numeric", "categorical")
DRIFT_KEYS = tuple(f.name for f in dataclasses.fields(Thresholds) if f.name != "min_rows")
_MONITOR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


@dataclass(frozen=True)
class PredictionSource:
    """Where prediction logs land and which columns mean what (the default log schema's names by default)."""

    path: str
    format: str = "auto"
    timestamp: str = "timestamp"
    id: str = "request_id"
    model_version: str | None = None
    features: str | tuple[str, ...] = "input_features"
    prediction: str | None = None
    output: str | None = None
    segments: tuple[str, ...] = ()
    object_store: ObjectStoreOptions = ObjectStoreOptions()  # for an s3:// / gs:// path (docs/sources.md)
    database: DatabaseSourceOptions | None = None  # a table/query in an SQL database instead of `path`
    # A multiclass model's per-class probabilities (config.probabilities; multiclass CBPE in the pipeline).
    probabilities: tuple[ClassProbability, ...] = ()


@dataclass(frozen=True)
class ReferenceSource:
    """The training data the windows are compared with."""

    path: str
    format: str = "auto"
    features: str | None = None  # a JSON/struct column holding the features; None = plain columns
    prediction: str | None = None
    output: str | None = None
    max_rows: int | None = None  # a capped, seeded sample of the reference; None = all rows
    # The true label/value on the reference: the performance baseline and the CBPE calibrator.
    target: str | None = None
    object_store: ObjectStoreOptions = ObjectStoreOptions()
    # `path: mlflow://models/...`: the reference is resolved per model version each cycle (pipeline.registry).
    registry: RegistryReference | None = None
    # A query or table in an SQL database instead of `path`: made local as Parquet (pipeline.database_reference).
    database: DatabaseSourceOptions | None = None


@dataclass(frozen=True)
class LabelSource:
    """Where delayed ground-truth labels land: one row per request id (a later row replaces an earlier one)."""

    path: str
    format: str = "auto"
    id: str = "request_id"
    label: str = "label"
    timestamp: str | None = None  # when the label became known; None = when driftwatch ingested it
    object_store: ObjectStoreOptions = ObjectStoreOptions()
    database: DatabaseSourceOptions | None = None  # a table/query in an SQL database instead of `path`


@dataclass(frozen=True)
class FeatureSpec:
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return self.numeric + self.categorical


@dataclass(frozen=True)
class MonitorConfig:
    name: str
    predictions: PredictionSource
    reference: ReferenceSource
    features: FeatureSpec | None = None  # None: inferred from the reference
    window: timedelta = timedelta(days=1)
    min_rows: int = 100
    psi_bins: int = 10
    drift: Thresholds = field(default_factory=Thresholds)
    task: str | None = None  # None: no performance tracking
    positive_label: str | int | float | bool = 1
    threshold: float = 0.5
    labels: LabelSource | None = None
    performance: PerformanceSettings = field(default_factory=PerformanceSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)  # default: keep every row
    # A window with more rows than this is read in record batches of this many rows through the mergeable
    # partials instead of whole (docs/scale.md). None: every window is read whole.
    stream_rows: int | None = None
    quality: QualitySettings = field(default_factory=QualitySettings)  # data-quality checks (docs/quality.md)
    multivariate: MultivariateSettings = field(default_factory=MultivariateSettings)  # default: off
    versions: VersionSettings | None = None  # baseline vs candidate comparison (docs/versions.md)
    compute: ComputeSettings | None = None  # large windows on a Dask cluster (docs/scale.md); None: here


def parse_monitors(file: Path, data: object) -> dict[str, MonitorConfig]:
    """The `monitors:` mapping (required, not empty): monitor name → its validated settings."""
    if not isinstance(data, Mapping) or not data:
        raise ConfigError(file, "monitors", "is required: a mapping of monitor names to their settings", data)
    return {str(name): parse_monitor(file, file.parent, str(name), body) for name, body in data.items()}


def _source_path(base: Path, value: str) -> str:
    """A local path made absolute (`resolve_path`); an object URL (s3://bucket/key) kept as written."""
    return value if is_object_url(value) else resolve_path(base, value)


def _predictions(file: Path, base: Path, path: str, data: object) -> PredictionSource:
    s = Section(file, path, data, PREDICTION_KEYS)
    features_raw = s.data.get("features", "input_features")
    features: str | tuple[str, ...]
    if isinstance(features_raw, str) and features_raw:
        features = features_raw
    else:
        features = s.names("features")
        if not features:
            raise s.error(
                "features", "expected a JSON/struct column name or a non-empty list of columns", features_raw
            )
    database = parse_database_source(file, s.key("database"), s.data.get("database"))
    if database is not None and "path" in s.data:
        raise s.error("path", "give either `path` (files, objects) or `database`, not both")
    return PredictionSource(
        path="" if database is not None else _source_path(base, s.str_("path", required=True) or ""),
        format=s.choice("format", "auto", FILE_FORMATS),
        timestamp=s.str_("timestamp", "timestamp") or "timestamp",
        id=s.str_("id", "request_id") or "request_id",
        model_version=s.str_("model_version"),
        features=features,
        prediction=s.str_("prediction"),
        output=s.str_("output"),
        segments=s.names("segments"),
        object_store=parse_object_store(file, s.key("object_store"), s.data.get("object_store")),
        database=database,
        probabilities=parse_probabilities(file, s.key("probabilities"), s.data.get("probabilities")),
    )


def _reference(file: Path, base: Path, path: str, data: object) -> ReferenceSource:
    if isinstance(data, str):
        data = {"path": data}
    s = Section(file, path, data, REFERENCE_KEYS)
    database = parse_database_source(file, s.key("database"), s.data.get("database"), REFERENCE_DATABASE_KEYS)
    if database is not None and "path" in s.data:
        raise s.error("path", "give either `path` (a file, an object, mlflow://) or `database`, not both")
    raw_path = "" if database is not None else s.str_("path", required=True) or ""
    registry = None
    if is_registry_url(raw_path):
        registry = parse_registry_reference(file, s.key("path"), raw_path, s.data.get("mlflow"))
    elif "mlflow" in s.data:
        raise s.error("mlflow", "applies only to a registry reference (path: mlflow://models/...)")
    return ReferenceSource(
        path=raw_path if registry or database else _source_path(base, raw_path),
        format=s.choice("format", "auto", FILE_FORMATS),
        features=s.str_("features"),
        prediction=s.str_("prediction"),
        output=s.str_("output"),
        max_rows=s.int_("max_rows", None, 1),
        target=s.str_("target"),
        object_store=parse_object_store(file, s.key("object_store"), s.data.get("object_store")),
        registry=registry,
        database=database,
    )


def _labels(file: Path, base: Path, path: str, data: object) -> LabelSource | None:
    if data is None:
        return None
    if isinstance(data, str):
        data = {"path": data}
    s = Section(file, path, data, LABEL_KEYS)
    database = parse_database_source(file, s.key("database"), s.data.get("database"))
    if database is not None and "path" in s.data:
        raise s.error("path", "give either `path` (files, objects) or `database`, not both")
    if database is not None and database.watermark is None and s.str_("timestamp") is None:
        raise s.error(
            "database",
            "needs `watermark`: the column holding when each label was written (or set `labels.timestamp`)",
        )
    return LabelSource(
        path="" if database is not None else _source_path(base, s.str_("path", required=True) or ""),
        format=s.choice("format", "auto", FILE_FORMATS),
        id=s.str_("id", "request_id") or "request_id",
        label=s.str_("label", "label") or "label",
        timestamp=s.str_("timestamp"),
        object_store=parse_object_store(file, s.key("object_store"), s.data.get("object_store")),
        database=database,
    )


def _features(file: Path, path: str, data: object) -> FeatureSpec | None:
    if data is None:
        return None
    s = Section(file, path, data, FEATURE_KEYS)
    spec = FeatureSpec(numeric=s.names("numeric"), categorical=s.names("categorical"))
    both = set(spec.numeric) & set(spec.categorical)
    if both:
        raise s.error("categorical", "a feature cannot be both numeric and categorical", sorted(both))
    if not spec.names:
        raise ConfigError(
            file, path, "lists no features; remove the section to infer them from the reference"
        )
    return spec


def _thresholds(file: Path, path: str, data: object, min_rows: int) -> Thresholds:
    """The `drift:` section: decision thresholds (see docs/statistics.md for each default and why)."""
    s = Section(file, path, data, DRIFT_KEYS)
    values = dict(s.data)
    for key, value in values.items():
        if key == "correction":
            continue
        if key == "learned_thresholds":
            if not isinstance(value, bool):
                raise s.error(key, "expected true or false", value)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise s.error(key, "expected a number", value)
    try:
        return Thresholds(**values, min_rows=min_rows)
    except (TypeError, ValueError) as exc:
        key = next((k for k in values if k in str(exc)), next(iter(values), "drift"))
        raise s.error(key, str(exc), values.get(key)) from None


def _window(s: Section) -> timedelta:
    window_raw = s.data.get("window", "1d")
    try:
        window = parse_duration(window_raw)
    except ValueError as exc:
        raise s.error("window", str(exc), window_raw) from None
    if window < timedelta(minutes=1):
        raise s.error("window", "must be at least 1m", window_raw)
    return window


def _task(s: Section, predictions: PredictionSource) -> str | None:
    """`task:` (None: no performance tracking); it needs the column holding what the model predicted."""
    task = s.data.get("task")
    if task is None:
        return None
    if task not in TASKS:
        raise s.error("task", f"expected one of {', '.join(TASKS)}", task)
    if predictions.prediction is None and not (task == MULTICLASS and predictions.output):
        raise s.error(
            "task", "needs `predictions.prediction` (the score or predicted value) to measure", task
        )
    return str(task)


def _positive_label(s: Section) -> str | int | float | bool:
    positive = s.data.get("positive_label", 1)
    if not isinstance(positive, str | int | float) or (isinstance(positive, str) and not positive):
        raise s.error("positive_label", "expected a number, a string or true/false", positive)
    return positive


def _check_feature_names(
    s: Section, features: FeatureSpec | None, predictions: PredictionSource, reference: ReferenceSource
) -> None:
    """A listed feature may not take the name the model's score or decision is watched under."""
    watched = {
        PREDICTION_FEATURE: predictions.prediction and reference.prediction,
        OUTPUT_FEATURE: predictions.output and reference.output,
    }
    clash = [n for n in (features.names if features else ()) if watched.get(n)]
    if clash:
        raise s.error(
            "features",
            f"{clash[0]!r} is the name the model's {'score' if clash[0] == PREDICTION_FEATURE else 'decision'} "
            "is watched under (from `prediction:` / `output:`); rename or drop that feature",
            clash[0],
        )


def _check_probabilities(
    s: Section, task: str | None, predictions: PredictionSource, reference: ReferenceSource
) -> None:
    """`predictions.probabilities` is for a multiclass monitor whose reference has the labels to calibrate on."""
    if not predictions.probabilities:
        return
    key = "predictions.probabilities"
    if task != MULTICLASS:
        raise s.error(
            key, f"needs `task: {MULTICLASS}` (per-class probabilities of a multiclass model)", task
        )
    if reference.target is None:
        raise s.error(
            key, "needs `reference.target`: the reference's labels the per-class calibrators are fit on"
        )


def parse_monitor(file: Path, base: Path, name: str, data: object) -> MonitorConfig:
    """One monitor's settings; `base` is the folder relative paths resolve against."""
    path = f"monitors.{name}"
    if not _MONITOR_NAME.match(name):
        raise ConfigError(
            file, path, "monitor names use letters, digits, '-', '_' and '.' (at most 63)", name
        )
    s = Section(file, path, data, MONITOR_KEYS)
    if "predictions" not in s.data:
        raise s.error("predictions", "is required: where the prediction logs are")
    if "reference" not in s.data:
        raise s.error("reference", "is required: the training data to compare with")
    window = _window(s)
    min_rows = s.int_("min_rows", 100, 1) or 100
    drift = _thresholds(file, s.key("drift"), s.data.get("drift"), min_rows)
    predictions = _predictions(file, base, s.key("predictions"), s.data["predictions"])
    task = _task(s, predictions)
    labels = _labels(file, base, s.key("labels"), s.data.get("labels"))
    if labels is not None and task is None:
        raise s.error("labels", "needs the monitor's `task` to know what the labels measure")
    positive = _positive_label(s)
    reference = _reference(file, base, s.key("reference"), s.data["reference"])
    features = _features(file, s.key("features"), s.data.get("features"))
    _check_feature_names(s, features, predictions, reference)
    _check_probabilities(s, task, predictions, reference)
    return MonitorConfig(
        name=name,
        predictions=predictions,
        reference=reference,
        features=features,
        window=window,
        min_rows=min_rows,
        psi_bins=s.int_("psi_bins", 10, 2) or 10,
        drift=drift,
        task=task,
        positive_label=positive,
        threshold=s.number("threshold", 0.5, float("-inf")),
        labels=labels,
        performance=parse_performance(file, s.key("performance"), s.data.get("performance"), task),
        retention=parse_retention(
            file, base, s.key("retention"), s.data.get("retention"), window, labels is not None
        ),
        stream_rows=s.int_("stream_rows", None, 1),
        quality=parse_quality(
            file, s.key("quality"), s.data.get("quality"), features.names if features else None
        ),
        multivariate=parse_multivariate(file, s.key("multivariate"), s.data.get("multivariate")),
        versions=parse_versions(
            file,
            s.key("versions"),
            s.data.get("versions"),
            task,
            reference.registry.model if reference.registry is not None else None,
        ),
        compute=parse_compute(file, s.key("compute"), s.data.get("compute")),
    )
