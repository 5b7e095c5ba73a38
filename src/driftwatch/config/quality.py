"""A monitor's `quality:` section: which data-quality checks run and their bars (docs/quality.md).

Every check is on by default with bars learned from the reference; this section switches a check off, moves a
bar, or sets one feature's checks apart (`features: {age: {range: {min: 0, max: 120}}}`). A per-feature
section starts from the monitor's settings for that check and changes only the keys it names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from driftwatch.config.sections import Section
from driftwatch.stats.quality import (
    ConstantSettings,
    FeatureQuality,
    IngestShareSettings,
    QualitySettings,
    RangeSettings,
    RowCountSettings,
    ShareSettings,
)

FEATURE_CHECKS = ("range", "categories", "missing", "constant")
WINDOW_CHECKS = ("row_count", "parse", "type", "duplicates")
QUALITY_KEYS = ("enabled", *FEATURE_CHECKS, *WINDOW_CHECKS, "features")
RANGE_KEYS = ("enabled", "quantile", "tolerance", "fail_share", "min", "max")
SHARE_KEYS = ("enabled", "warn_margin", "fail_margin")
CONSTANT_KEYS = ("enabled", "near_constant")
ROW_COUNT_KEYS = ("enabled", "history", "min_history", "warn_z", "fail_z")
INGEST_KEYS = ("enabled", "warn_share", "fail_share")

T = TypeVar("T")


def _optional_number(s: Section, name: str, default: float | None) -> float | None:
    value = s.data.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise s.error(name, "expected a number", value)
    return float(value)


def _range(file: Path, path: str, data: object, base: RangeSettings, per_feature: bool) -> RangeSettings:
    s = Section(file, path, data, RANGE_KEYS)
    if not per_feature:
        for name in ("min", "max"):
            if name in s.data:
                raise s.error(name, "is set per feature, under quality.features.<name>.range", s.data[name])
    low, high = _optional_number(s, "min", base.min), _optional_number(s, "max", base.max)
    if low is not None and high is not None and low > high:
        raise s.error("max", f"is below min ({low:g})", s.data.get("max"))
    return RangeSettings(
        enabled=s.bool_("enabled", base.enabled),
        quantile=s.number("quantile", base.quantile, 0.5, 0.9999),
        tolerance=s.number("tolerance", base.tolerance, 0.0),
        fail_share=s.number("fail_share", base.fail_share, 0.0, 1.0),
        min=low,
        max=high,
    )


def _share(file: Path, path: str, data: object, base: ShareSettings) -> ShareSettings:
    s = Section(file, path, data, SHARE_KEYS)
    warn = s.number("warn_margin", base.warn_margin, 0.0, 1.0)
    fail = s.number("fail_margin", base.fail_margin, 0.0, 1.0)
    if warn > fail:
        raise s.error("fail_margin", f"is below warn_margin ({warn:g})", s.data.get("fail_margin", fail))
    return ShareSettings(enabled=s.bool_("enabled", base.enabled), warn_margin=warn, fail_margin=fail)


def _constant(file: Path, path: str, data: object, base: ConstantSettings) -> ConstantSettings:
    s = Section(file, path, data, CONSTANT_KEYS)
    return ConstantSettings(
        enabled=s.bool_("enabled", base.enabled),
        near_constant=s.number("near_constant", base.near_constant, 0.5, 1.0),
    )


def _row_count(file: Path, path: str, data: object, base: RowCountSettings) -> RowCountSettings:
    s = Section(file, path, data, ROW_COUNT_KEYS)
    history = s.int_("history", base.history, 2) or base.history
    min_history = s.int_("min_history", base.min_history, 2) or base.min_history
    if min_history > history:
        raise s.error("min_history", f"is above history ({history})", s.data.get("min_history", min_history))
    warn = s.number("warn_z", base.warn_z, 0.0)
    fail = s.number("fail_z", base.fail_z, 0.0)
    if warn > fail:
        raise s.error("fail_z", f"is below warn_z ({warn:g})", s.data.get("fail_z", fail))
    return RowCountSettings(s.bool_("enabled", base.enabled), history, min_history, warn, fail)


def _ingest(file: Path, path: str, data: object, base: IngestShareSettings) -> IngestShareSettings:
    s = Section(file, path, data, INGEST_KEYS)
    warn = s.number("warn_share", base.warn_share, 0.0, 1.0)
    fail = s.number("fail_share", base.fail_share, 0.0, 1.0)
    if warn > fail:
        raise s.error("fail_share", f"is below warn_share ({warn:g})", s.data.get("fail_share", fail))
    return IngestShareSettings(enabled=s.bool_("enabled", base.enabled), warn_share=warn, fail_share=fail)


def _feature_checks(file: Path, s: Section, base: FeatureQuality, per_feature: bool) -> FeatureQuality:
    """The four per-feature checks of a mapping (the section itself, or one feature's), over `base`."""
    return FeatureQuality(
        range=_range(file, s.key("range"), s.data.get("range"), base.range, per_feature),
        categories=_share(file, s.key("categories"), s.data.get("categories"), base.categories),
        missing=_share(file, s.key("missing"), s.data.get("missing"), base.missing),
        constant=_constant(file, s.key("constant"), s.data.get("constant"), base.constant),
    )


def _features(
    file: Path, s: Section, defaults: FeatureQuality, known: tuple[str, ...] | None
) -> dict[str, FeatureQuality]:
    raw = s.data.get("features")
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise s.error("features", "expected a mapping of feature names to their checks", raw)
    out = {}
    for name, checks in raw.items():
        if not isinstance(name, str) or not name:
            raise s.error("features", "expected feature names as keys", name)
        if known is not None and name not in known:
            raise s.error(f"features.{name}", f"is not a feature of this monitor ({', '.join(known)})", name)
        fs = Section(file, s.key(f"features.{name}"), checks, FEATURE_CHECKS)
        out[name] = _feature_checks(file, fs, defaults, per_feature=True)
    return out


def _section(file: Path, s: Section, name: str, parse: Any, base: T) -> T:
    result: T = parse(file, s.key(name), s.data.get(name), base)
    return result


def parse_quality(
    file: Path, path: str, data: object, features: tuple[str, ...] | None = None
) -> QualitySettings:
    """The `quality:` section (absent: every check on with its default bars). `features`, when the monitor
    lists them, are the names `quality.features` may override (checked here, so a typo is an error)."""
    s = Section(file, path, data, QUALITY_KEYS)
    base = QualitySettings()
    defaults = _feature_checks(file, s, base.defaults, per_feature=False)
    return dataclasses.replace(
        base,
        enabled=s.bool_("enabled", True),
        defaults=defaults,
        features=_features(file, s, defaults, features),
        row_count=_section(file, s, "row_count", _row_count, base.row_count),
        parse=_section(file, s, "parse", _ingest, base.parse),
        type=_section(file, s, "type", _ingest, base.type),
        duplicates=_section(file, s, "duplicates", _ingest, base.duplicates),
    )
