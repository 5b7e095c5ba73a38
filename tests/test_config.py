from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import DRIFT_KEYS
from driftwatch.errors import ConfigError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"

MINIMAL = """\
storage: state/dw.duckdb
monitors:
  credit-default:
    predictions:
      path: data/predictions/*.parquet
    reference:
      path: data/train.parquet
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "driftwatch.yml"
    path.write_text(text)
    return path


def test_minimal_config_takes_documented_defaults_and_resolves_paths(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, MINIMAL))
    mon = settings.monitor("credit-default")
    assert settings.storage == tmp_path / "state" / "dw.duckdb"
    assert settings.reports_dir == tmp_path / "reports"
    assert mon.predictions.path == str(tmp_path / "data" / "predictions" / "*.parquet")
    assert mon.predictions.timestamp == "timestamp"
    assert mon.predictions.id == "request_id"
    assert mon.predictions.features == "input_features"
    assert mon.window == timedelta(days=1)
    assert mon.features is None
    assert mon.drift.psi_drift == 0.25


def test_issue_shape_is_accepted(tmp_path: Path) -> None:
    text = (
        MINIMAL.replace(
            "      path: data/predictions/*.parquet\n",
            "      path: data/predictions/*.parquet\n      timestamp: timestamp\n      id: request_id\n"
            "      model_version: model_version\n      features: input_features\n      prediction: raw_prediction\n",
        )
        + "    features:\n      numeric: [age, income]\n      categorical: [region]\n    window: 1d\n"
    )
    mon = load_settings(write(tmp_path, "reports_dir: reports\n" + text)).monitor("credit-default")
    assert mon.features is not None
    assert mon.features.numeric == ("age", "income")
    assert mon.features.categorical == ("region",)
    assert mon.predictions.model_version == "model_version"


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        (("    reference:", "    refrence:"), "monitors.credit-default.refrence", "did you mean 'reference'"),
        (("monitors:", "monitorz:"), "monitorz", "did you mean 'monitors'"),
        (
            ("      path: data/train.parquet\n", "      path: data/train.parquet\n    window: 5 days\n"),
            "monitors.credit-default.window",
            "not a duration",
        ),
        (
            ("      path: data/train.parquet\n", "      path: data/train.parquet\n    min_rows: -3\n"),
            "monitors.credit-default.min_rows",
            "whole number",
        ),
        (
            (
                "      path: data/train.parquet\n",
                "      path: data/train.parquet\n    drift: {psi_drift: 0.05}\n",
            ),
            "monitors.credit-default.drift",
            "psi_warn",
        ),
        (
            (
                "      path: data/train.parquet\n",
                "      path: data/train.parquet\n    drift: {psi_drift: high}\n",
            ),
            "monitors.credit-default.drift.psi_drift",
            "expected a number",
        ),
        (
            (
                "      path: data/predictions/*.parquet\n",
                "      path: data/predictions/*.parquet\n      format: xlsx\n",
            ),
            "monitors.credit-default.predictions.format",
            "one of",
        ),
    ],
)
def test_errors_name_file_key_and_value(
    tmp_path: Path, change: tuple[str, str], key: str, fragment: str
) -> None:
    path = write(tmp_path, MINIMAL.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert str(path) in message
    assert key in message
    assert fragment in message


def test_missing_required_sections(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"monitors\.m\.reference: is required"):
        load_settings(write(tmp_path, "monitors:\n  m:\n    predictions: {path: x.parquet}\n"))
    with pytest.raises(ConfigError, match="monitors: is required"):
        load_settings(write(tmp_path, "storage: x.duckdb\n"))


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.yml")
    with pytest.raises(ConfigError, match=r"line \d+: not valid YAML"):
        load_settings(write(tmp_path, "monitors:\n  m: [unclosed\n"))


def test_every_config_key_is_documented() -> None:
    """docs/configuration.md must mention every key the loader accepts."""
    text = DOCS.read_text()
    from driftwatch.config import (
        alerting,
        loading,
        mlflow,
        monitors,
        performance,
        retention,
        server,
        settings,
    )

    keys: set[str] = set(server.KEYS)
    for module in (alerting, loading, mlflow, monitors, performance, retention, settings):
        for name, value in vars(module).items():
            if name.endswith("_KEYS") and isinstance(value, tuple):
                keys.update(value)
    from driftwatch.config import compute, versions

    keys.update(versions.VERSION_KEYS)
    keys.update(compute.COMPUTE_KEYS)
    for channel_keys in alerting.CHANNEL_KEYS.values():
        keys.update(channel_keys)
    keys.update(DRIFT_KEYS)
    assert len(keys) > 25
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"undocumented config keys: {missing}"


def test_learned_threshold_keys_and_output_name_clash(tmp_path: Path) -> None:
    drift = (
        MINIMAL
        + "    drift: {learned_thresholds: false, learned_quantile: 0.95, learned_drift_quantile: 0.995}\n"
    )
    mon = load_settings(write(tmp_path, drift)).monitor("credit-default")
    assert (mon.drift.learned_thresholds, mon.drift.learned_quantile, mon.drift.learned_drift_quantile) == (
        False,
        0.95,
        0.995,
    )
    with pytest.raises(ConfigError, match=r"drift\.learned_thresholds: expected true or false \(got 'no'\)"):
        load_settings(write(tmp_path, MINIMAL + "    drift: {learned_thresholds: 'no'}\n"))
    with pytest.raises(ConfigError, match=r"drift\.learned_drift_quantile"):
        load_settings(write(tmp_path, MINIMAL + "    drift: {learned_drift_quantile: 0.9}\n"))
    outputs = MINIMAL.replace(
        "      path: data/predictions/*.parquet\n",
        "      path: data/predictions/*.parquet\n      prediction: p\n",
    ).replace("      path: data/train.parquet\n", "      path: data/train.parquet\n      prediction: score\n")
    clash = outputs + "    features: {numeric: [raw_prediction, age]}\n"
    with pytest.raises(
        ConfigError, match=r"monitors\.credit-default\.features: 'raw_prediction' is the name"
    ):
        load_settings(write(tmp_path, clash))
    # Without a watched score the name is free.
    load_settings(write(tmp_path, MINIMAL + "    features: {numeric: [raw_prediction, age]}\n"))
