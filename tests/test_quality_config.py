"""A monitor's `quality:` section (config/quality.py): defaults, overrides per check and per feature, and errors
that name the file, the dotted key and the value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from driftwatch.config import quality as config_quality
from driftwatch.config.loading import load_settings
from driftwatch.errors import ConfigError
from driftwatch.stats.quality import QualitySettings

DOCS = Path(__file__).resolve().parents[1] / "docs"

BASE = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions: {path: data/*.parquet}
    reference: {path: train.parquet}
    features: {numeric: [age, income], categorical: [region]}
"""


def load(tmp_path: Path, quality: str) -> QualitySettings:
    path = tmp_path / "driftwatch.yml"
    path.write_text(BASE + "    quality:\n" + "".join(f"      {line}\n" for line in quality.splitlines()))
    return load_settings(path).monitor("m").quality


def test_without_a_section_every_check_is_on_with_the_documented_defaults(tmp_path: Path) -> None:
    path = tmp_path / "driftwatch.yml"
    path.write_text(BASE)
    settings = load_settings(path).monitor("m").quality
    assert settings == QualitySettings()
    assert settings.enabled and settings.defaults.range.enabled and settings.row_count.min_history == 7
    assert settings.defaults.missing.warn_margin == 0.01 and settings.defaults.missing.fail_margin == 0.05
    assert settings.duplicates.warn_share == 0.01 and settings.parse.fail_share == 0.01


def test_overrides_per_check_and_per_feature(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        "missing: {warn_margin: 0.02}\n"
        "row_count: {enabled: false}\n"
        "features:\n"
        "  age: {range: {min: 18, max: 100}, missing: {fail_margin: 0.2}}\n"
        "  region: {categories: {enabled: false}}",
    )
    assert settings.defaults.missing.warn_margin == 0.02
    assert not settings.row_count.enabled
    age = settings.feature("age")
    assert (age.range.min, age.range.max) == (18.0, 100.0)
    # A feature's section starts from the monitor's settings: warn_margin 0.02 is kept.
    assert (age.missing.warn_margin, age.missing.fail_margin) == (0.02, 0.2)
    assert not settings.feature("region").categories.enabled
    assert settings.feature("income") == settings.defaults


@pytest.mark.parametrize(
    ("quality", "key", "message"),
    [
        ("rnage: {}", "monitors.m.quality.rnage", "unknown key; did you mean 'range'?"),
        ("range: {min: 0}", "monitors.m.quality.range.min", "is set per feature"),
        ("missing: {warn_margin: 0.2, fail_margin: 0.1}", "monitors.m.quality.missing.fail_margin", "below"),
        ("row_count: {warn_z: 7}", "monitors.m.quality.row_count.fail_z", "is below warn_z"),
        ("row_count: {history: 5}", "monitors.m.quality.row_count.min_history", "is above history"),
        ("constant: {near_constant: 2}", "monitors.m.quality.constant.near_constant", "between 0.5 and 1"),
        ("duplicates: {fail_share: 'lots'}", "monitors.m.quality.duplicates.fail_share", "expected a number"),
        ("enabled: 'yes'", "monitors.m.quality.enabled", "expected true or false"),
        ("features: {agee: {}}", "monitors.m.quality.features.agee", "is not a feature of this monitor"),
        (
            "features: {age: {range: {min: 5, max: 1}}}",
            "monitors.m.quality.features.age.range.max",
            "below min",
        ),
        ("features: {age: {row_count: {}}}", "monitors.m.quality.features.age.row_count", "unknown key"),
        ("features: [age]", "monitors.m.quality.features", "expected a mapping"),
    ],
)
def test_errors_name_file_key_and_value(tmp_path: Path, quality: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, quality)
    assert info.value.file == str(tmp_path / "driftwatch.yml")
    assert info.value.key == key
    assert message in info.value.message


def test_an_error_shows_the_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape("(got 'lots')")):
        load(tmp_path, "duplicates: {fail_share: 'lots'}")


def test_every_quality_key_is_documented() -> None:
    """docs/quality.md names every key of the section; docs/configuration.md links to it."""
    text = (DOCS / "quality.md").read_text()
    keys = {
        key
        for name, value in vars(config_quality).items()
        if name.endswith("_KEYS") or name.endswith("_CHECKS")
        for key in value
    }
    missing = sorted(k for k in keys if f"`{k}`" not in text)
    assert not missing, f"undocumented quality keys: {missing}"
    assert "quality.md" in (DOCS / "configuration.md").read_text()
