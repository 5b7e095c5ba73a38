"""The driftwatch.yml file: monitors, storage and settings, validated once.

Every error names the file, the dotted key and the bad value (ConfigError). Relative paths resolve against the
config file's folder, so a project can be run from anywhere. Each key is documented in docs/configuration.md;
a test checks that every key accepted here appears there.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from driftwatch.config_alerting import AlertingSettings, parse_alerting
from driftwatch.config_server import ServerSettings, parse_server
from driftwatch.durations import parse_duration
from driftwatch.errors import ConfigError
from driftwatch.source_config import (
    DatabaseSourceOptions,
    ObjectStoreOptions,
    is_object_url,
    parse_database_source,
    parse_object_store,
)
from driftwatch.stats.decision import OUTPUT_FEATURE, PREDICTION_FEATURE, Thresholds
from driftwatch.yaml_keys import DuplicateKeyError, load_yaml_unique_keys

DEFAULT_CONFIG_NAME = "driftwatch.yml"
FILE_FORMATS = ("auto", "parquet", "csv", "ndjson")
# Task and metric names, spelled as in driftwatch.performance.metrics (config sits below that layer, so they
# are repeated here; tests/test_performance_pipeline.py checks the two stay equal).
BINARY = "binary_classification"
MULTICLASS = "multiclass_classification"
REGRESSION = "regression"
TASKS = (BINARY, MULTICLASS, REGRESSION)
TASK_METRICS: dict[str, tuple[str, ...]] = {
    BINARY: ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss", "brier"),
    MULTICLASS: ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc_ovr_macro", "log_loss"),
    REGRESSION: ("mae", "rmse", "mape", "r2"),
}
DEFAULT_JUDGED: dict[str, tuple[str, ...]] = {
    BINARY: ("roc_auc",),
    MULTICLASS: ("accuracy",),
    REGRESSION: ("rmse",),
}
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


@dataclass(frozen=True)
class LabelSource:
    """Where delayed ground-truth labels land: one row per request id (a later row replaces an earlier one)."""

    path: str
    format: str = "auto"
    id: str = "request_id"
    label: str = "label"
    timestamp: str | None = None  # when the label became known; None = when driftwatch ingested it
    object_store: ObjectStoreOptions = ObjectStoreOptions()


@dataclass(frozen=True)
class PerformanceSettings:
    """How realized performance is judged (see docs/performance.md, "How the pipeline uses it")."""

    min_labels: int = 100
    min_coverage: float = 0.1
    tolerance: float = 0.0  # the minimum practical drop; the sampling error decides the rest
    relative: bool = False
    confidence: float = 0.95  # one-sided, per window (Bonferroni over the judged metrics)
    reference_spread: bool = True  # add the reference's window-to-window spread (τ²) to the noise
    baseline: Mapping[str, float] | None = None  # metric → fixed baseline; None = the reference's performance
    metrics: tuple[str, ...] = ()  # the metrics judged; filled with the task's default when parsed


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


@dataclass(frozen=True)
class DatabaseSettings:
    threads: int = 2
    memory_limit: str = "4GB"
    temp_directory: str | None = None


@dataclass(frozen=True)
class Settings:
    config_path: Path
    storage: Path
    reports_dir: Path
    monitors: Mapping[str, MonitorConfig]
    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = field(default_factory=ServerSettings)
    alerting: AlertingSettings | None = None  # the `alerting:` section (docs/configuration.md, "Alerting")

    def monitor(self, name: str) -> MonitorConfig:
        try:
            return self.monitors[name]
        except KeyError:
            known = ", ".join(sorted(self.monitors)) or "none"
            raise ConfigError(
                self.config_path, f"monitors.{name}", f"no such monitor (known: {known})"
            ) from None


class _Section:
    """Reads one mapping of the YAML, remembering its dotted path so errors can name the key."""

    def __init__(self, file: Path, path: str, data: object, known: tuple[str, ...]) -> None:
        self.file = file
        self.path = path
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ConfigError(file, path or "(top level)", "expected a mapping of keys to values", data)
        self.data: Mapping[str, Any] = data
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
                raise ConfigError(file, self.key(str(key)), f"unknown key{hint}")

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, name: str, message: str, value: object = None) -> ConfigError:
        return ConfigError(self.file, self.key(name), message, value)

    def str_(self, name: str, default: str | None = None, required: bool = False) -> str | None:
        value = self.data.get(name, default)
        if value is None:
            if required:
                raise self.error(name, "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, "expected a non-empty string", value)
        return value

    def int_(self, name: str, default: int | None, minimum: int) -> int | None:
        value = self.data.get(name, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(name, f"expected a whole number >= {minimum}", value)
        return value

    def names(self, name: str) -> tuple[str, ...]:
        value = self.data.get(name)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.error(name, "expected a list of column names", value)
        if len(set(value)) != len(value):
            raise self.error(name, "lists a column twice", value)
        return tuple(value)

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.data.get(name, default)
        if value not in choices:
            raise self.error(name, f"expected one of {', '.join(choices)}", value)
        return str(value)


def _resolve(base: Path, value: str) -> str:
    if is_object_url(value):
        return value  # s3://bucket/key: not a path on this machine
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path))


def _predictions(file: Path, base: Path, path: str, data: object) -> PredictionSource:
    s = _Section(
        file,
        path,
        data,
        (
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
        ),
    )
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
        path=_resolve(base, s.str_("path", required=database is None) or "") if database is None else "",
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
    )


def _reference(file: Path, base: Path, path: str, data: object) -> ReferenceSource:
    if isinstance(data, str):
        data = {"path": data}
    s = _Section(
        file,
        path,
        data,
        ("path", "format", "features", "prediction", "output", "max_rows", "target", "object_store"),
    )
    return ReferenceSource(
        path=_resolve(base, s.str_("path", required=True) or ""),
        format=s.choice("format", "auto", FILE_FORMATS),
        features=s.str_("features"),
        prediction=s.str_("prediction"),
        output=s.str_("output"),
        max_rows=s.int_("max_rows", None, 1),
        target=s.str_("target"),
        object_store=parse_object_store(file, s.key("object_store"), s.data.get("object_store")),
    )


def _labels(file: Path, base: Path, path: str, data: object) -> LabelSource | None:
    if data is None:
        return None
    if isinstance(data, str):
        data = {"path": data}
    s = _Section(file, path, data, ("path", "format", "id", "label", "timestamp", "object_store"))
    return LabelSource(
        path=_resolve(base, s.str_("path", required=True) or ""),
        format=s.choice("format", "auto", FILE_FORMATS),
        id=s.str_("id", "request_id") or "request_id",
        label=s.str_("label", "label") or "label",
        timestamp=s.str_("timestamp"),
        object_store=parse_object_store(file, s.key("object_store"), s.data.get("object_store")),
    )


def _number(s: _Section, name: str, default: float, low: float, high: float = float("inf")) -> float:
    value = s.data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        if high != float("inf"):
            bounds = f" between {low:g} and {high:g}"
        else:
            bounds = f" >= {low:g}" if low != float("-inf") else ""
        raise s.error(name, f"expected a number{bounds}", value)
    return float(value)


def _performance(file: Path, path: str, data: object, task: str | None) -> PerformanceSettings:
    """The `performance:` section: the label gate, the tolerance, the baseline and the judged metrics."""
    s = _Section(
        file,
        path,
        data,
        (
            "min_labels",
            "min_coverage",
            "tolerance",
            "relative",
            "baseline",
            "metrics",
            "confidence",
            "reference_spread",
        ),
    )
    if data is not None and task is None:
        raise ConfigError(file, path, "needs the monitor's `task` (binary_classification, ...)")
    known = TASK_METRICS.get(task or BINARY, ())
    metrics = s.names("metrics") or DEFAULT_JUDGED.get(task or BINARY, ())
    for metric in metrics:
        if metric not in known:
            raise s.error(
                "metrics", f"{metric!r} is not a metric of {task}; known: {', '.join(known)}", metric
            )
    relative = s.data.get("relative", False)
    if not isinstance(relative, bool):
        raise s.error("relative", "expected true or false", relative)
    spread = s.data.get("reference_spread", True)
    if not isinstance(spread, bool):
        raise s.error("reference_spread", "expected true or false", spread)
    confidence = _number(s, "confidence", 0.95, 0.5, 1.0)
    if not 0.5 <= confidence < 1.0:
        raise s.error("confidence", "expected a number >= 0.5 and < 1 (e.g. 0.95)", confidence)
    raw = s.data.get("baseline")
    baseline: dict[str, float] | None = None
    if raw is not None:
        if isinstance(raw, Mapping):
            baseline = {}
            for metric, value in raw.items():
                if metric not in known:
                    raise s.error(f"baseline.{metric}", f"not a metric of {task}; known: {', '.join(known)}")
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise s.error(f"baseline.{metric}", "expected a number", value)
                baseline[str(metric)] = float(value)
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            if len(metrics) != 1:
                raise s.error(
                    "baseline", "a single number needs exactly one judged metric; use {metric: value}", raw
                )
            baseline = {metrics[0]: float(raw)}
        else:
            raise s.error("baseline", "expected a number or a mapping of metric → number", raw)
    return PerformanceSettings(
        min_labels=s.int_("min_labels", 100, 1) or 100,
        min_coverage=_number(s, "min_coverage", 0.1, 0.0, 1.0),
        tolerance=_number(s, "tolerance", 0.0, 0.0),
        relative=relative,
        confidence=confidence,
        reference_spread=spread,
        baseline=baseline,
        metrics=metrics,
    )


def _features(file: Path, path: str, data: object) -> FeatureSpec | None:
    if data is None:
        return None
    s = _Section(file, path, data, ("numeric", "categorical"))
    spec = FeatureSpec(numeric=s.names("numeric"), categorical=s.names("categorical"))
    both = set(spec.numeric) & set(spec.categorical)
    if both:
        raise s.error("categorical", "a feature cannot be both numeric and categorical", sorted(both))
    if not spec.names:
        raise ConfigError(
            file, path, "lists no features; remove the section to infer them from the reference"
        )
    return spec


DRIFT_KEYS = tuple(f.name for f in dataclasses.fields(Thresholds) if f.name != "min_rows")


def _thresholds(file: Path, path: str, data: object, min_rows: int) -> Thresholds:
    """The `drift:` section: decision thresholds (see docs/statistics.md for each default and why)."""
    s = _Section(file, path, data, DRIFT_KEYS)
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


def _monitor(file: Path, base: Path, name: str, data: object) -> MonitorConfig:
    path = f"monitors.{name}"
    if not _MONITOR_NAME.match(name):
        raise ConfigError(
            file, path, "monitor names use letters, digits, '-', '_' and '.' (at most 63)", name
        )
    s = _Section(
        file,
        path,
        data,
        (
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
        ),
    )
    if "predictions" not in s.data:
        raise s.error("predictions", "is required: where the prediction logs are")
    if "reference" not in s.data:
        raise s.error("reference", "is required: the training data to compare with")
    window_raw = s.data.get("window", "1d")
    try:
        window = parse_duration(window_raw)
    except ValueError as exc:
        raise s.error("window", str(exc), window_raw) from None
    if window < timedelta(minutes=1):
        raise s.error("window", "must be at least 1m", window_raw)
    min_rows = s.int_("min_rows", 100, 1) or 100
    drift = _thresholds(file, s.key("drift"), s.data.get("drift"), min_rows)
    predictions = _predictions(file, base, s.key("predictions"), s.data["predictions"])
    task = s.data.get("task")
    if task is not None and task not in TASKS:
        raise s.error("task", f"expected one of {', '.join(TASKS)}", task)
    if (
        task is not None
        and predictions.prediction is None
        and not (task == MULTICLASS and predictions.output)
    ):
        raise s.error(
            "task", "needs `predictions.prediction` (the score or predicted value) to measure", task
        )
    labels = _labels(file, base, s.key("labels"), s.data.get("labels"))
    if labels is not None and task is None:
        raise s.error("labels", "needs the monitor's `task` to know what the labels measure")
    positive = s.data.get("positive_label", 1)
    if not isinstance(positive, str | int | float) or (isinstance(positive, str) and not positive):
        raise s.error("positive_label", "expected a number, a string or true/false", positive)
    reference = _reference(file, base, s.key("reference"), s.data["reference"])
    features = _features(file, s.key("features"), s.data.get("features"))
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
        threshold=_number(s, "threshold", 0.5, float("-inf")),
        labels=labels,
        performance=_performance(file, s.key("performance"), s.data.get("performance"), task),
    )


def parse_settings(data: object, config_path: Path) -> Settings:
    """Validate an already-parsed YAML document; `config_path` is used for messages and relative paths."""
    file = config_path
    base = config_path.parent
    top = _Section(file, "", data, ("storage", "reports_dir", "monitors", "database", "alerting", "server"))
    monitors_raw = top.data.get("monitors")
    if not isinstance(monitors_raw, Mapping) or not monitors_raw:
        raise top.error("monitors", "is required: a mapping of monitor names to their settings", monitors_raw)
    monitors = {str(name): _monitor(file, base, str(name), body) for name, body in monitors_raw.items()}
    db = _Section(file, "database", top.data.get("database"), ("threads", "memory_limit", "temp_directory"))
    temp_dir = db.str_("temp_directory")
    return Settings(
        config_path=config_path,
        storage=Path(_resolve(base, top.str_("storage", ".driftwatch/driftwatch.duckdb") or "")),
        reports_dir=Path(_resolve(base, top.str_("reports_dir", "reports") or "")),
        monitors=monitors,
        database=DatabaseSettings(
            threads=db.int_("threads", 2, 1) or 2,
            memory_limit=db.str_("memory_limit", "4GB") or "4GB",
            temp_directory=_resolve(base, temp_dir) if temp_dir else None,
        ),
        alerting=parse_alerting(file, base, top.data.get("alerting")),
        server=parse_server(file, top.data.get("server"), monitors.keys()),
    )


def load_settings(path: str | Path = DEFAULT_CONFIG_NAME) -> Settings:
    """Read and validate a driftwatch.yml. Raises ConfigError naming the file, key and value."""
    config_path = Path(path).expanduser().resolve()
    if not config_path.is_file():
        raise ConfigError(
            config_path,
            "(file)",
            "config file not found; pass --config PATH or run `driftwatch demo` for an example",
        )
    try:
        data = load_yaml_unique_keys(config_path.read_text(encoding="utf-8"))
    except DuplicateKeyError as exc:
        raise ConfigError(
            config_path,
            f"line {exc.line}",
            f"duplicate key {exc.key!r} (first at line {exc.first_line}); YAML would keep only the last one, "
            "so write each key once",
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(config_path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_settings(data, config_path)
