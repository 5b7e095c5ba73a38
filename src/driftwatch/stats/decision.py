"""Per-feature and per-window drift decisions from already computed statistics.

Pure: statistics and thresholds in, statuses and human-readable reasons out. Every rule pairs a size of
change with, where one exists, a significance test, because at large windows p-values flag harmless shifts
and at small windows effect sizes are noise. The defaults and why they were chosen are in
docs/statistics-decisions.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from driftwatch.stats.chi2 import two_proportion_pvalue
from driftwatch.stats.exact_tests import binomtest_pvalue, fisher_exact_pvalue
from driftwatch.stats.model_outputs import OUTPUT_FEATURE as OUTPUT_FEATURE
from driftwatch.stats.model_outputs import OUTPUT_FEATURES as OUTPUT_FEATURES
from driftwatch.stats.model_outputs import PREDICTION_FEATURE as PREDICTION_FEATURE
from driftwatch.stats.multiple_testing import CORRECTIONS, Correction, adjusted_pvalues
from driftwatch.stats.reference_thresholds import (
    DEFAULT_QUANTILE,
    DEFAULT_WINDOW_TOLERANCE,
    LearnedThreshold,
    needs_recalibration,
)

Status = Literal["ok", "warn", "drift", "insufficient_data"]
Kind = Literal["numeric", "categorical"]
Role = Literal["input", "output"]
"""An input feature, or the model's own output (its score, or its decision mix) watched alongside them."""

LEARNABLE_STATISTICS: tuple[str, ...] = ("psi", "ks_statistic", "js_distance")
"""Statistics a learned threshold can apply to: the ones with fixed bars in ``Thresholds``."""

_SEVERITY: dict[Status, int] = {"insufficient_data": -1, "ok": 0, "warn": 1, "drift": 2}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Decision settings; the defaults and their rationale are in docs/statistics-decisions.md.

    Bars come in warn/drift pairs. The "*_min_effect" fields are the drift floors on an effect size, which a
    significant p-value must also clear; "*_warn_effect" the lower floor for a warning.
    """

    psi_warn: float = 0.1
    psi_drift: float = 0.25
    alpha: float = 0.05
    correction: Correction = "bh"
    ks_warn_effect: float = 0.13
    ks_min_effect: float = 0.2
    js_warn_effect: float = 0.13
    js_min_effect: float = 0.21
    # The peers' sensitivity (Evidently flags normalised W1 > 0.1): a significant KS with the mass moved by
    # at least a tenth of a reference standard deviation is a warning, well below the PSI-calibrated D floors.
    w1_warn_effect: float = 0.1
    missing_warn_change: float = 0.05
    missing_drift_change: float = 0.10
    # Learned bars make small windows judgeable: 100 rows is where the evidence's false-alarm budget still
    # holds (docs/decision-evidence.md); below it a window says "insufficient_data" instead of guessing.
    min_rows: int = 100
    dataset_drift_share: float = 0.5
    learned_thresholds: bool = True
    learned_quantile: float = DEFAULT_QUANTILE
    learned_drift_quantile: float = 0.999
    learned_window_tolerance: float = DEFAULT_WINDOW_TOLERANCE

    def __post_init__(self) -> None:
        pairs = (
            ("psi_warn", "psi_drift", math.inf),
            ("ks_warn_effect", "ks_min_effect", 1.0),
            ("js_warn_effect", "js_min_effect", 1.0),
            ("missing_warn_change", "missing_drift_change", 1.0),
        )
        for low_name, high_name, ceiling in pairs:
            low, high = getattr(self, low_name), getattr(self, high_name)
            if not 0.0 <= low <= high <= ceiling:
                raise ValueError(f"need 0 <= {low_name} ({low}) <= {high_name} ({high}) <= {ceiling}")
        if not 0.0 <= self.w1_warn_effect:
            raise ValueError(f"w1_warn_effect must be >= 0, got {self.w1_warn_effect!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {CORRECTIONS}, got {self.correction!r}")
        if self.min_rows < 1:
            raise ValueError(f"min_rows must be >= 1, got {self.min_rows!r}")
        if not 0.0 < self.dataset_drift_share <= 1.0:
            raise ValueError(f"dataset_drift_share must be in (0, 1], got {self.dataset_drift_share!r}")
        if not 0.5 <= self.learned_quantile < 1.0:
            raise ValueError(f"learned_quantile must be in [0.5, 1), got {self.learned_quantile!r}")
        if not self.learned_quantile <= self.learned_drift_quantile < 1.0:
            raise ValueError(
                f"need learned_quantile ({self.learned_quantile}) <= learned_drift_quantile "
                f"({self.learned_drift_quantile}) < 1"
            )
        if self.learned_window_tolerance < 1.0:
            raise ValueError(f"learned_window_tolerance must be >= 1, got {self.learned_window_tolerance!r}")


@dataclass(frozen=True, slots=True)
class FeatureStats:
    """One feature's statistics for one window; None means "not computed".

    ``rows`` counts the window's rows including missing values (PSI, chi² and JS layouts include a missing
    bin); KS is computed on the valid rows, ``rows × (1 − missing_share_current)``. ``reference_rows`` makes
    the missing-rate test two-sample; without it the reference rate is taken as exact.
    """

    name: str
    kind: Kind
    rows: int
    psi: float | None = None
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    chi2_statistic: float | None = None
    chi2_pvalue: float | None = None
    js_distance: float | None = None
    hellinger: float | None = None
    wasserstein_norm: float | None = None
    missing_share_reference: float | None = None
    missing_share_current: float | None = None
    unseen_share: float | None = None
    reference_rows: int | None = None
    role: Role = "input"
    type_change: str | None = None  # set when the values changed type (stats.categories.type_change)

    def __post_init__(self) -> None:
        if self.role not in ("input", "output"):
            raise ValueError(f"{self.name}: role must be 'input' or 'output', got {self.role!r}")
        if self.kind not in ("numeric", "categorical"):
            raise ValueError(f"{self.name}: kind must be 'numeric' or 'categorical', got {self.kind!r}")
        if self.rows < 0:
            raise ValueError(f"{self.name}: rows must be >= 0, got {self.rows}")
        if self.kind == "numeric" and (self.chi2_statistic is not None or self.chi2_pvalue is not None):
            raise ValueError(f"{self.name}: chi² is a categorical test; numeric features use KS")
        if self.kind == "categorical" and (self.ks_statistic is not None or self.ks_pvalue is not None):
            raise ValueError(f"{self.name}: KS is a numeric test; categorical features use chi²")
        if (self.ks_statistic is None) != (self.ks_pvalue is None):
            raise ValueError(f"{self.name}: ks_statistic and ks_pvalue come together")
        if (self.missing_share_reference is None) != (self.missing_share_current is None):
            raise ValueError(f"{self.name}: missing shares come in pairs (reference and current)")
        for field in ("ks_pvalue", "chi2_pvalue", "missing_share_reference", "missing_share_current"):
            value = getattr(self, field)
            if value is not None and not (math.isnan(value) or 0.0 <= value <= 1.0):
                raise ValueError(f"{self.name}: {field} must be in [0, 1] or NaN, got {value!r}")

    @property
    def valid_rows(self) -> int:
        """Rows with a value: those the KS test saw."""
        if self.missing_share_current is None or math.isnan(self.missing_share_current):
            return self.rows
        return round(self.rows * (1.0 - self.missing_share_current))


@dataclass(frozen=True, slots=True)
class Check:
    """The outcome of one rule on one feature: which statistic, the level it points to, and why."""

    rule: Literal["rows", "psi", "ks", "chi2", "missing", "type"]
    level: Status
    reason: str


@dataclass(frozen=True, slots=True)
class FeatureDecision:
    """A feature's status, the adjusted p-values behind it, and a reason naming the crossed thresholds."""

    name: str
    kind: Kind
    status: Status
    reason: str
    pvalue_adjusted: float | None
    missing_pvalue_adjusted: float | None
    checks: tuple[Check, ...]
    role: Role = "input"


@dataclass(frozen=True, slots=True)
class WindowDecision:
    """Per-feature decisions and the dataset-level verdict for one window."""

    features: tuple[FeatureDecision, ...]
    status: Status
    reason: str
    drift_share: float
    n_evaluated: int
    n_drift: int
    n_warn: int
    n_insufficient: int

    def feature(self, name: str) -> FeatureDecision:
        """The decision for the feature called ``name``."""
        for decision in self.features:
            if decision.name == name:
                return decision
        raise KeyError(name)


def _fmt(value: float, digits: int = 3) -> str:
    """Compact number for reasons: 3 significant digits, exponents without padding (1e-6, not 1e-06)."""
    if math.isnan(value) or math.isinf(value):
        return str(value)
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


def _fmt_pair(value: float, bar: float) -> tuple[str, str]:
    """Both numbers, with more digits when 3 would print them equal ("0.25 > 0.25" reads as a bug)."""
    for digits in (3, 6, 12):
        shown = (_fmt(value, digits), _fmt(bar, digits))
        if shown[0] != shown[1]:
            return shown
    return shown


def _compare(label: str, value: float, bar: float, op: str) -> str:
    shown_value, shown_bar = _fmt_pair(value, bar)
    return f"{label} {shown_value} {op} {shown_bar}"


@dataclass(frozen=True, slots=True)
class _Bars:
    """Warn and drift bars of one rule, each with the note to print when a learned threshold set it."""

    warn: float
    drift: float
    warn_note: str = ""
    drift_note: str = ""


def _bars(
    statistic: str,
    warn: float,
    drift: float,
    n: int,
    learned_for_feature: Mapping[str, LearnedThreshold],
    tolerance: float,
) -> _Bars:
    """Fixed warn/drift bars, raised (never lowered) to a learned threshold valid for this window size."""
    learned = learned_for_feature.get(statistic)
    if learned is None:
        return _Bars(warn, drift)
    if needs_recalibration(learned.window_size, n, tolerance):
        note = f" (learned threshold for n={learned.window_size} not used at n={n}: recalibrate)"
        return _Bars(warn, drift, note, note)
    note = f" (learned q{_fmt(learned.quantile)} at n={learned.window_size})"
    drift_value, drift_note = learned.value, note
    if learned.drift_value is not None and learned.drift_quantile is not None:
        drift_value = learned.drift_value
        drift_note = f" (learned q{_fmt(learned.drift_quantile)} at n={learned.window_size})"
    return _Bars(
        max(warn, learned.value),
        max(drift, drift_value),
        note if learned.value > warn else "",
        drift_note if drift_value > drift else "",
    )


@dataclass(frozen=True, slots=True)
class _Gate:
    """The feature's own significance test (KS or chi², adjusted), which a PSI warning must also pass."""

    label: str
    p_adjusted: float
    alpha: float

    @property
    def significant(self) -> bool:
        return self.p_adjusted < self.alpha

    def text(self) -> str:
        return _compare(self.label, self.p_adjusted, self.alpha, "<" if self.significant else ">=")


def _psi_check(psi: float, bars: _Bars, gate: _Gate | None = None) -> Check:
    """PSI's bands. PSI has no test of its own, so when the feature has one (KS or chi², adjusted across the
    window's features) PSI's warning and drift also need it significant: one noise bar per feature would add
    up over a window's features (20 features at q0.99 each: 18 % of drift-free windows with a warning), and
    the window-wide correction is what keeps the whole window's false alarms at ``alpha``. Without a test
    (a roll-up from bin counts has no KS), PSI stands on its own, against its learned noise bars."""
    if psi > bars.drift:
        level: Status = "drift"
        head = _compare("psi", psi, bars.drift, ">") + bars.drift_note
    elif psi >= bars.warn:
        level = "warn"
        head = _compare("psi", psi, bars.warn, ">=") + bars.warn_note
    else:
        return Check("psi", "ok", _compare("psi", psi, bars.warn, "<") + bars.warn_note)
    if gate is None:
        return Check("psi", level, head)
    if gate.significant:
        return Check("psi", level, f"{head} and {gate.text()}")
    return Check("psi", "ok", f"{head} but {gate.text()}")


def _known(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _test_check(
    rule: Literal["ks", "chi2"],
    p_label: str,
    p_adjusted: float,
    alpha: float,
    effect_label: str,
    effect: float | None,
    bars: _Bars,
    extra_warn: tuple[str, float | None, float] | None = None,
) -> Check:
    """A significance test that only counts when its effect size also clears a floor.

    ``extra_warn`` (label, value, floor) is a second effect size that can make a significant result a
    warning, never drift: KS's normalised Wasserstein distance.
    """
    if math.isnan(p_adjusted):
        return Check(rule, "ok", f"{rule} p undefined (degenerate table)")
    p_text = _compare(f"{rule} {p_label}", p_adjusted, alpha, "<" if p_adjusted < alpha else ">=")
    if p_adjusted >= alpha:
        return Check(rule, "ok", p_text)
    size = _known(effect)
    extra_label, extra_floor = (extra_warn[0], extra_warn[2]) if extra_warn is not None else ("", math.inf)
    extra = _known(extra_warn[1]) if extra_warn is not None else None
    if size is None and extra is None:
        return Check(rule, "ok", f"{p_text} but {effect_label} unknown (a p-value alone never makes drift)")
    if size is not None and size >= bars.drift:
        return Check(
            rule, "drift", f"{p_text} and {_compare(effect_label, size, bars.drift, '>=')}{bars.drift_note}"
        )
    if size is not None and size >= bars.warn:
        return Check(
            rule, "warn", f"{p_text} and {_compare(effect_label, size, bars.warn, '>=')}{bars.warn_note}"
        )
    if extra is not None and extra >= extra_floor:
        return Check(rule, "warn", f"{p_text} and {_compare(extra_label, extra, extra_floor, '>=')}")
    below = [f"{_compare(effect_label, size, bars.warn, '<')}{bars.warn_note}"] if size is not None else []
    if extra is not None:
        below.append(_compare(extra_label, extra, extra_floor, "<"))
    return Check(rule, "ok", f"{p_text} but {' and '.join(below)}")


def _missing_check(
    before: float, after: float, p_adjusted: float, thresholds: Thresholds, p_label: str
) -> Check:
    change = abs(after - before)
    head = f"missing {_fmt(before)} -> {_fmt(after)}"
    if change < thresholds.missing_warn_change:
        return Check(
            "missing", "ok", f"{head} ({_compare('|change|', change, thresholds.missing_warn_change, '<')})"
        )
    level: Status = "drift" if change >= thresholds.missing_drift_change else "warn"
    floor = thresholds.missing_drift_change if level == "drift" else thresholds.missing_warn_change
    size = _compare("|change|", change, floor, ">=")
    if not p_adjusted < thresholds.alpha:
        return Check(
            "missing", "ok", f"{head} ({size} but {_compare(p_label, p_adjusted, thresholds.alpha, '>=')})"
        )
    return Check("missing", level, f"{head} ({size}, {_compare(p_label, p_adjusted, thresholds.alpha, '<')})")


EXACT_BELOW_EXPECTED = 50
"""Below this many expected missing (or present) rows in the window the missing-rate test is exact: the z-test's
normal tail is too light for a skewed binomial there (5 % missing at 150 rows: 16 missing gives z-test p 0.0013,
exact p 0.004), which made drift-free 150-row windows warn on the missing rule in 1.3 % of cases."""


def missing_rate_pvalue(
    reference_share: float, reference_rows: int | None, current_share: float, current_rows: int
) -> float:
    """The missing-rate test's p-value: the two-proportion z-test (``two_proportion_pvalue``), or an exact
    test when the window expects fewer than ``EXACT_BELOW_EXPECTED`` missing or present rows: Fisher's on the
    2×2 table of counts, or the binomial test against the reference share when its row count is unknown."""
    expected_missing = current_rows * reference_share
    if min(expected_missing, current_rows - expected_missing) >= EXACT_BELOW_EXPECTED or current_rows < 1:
        return two_proportion_pvalue(reference_share, reference_rows, current_share, current_rows)
    current_missing = round(current_share * current_rows)
    if reference_share == 0.0 and current_missing == 0:
        return 1.0  # the common case, a feature that never has missing values: skip the exact test
    if reference_rows is None:
        if reference_share in (0.0, 1.0):  # nothing random: the shares are equal or they are not
            return 1.0 if current_share == reference_share else 0.0
        return binomtest_pvalue(current_missing, current_rows, reference_share)
    reference_missing = round(reference_share * reference_rows)
    table = [
        [reference_missing, reference_rows - reference_missing],
        [current_missing, current_rows - current_missing],
    ]
    return fisher_exact_pvalue(table)


def _adjusted_by_key(
    pvalues: dict[tuple[str, str], float], method: Correction
) -> dict[tuple[str, str], float]:
    keys = list(pvalues)
    adjusted = adjusted_pvalues(np.array([pvalues[k] for k in keys], dtype=np.float64), method)
    return {key: float(p) for key, p in zip(keys, adjusted, strict=True)}


def decide_window(
    features: Sequence[FeatureStats],
    thresholds: Thresholds | None = None,
    learned: Mapping[str, LearnedThreshold | Sequence[LearnedThreshold]] | None = None,
) -> WindowDecision:
    """Status per feature (ok, warn, drift, insufficient_data) and a dataset verdict for one window.

    Rules, each evaluated when its statistics are present (a feature's status is the most severe result;
    its reason lists the rules at that level, or every rule when all are ok):

    - rows < ``min_rows`` → insufficient_data and nothing else is judged;
    - psi ≥ ``psi_warn`` → warn, psi > ``psi_drift`` → drift; when the feature has a KS / chi² test, only
      with that test's adjusted p < ``alpha`` (PSI has no test of its own);
    - KS (numeric, needs ``min_rows`` valid rows) and chi² (categorical): adjusted p < ``alpha`` and the
      effect size (D, resp. JS distance) ≥ the warn / drift floor; for KS also a warning when the
      normalised W1 ≥ ``w1_warn_effect``; a p-value alone never makes drift;
    - missing rate: |missing_cur − missing_ref| ≥ ``missing_warn_change`` / ``missing_drift_change`` and the
      test's adjusted p < ``alpha`` (``missing_rate_pvalue``: exact in small windows).

    KS, chi² and missing-rate p-values of the judged features are adjusted together as one family
    (``correction``), so with no drift a window has any alarm with probability about ``alpha``. A learned
    threshold (keyed by feature name; one, or several on different statistics) raises the bars of the
    statistic it names, never lowers them, and is ignored with a note when the window size is outside its
    tolerance. Dataset: drift share = drifting / judged input features;
    drift when ≥ ``dataset_drift_share``, warn when any feature warns or drifts, insufficient_data when no
    feature could be judged. Model outputs (``role="output"``) get statuses by the same rules, in their own
    p-value families; they never count in the share, and a warning or drifting output makes the window at
    least warn.
    """
    settings = thresholds if thresholds is not None else Thresholds()
    learned_map = _learned_by_feature(learned or {})
    names = [f.name for f in features]
    if len(set(names)) != len(names):
        raise ValueError(f"feature names must be unique in a window, got {names}")

    judged = [f for f in features if f.rows >= settings.min_rows]
    test_p = _test_pvalues(judged, settings.min_rows)
    missing_p = _missing_pvalues(judged)
    # Inputs and model outputs are separate families: the output is a function of the inputs, so its
    # p-value would only dilute the correction the input features get, and it never counts in the share.
    roles = {f.name: f.role for f in features}
    # Within a role, the distribution tests and the missing-rate tests are one family: every alarm of a
    # window passes this one correction, so with no drift anywhere a window has any alarm with probability
    # at most about alpha (the budget docs/decision-evidence.md measures), not alpha per family.
    test_adjusted: dict[str, float] = {}
    missing_adjusted: dict[str, float] = {}
    for role in ("input", "output"):
        family = {("test", n): p for n, p in test_p.items() if roles[n] == role}
        family |= {("missing", n): p for n, p in missing_p.items() if roles[n] == role}
        for (kind, name), adjusted in _adjusted_by_key(family, settings.correction).items():
            (test_adjusted if kind == "test" else missing_adjusted)[name] = adjusted

    decisions = tuple(
        _decide_feature(f, settings, learned_map.get(f.name, {}), test_adjusted, missing_adjusted)
        for f in features
    )
    return _window_verdict(decisions, settings)


def _learned_by_feature(
    learned: Mapping[str, LearnedThreshold | Sequence[LearnedThreshold]],
) -> dict[str, dict[str, LearnedThreshold]]:
    """feature → statistic → learned threshold; refuses a statistic the rules do not use, or one given twice."""
    learned_map: dict[str, dict[str, LearnedThreshold]] = {}
    for feature_name, given in learned.items():
        per_statistic = learned_map.setdefault(feature_name, {})
        for threshold in (given,) if isinstance(given, LearnedThreshold) else given:
            if threshold.statistic not in LEARNABLE_STATISTICS:
                raise ValueError(
                    f"learned threshold for {feature_name!r} is on {threshold.statistic!r}; "
                    f"decisions use learned thresholds on {LEARNABLE_STATISTICS}"
                )
            if threshold.statistic in per_statistic:
                raise ValueError(f"two learned thresholds for {feature_name!r} on {threshold.statistic!r}")
            per_statistic[threshold.statistic] = threshold
    return learned_map


def _test_pvalues(judged: Sequence[FeatureStats], min_rows: int) -> dict[str, float]:
    """The distribution tests' raw p-values: KS (numeric, needs ``min_rows`` valid rows), chi² (categorical)."""
    test_p: dict[str, float] = {}
    for f in judged:
        if f.kind == "numeric" and f.ks_pvalue is not None and f.valid_rows >= min_rows:
            test_p[f.name] = f.ks_pvalue
        elif f.kind == "categorical" and f.chi2_pvalue is not None:
            test_p[f.name] = f.chi2_pvalue
    return test_p


def _missing_pvalues(judged: Sequence[FeatureStats]) -> dict[str, float]:
    """The missing-rate tests' raw p-values, for the features whose missing share can vary."""
    missing_p: dict[str, float] = {}
    for f in judged:
        if f.missing_share_reference is not None and f.missing_share_current is not None:
            if f.missing_share_reference == f.missing_share_current and f.missing_share_current in (0.0, 1.0):
                continue  # nothing varies (no missing values anywhere): no test, so no place in the family
            missing_p[f.name] = missing_rate_pvalue(
                f.missing_share_reference, f.reference_rows, f.missing_share_current, f.rows
            )
    return missing_p


def _decide_feature(
    feature: FeatureStats,
    settings: Thresholds,
    learned: Mapping[str, LearnedThreshold],
    test_adjusted: Mapping[str, float],
    missing_adjusted: Mapping[str, float],
) -> FeatureDecision:
    p_label = "p" if settings.correction == "none" else "p_adj"
    tolerance = settings.learned_window_tolerance
    if feature.type_change:
        # Not drift: a window whose values are of another type than the reference's says nothing about the
        # distribution; it is reported, with the reason, as a window that cannot be judged.
        check = Check("type", "insufficient_data", feature.type_change)
        return FeatureDecision(
            feature.name, feature.kind, check.level, check.reason, None, None, (check,), feature.role
        )
    if feature.rows < settings.min_rows:
        check = Check("rows", "insufficient_data", f"rows {feature.rows} < min_rows {settings.min_rows}")
        return FeatureDecision(
            feature.name, feature.kind, check.level, check.reason, None, None, (check,), feature.role
        )

    checks: list[Check] = []
    ks_judged = (
        feature.kind == "numeric"
        and feature.ks_statistic is not None
        and feature.valid_rows >= settings.min_rows
    )
    gate: _Gate | None = None
    if feature.name in test_adjusted and (ks_judged or feature.kind == "categorical"):
        p_adjusted = test_adjusted[feature.name]
        if not math.isnan(p_adjusted):  # an undefined test gates nothing: PSI then stands alone
            gate = _Gate(
                f"{'ks' if feature.kind == 'numeric' else 'chi2'} {p_label}", p_adjusted, settings.alpha
            )
    if feature.psi is not None and not math.isnan(feature.psi):
        bars = _bars("psi", settings.psi_warn, settings.psi_drift, feature.rows, learned, tolerance)
        checks.append(_psi_check(feature.psi, bars, gate))
    if feature.kind == "numeric" and feature.ks_statistic is not None:
        valid = feature.valid_rows
        if not ks_judged:
            checks.append(
                Check(
                    "ks",
                    "insufficient_data",
                    f"ks skipped: valid rows {valid} < min_rows {settings.min_rows}",
                )
            )
        else:
            bars = _bars(
                "ks_statistic", settings.ks_warn_effect, settings.ks_min_effect, valid, learned, tolerance
            )
            checks.append(
                _test_check(
                    "ks",
                    p_label,
                    test_adjusted[feature.name],
                    settings.alpha,
                    "D",
                    feature.ks_statistic,
                    bars,
                    ("w1", feature.wasserstein_norm, settings.w1_warn_effect),
                )
            )
    if feature.kind == "categorical" and feature.name in test_adjusted:
        bars = _bars(
            "js_distance", settings.js_warn_effect, settings.js_min_effect, feature.rows, learned, tolerance
        )
        checks.append(
            _test_check(
                "chi2", p_label, test_adjusted[feature.name], settings.alpha, "js", feature.js_distance, bars
            )
        )
    if (
        feature.name in missing_adjusted
        and feature.missing_share_reference is not None
        and feature.missing_share_current is not None
    ):
        checks.append(
            _missing_check(
                feature.missing_share_reference,
                feature.missing_share_current,
                missing_adjusted[feature.name],
                settings,
                p_label,
            )
        )

    judged_checks = [c for c in checks if c.level != "insufficient_data"]
    if not judged_checks:
        reason = "; ".join(c.reason for c in checks) or "no statistics to judge"
        status: Status = "insufficient_data"
    else:
        status = max((c.level for c in judged_checks), key=_SEVERITY.__getitem__)
        shown = [c for c in checks if c.level == status] if status != "ok" else checks
        reasons = [c.reason for c in shown]
        if gate is not None and any(c.rule in ("ks", "chi2") for c in shown):
            # The test's own reason follows and starts with the same p-value: say it once.
            reasons = [r.removesuffix(f" and {gate.text()}") for r in reasons]
        reason = "; ".join(reasons)
    return FeatureDecision(
        name=feature.name,
        kind=feature.kind,
        status=status,
        reason=reason,
        pvalue_adjusted=test_adjusted.get(feature.name),
        missing_pvalue_adjusted=missing_adjusted.get(feature.name),
        checks=tuple(checks),
        role=feature.role,
    )


def _window_verdict(all_decisions: tuple[FeatureDecision, ...], settings: Thresholds) -> WindowDecision:
    """The dataset verdict from the input features; a changed model output raises it to at least warn."""
    decisions = [d for d in all_decisions if d.role == "input"]
    outputs_moved = [d for d in all_decisions if d.role == "output" and d.status in ("warn", "drift")]
    output_note = (
        "; model output: " + ", ".join(f"{d.name} {d.status}" for d in outputs_moved) if outputs_moved else ""
    )
    evaluated = [d for d in decisions if d.status != "insufficient_data"]
    drifting = [d.name for d in evaluated if d.status == "drift"]
    warning = [d.name for d in evaluated if d.status == "warn"]
    n_insufficient = len(decisions) - len(evaluated)
    skipped = f"; {n_insufficient} with insufficient data" if n_insufficient else ""
    if not evaluated:
        share = math.nan
        status: Status = "warn" if outputs_moved else "insufficient_data"
        reason = f"no feature could be judged ({len(decisions)} features, min_rows {settings.min_rows})"
        reason += output_note
    else:
        share = len(drifting) / len(evaluated)
        op = ">=" if share >= settings.dataset_drift_share else "<"
        summary = (
            f"{len(drifting)} of {len(evaluated)} judged features drift "
            f"(share {_fmt(share)} {op} {_fmt(settings.dataset_drift_share)})"
        )
        if share >= settings.dataset_drift_share:
            status = "drift"
        elif drifting or warning or outputs_moved:
            status = "warn"
        else:
            status = "ok"
        listed = (f"; drift: {', '.join(drifting)}" if drifting else "") + (
            f"; warn: {', '.join(warning)}" if warning else ""
        )
        reason = summary + listed + skipped + output_note
    return WindowDecision(
        features=all_decisions,
        status=status,
        reason=reason,
        drift_share=share,
        n_evaluated=len(evaluated),
        n_drift=len(drifting),
        n_warn=len(warning),
        n_insufficient=n_insufficient,
    )
