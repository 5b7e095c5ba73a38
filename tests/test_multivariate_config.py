"""The `multivariate:` section: defaults, switches, and errors naming file, key and value."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftwatch.config.loading import load_settings
from driftwatch.config.multivariate import MULTIVARIATE_KEYS, MultivariateSettings
from driftwatch.errors import ConfigError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
MINIMAL = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions: {path: logs/*.parquet}
    reference: {path: train.parquet}
"""


def _monitor(tmp_path: Path, section: str | None) -> MultivariateSettings:
    path = tmp_path / "driftwatch.yml"
    path.write_text(MINIMAL + (f"    multivariate: {section}\n" if section is not None else ""))
    return load_settings(path).monitor("m").multivariate


def test_off_by_default_and_switches(tmp_path: Path) -> None:
    assert _monitor(tmp_path, None) == MultivariateSettings() and not MultivariateSettings().enabled
    assert _monitor(tmp_path, "true") == MultivariateSettings(enabled=True)
    assert _monitor(tmp_path, "false").enabled is False
    on = _monitor(tmp_path, "{methods: [classifier], margin: 0.05, explained_variance: 0.8, min_rows: 300}")
    assert (on.enabled, on.methods, on.margin, on.explained_variance, on.min_rows) == (
        True,
        ("classifier",),
        0.05,
        0.8,
        300,
    )
    assert _monitor(tmp_path, "{enabled: false, methods: reconstruction}").methods == ("reconstruction",)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{methods: [pca]}", r"monitors\.m\.multivariate\.methods: unknown method 'pca'.*\(got \['pca'\]\)"),
        ("{methods: []}", r"multivariate\.methods: expected a non-empty list"),
        ("{methods: [classifier, classifier]}", r"multivariate\.methods: lists a method twice"),
        ("{explained_variance: 1}", r"multivariate\.explained_variance: expected a number between 0 and 1"),
        ("{margin: 0.7}", r"multivariate\.margin: expected a number between 0 and 0\.5 \(got 0\.7\)"),
        ("{folds: 1}", r"multivariate\.folds: expected a whole number >= 2 \(got 1\)"),
        ("{enabled: 'yes'}", r"multivariate\.enabled: expected true or false"),
        ("{max_row: 10}", r"multivariate\.max_row: unknown key; did you mean 'max_rows'\?"),
        ("[1, 2]", r"monitors\.m\.multivariate: expected a mapping"),
    ],
)
def test_errors_name_file_key_and_value(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        _monitor(tmp_path, section)
    assert "driftwatch.yml" in str(info.value)


def test_every_key_is_documented() -> None:
    text = DOCS.read_text()
    missing = [k for k in (*MULTIVARIATE_KEYS, "multivariate") if f"`{k}`" not in text]
    assert not missing
