"""A monitor's `multivariate:` section: drift in how features move together (docs/configuration.md,
"Multivariate drift"; the methods in docs/statistics-decisions.md).

Off by default. Why: the PCA reconstruction error is cheap (milliseconds per window), but the domain classifier
fits five small gradient-boosted models per window (about a second of one core, docs/benchmarks.md), and the
reference profile needs one more read of the reference file; a monitor opts in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from driftwatch.config.sections import Section
from driftwatch.stats.multivariate import (
    DEFAULT_EXPLAINED_VARIANCE,
    DEFAULT_TOP_CATEGORIES,
    METHODS,
)

MULTIVARIATE_KEYS = (
    "enabled",
    "methods",
    "explained_variance",
    "margin",
    "reference_rows",
    "max_rows",
    "classifier_rows",
    "folds",
    "min_rows",
    "top_categories",
)
DEFAULT_MARGIN = 0.02
"""A window is drifted when the classifier's AUC interval lies above 0.52: an AUC of 0.52 is a difference no
one acts on, while a broken joint structure typically gives 0.7 or more (docs/decision-evidence.md)."""


@dataclass(frozen=True)
class MultivariateSettings:
    """Whether and how windows are judged on all features jointly."""

    enabled: bool = False
    methods: tuple[str, ...] = METHODS
    explained_variance: float = DEFAULT_EXPLAINED_VARIANCE
    margin: float = DEFAULT_MARGIN
    reference_rows: int = (
        20_000  # reference rows sampled for the profile (a quarter fit the PCA, at least 2,000 and at most
        # half; the rest set the bars: stats.multivariate.fit_profile)
    )
    # A window's rows beyond this are judged on a seeded random sample (also capped at half the held-out
    # reference rows, where the bars can still be learned: 7,500 of the default 20,000).
    max_rows: int = 5_000
    classifier_rows: int = 2_000  # rows of each side (reference, window) the classifier sees
    folds: int = 5
    min_rows: int | None = None  # None: the monitor's min_rows
    top_categories: int = DEFAULT_TOP_CATEGORIES


def _methods(s: Section) -> tuple[str, ...]:
    raw = s.data.get("methods")
    if raw is None:
        return METHODS
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise s.error("methods", f"expected a non-empty list of {', '.join(METHODS)}", raw)
    for value in values:
        if value not in METHODS:
            raise s.error("methods", f"unknown method {value!r}; expected {', '.join(METHODS)}", raw)
    if len(set(values)) != len(values):
        raise s.error("methods", "lists a method twice", raw)
    return tuple(values)


def parse_multivariate(file: Path, path: str, data: object) -> MultivariateSettings:
    """The `multivariate:` section (absent: off). `true`/`false` alone switch it with the defaults."""
    if data is None:
        return MultivariateSettings()
    if isinstance(data, bool):
        return MultivariateSettings(enabled=data)
    s = Section(file, path, data, MULTIVARIATE_KEYS)
    defaults = MultivariateSettings()
    explained = s.number("explained_variance", defaults.explained_variance, 0.0, 1.0)
    if not 0.0 < explained < 1.0:
        raise s.error("explained_variance", "expected a number between 0 and 1 (exclusive)", explained)
    settings = MultivariateSettings(
        # A section written out means "on" unless it says `enabled: false`.
        enabled=s.bool_("enabled", True),
        methods=_methods(s),
        explained_variance=explained,
        margin=s.number("margin", defaults.margin, 0.0, 0.5),
        reference_rows=s.int_("reference_rows", defaults.reference_rows, 100) or defaults.reference_rows,
        max_rows=s.int_("max_rows", defaults.max_rows, 10) or defaults.max_rows,
        classifier_rows=s.int_("classifier_rows", defaults.classifier_rows, 10) or defaults.classifier_rows,
        folds=s.int_("folds", defaults.folds, 2) or defaults.folds,
        min_rows=s.int_("min_rows", None, 1),
        top_categories=s.int_("top_categories", defaults.top_categories, 1) or defaults.top_categories,
    )
    return settings
