"""Evidence that driftwatch's drift decisions don't cry wolf, and what they do detect (issue 3 item 5, issue 12).

Run:  .venv/bin/python benchmarks/decision_evidence.py [--quick] [--out docs/decision-evidence.json]

Everything goes through the functions the pipeline and `driftwatch compare` call: `numeric_profile` /
`categorical_profile` once for a fixed reference, `numeric_feature_stats` / `categorical_feature_stats` per
window, and `judge_window` (the decision rules with the bars learned from the reference's counts). Nothing is re-implemented here, so a
change to the statistics or the rules shows up in these numbers.

Two experiments share the same windows:

- **False alarms.** Windows drawn from exactly the reference's distributions (20 features: normal,
  log-normal, tie-heavy integers, 5 % / 1 % missing values, categoricals). Any `drift` in such a window is a
  false alarm.
- **Detection power.** The same window with one feature replaced by a fresh sample from a changed
  distribution (mean shift, variance change, new category, missing-rate jump). The other 19 features are
  the null window's own features: they are independent draws from the null either way, and reusing them
  means a 1M-row power window costs one feature's statistics instead of twenty. The affected feature is
  still judged inside its full 20-feature family, so the multiple-testing correction is the real one.

Seeds are derived from (seed, experiment, window size, window index), so any window can be reproduced on
its own and the result does not depend on how the work is split between processes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

import numba
import numpy as np
import scipy
from scipy import stats as sps

from driftwatch.stats.decision import Thresholds, WindowDecision
from driftwatch.stats.feature_drift import FeatureDrift, categorical_feature_stats, numeric_feature_stats
from driftwatch.stats.judgement import judge_window
from driftwatch.stats.profile import (
    CategoricalProfile,
    NumericProfile,
    categorical_profile,
    numeric_profile,
)

DEFAULT_SEED: Final[int] = 20_240_605
REFERENCE_ROWS: Final[int] = 200_000

# Integer status codes so per-window results travel between processes as small int8 arrays.
STATUS_CODE: Final[dict[str, int]] = {"insufficient_data": -1, "ok": 0, "warn": 1, "drift": 2}
DATASET_STATUSES: Final[tuple[str, ...]] = ("ok", "warn", "drift", "insufficient_data")

# Seed streams: distinct first words keep the reference, null windows and changed features independent.
_STREAM_REFERENCE: Final[int] = 0
_STREAM_WINDOW: Final[int] = 1
_STREAM_CHANGE: Final[int] = 2

Distribution = Literal[
    "normal", "lognormal", "poisson", "integers", "geometric", "bernoulli", "uniform", "exponential"
]


# ---------------------------------------------------------------------------------------------- features


@dataclass(frozen=True)
class NumericFeature:
    """A numeric column: a distribution with its parameters and an independent share of missing (NaN) rows."""

    name: str
    distribution: Distribution
    params: tuple[float, ...]
    missing: float = 0.0

    @property
    def kind(self) -> Literal["numeric"]:
        return "numeric"

    def describe(self) -> str:
        params = ", ".join(f"{p:g}" for p in self.params)
        extra = f", {self.missing:.0%} NaN" if self.missing else ""
        return f"{self.distribution}({params}){extra}"

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """n rows; the number missing is Binomial(n, missing), as for independent per-row missingness.

        The NaNs are appended at the end: every statistic sorts or bins the window, so row order is moot.
        """
        n_missing = int(rng.binomial(n, self.missing)) if self.missing > 0.0 else 0
        k = n - n_missing
        p = self.params
        match self.distribution:
            case "normal":
                values = rng.normal(p[0], p[1], k)
            case "lognormal":
                values = rng.lognormal(p[0], p[1], k)
            case "poisson":
                values = rng.poisson(p[0], k).astype(np.float64)
            case "integers":
                values = rng.integers(int(p[0]), int(p[1]), size=k, endpoint=True).astype(np.float64)
            case "geometric":
                values = rng.geometric(p[0], k).astype(np.float64)
            case "bernoulli":
                values = (rng.random(k) < p[0]).astype(np.float64)
            case "uniform":
                values = rng.uniform(p[0], p[1], k)
            case "exponential":
                values = rng.exponential(p[0], k)
            case _:
                raise ValueError(f"unknown distribution {self.distribution!r}")
        if n_missing:
            values = np.concatenate([values, np.full(n_missing, np.nan)])
        return values


@dataclass(frozen=True)
class CategoricalFeature:
    """A categorical column: categories (None = missing) and their probabilities."""

    name: str
    categories: tuple[str | None, ...]
    probabilities: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.categories) != len(self.probabilities) or not math.isclose(sum(self.probabilities), 1.0):
            raise ValueError(f"{self.name}: need one probability per category, summing to 1")

    @property
    def kind(self) -> Literal["categorical"]:
        return "categorical"

    def describe(self) -> str:
        named = sum(c is not None for c in self.categories)
        missing = sum(p for c, p in zip(self.categories, self.probabilities, strict=True) if c is None)
        extra = f", {missing:.0%} None" if missing else ""
        return f"categorical({named} categories, largest {max(self.probabilities):.0%}{extra})"

    def draw(self, rng: np.random.Generator, n: int) -> dict[str | None, int]:
        """Value counts of n independent rows (one multinomial draw: what a window's GROUP BY gives)."""
        counts = rng.multinomial(n, np.asarray(self.probabilities))
        return {c: int(k) for c, k in zip(self.categories, counts, strict=True)}

    def with_new_category(self, share: float, name: str = "NEW") -> CategoricalFeature:
        """The same feature with `share` of the rows in a category the reference never had."""
        scaled = tuple(p * (1.0 - share) for p in self.probabilities)
        return replace(self, categories=(*self.categories, name), probabilities=(*scaled, share))


Feature = NumericFeature | CategoricalFeature


def _zipf(name: str, k: int, exponent: float, missing: float) -> CategoricalFeature:
    weights = 1.0 / np.arange(1, k + 1) ** exponent
    shares = (1.0 - missing) * weights / weights.sum()
    return CategoricalFeature(
        name, (*(f"c{i:02d}" for i in range(k)), None), (*(float(s) for s in shares), missing)
    )


# The feature a change is applied to is named after its role, so the tables read on their own.
SHIFT_TARGET = NumericFeature("normal_target", "normal", (10.0, 2.0))
MISSING_TARGET = NumericFeature("normal_missing1", "normal", (50.0, 10.0), missing=0.01)
CATEGORY_TARGET = CategoricalFeature("cat_small", ("a", "b", "c", "d"), (0.5, 0.3, 0.15, 0.05))

FEATURES: Final[tuple[Feature, ...]] = (
    SHIFT_TARGET,
    NumericFeature("normal_b", "normal", (100.0, 15.0)),
    NumericFeature("normal_c", "normal", (-3.0, 0.5)),
    NumericFeature("normal_d", "normal", (0.0, 1.0)),
    NumericFeature("lognormal_a", "lognormal", (0.0, 1.0)),
    NumericFeature("lognormal_b", "lognormal", (3.0, 0.5)),
    NumericFeature("lognormal_heavy", "lognormal", (0.0, 2.0)),
    # Tie-heavy integers: quantile edges collapse (Poisson(0.7) has 3 distinct edges) and KS is discrete.
    NumericFeature("poisson_small", "poisson", (0.7,)),
    NumericFeature("poisson_mid", "poisson", (4.0,)),
    NumericFeature("rating_1_5", "integers", (1.0, 5.0)),
    NumericFeature("geometric", "geometric", (0.3,)),
    NumericFeature("binary_15", "bernoulli", (0.15,)),
    NumericFeature("normal_nan5", "normal", (0.0, 1.0), missing=0.05),
    NumericFeature("lognormal_nan5", "lognormal", (1.0, 0.8), missing=0.05),
    NumericFeature("poisson_nan5", "poisson", (2.0,), missing=0.05),
    MISSING_TARGET,
    NumericFeature("uniform", "uniform", (0.0, 1.0)),
    NumericFeature("exponential", "exponential", (1.0,)),
    CATEGORY_TARGET,
    # A long tail: its rarest categories hold ~1 % of rows, so small windows often miss some of them.
    _zipf("cat_zipf", 20, 1.2, missing=0.05),
)


@dataclass(frozen=True)
class Change:
    """One feature replaced by a changed version of itself; `label` names the change in the tables."""

    label: str
    feature: str
    changed: Feature


def _shift(sigmas: float) -> Change:
    mean, sd = SHIFT_TARGET.params
    return Change(
        f"mean +{sigmas:g}σ", SHIFT_TARGET.name, replace(SHIFT_TARGET, params=(mean + sigmas * sd, sd))
    )


CHANGES: Final[tuple[Change, ...]] = (
    _shift(0.1),
    _shift(0.2),
    _shift(0.3),
    _shift(0.5),
    _shift(0.75),
    Change("σ × 1.5", SHIFT_TARGET.name, replace(SHIFT_TARGET, params=(SHIFT_TARGET.params[0], 3.0))),
    Change("new category 10%", CATEGORY_TARGET.name, CATEGORY_TARGET.with_new_category(0.10)),
    Change("missing 1% → 20%", MISSING_TARGET.name, replace(MISSING_TARGET, missing=0.20)),
)


# ---------------------------------------------------------------------------------------------- plans


@dataclass(frozen=True)
class SizePlan:
    """Windows of `rows` rows: how many null windows, how many of them also carry every change, and which
    threshold settings judge them (the same statistics are decided once per setting)."""

    rows: int
    windows: int
    power_windows: int
    thresholds: tuple[tuple[str, Thresholds], ...] = (("default", Thresholds()),)

    def __post_init__(self) -> None:
        if not 0 <= self.power_windows <= self.windows:
            raise ValueError(f"power_windows must be in [0, windows], got {self.power_windows}")


@dataclass(frozen=True)
class EvidencePlan:
    seed: int = DEFAULT_SEED
    reference_rows: int = REFERENCE_ROWS
    sizes: tuple[SizePlan, ...] = ()
    features: tuple[Feature, ...] = FEATURES
    changes: tuple[Change, ...] = CHANGES


# The same rules without the learned bars, to show what learning them changes where it matters: small windows.
FIXED_BARS: Final[Thresholds] = Thresholds(learned_thresholds=False)
# The same rules without the Wasserstein warn floor (issue 12.6), to show what it adds: small shifts at
# large windows, which the PSI-calibrated floors call harmless and the peers flag.
NO_W1_FLOOR: Final[Thresholds] = Thresholds(w1_warn_effect=math.inf)
# The previous default, for the 150-row windows it left unjudged.
OLD_MIN_ROWS: Final[Thresholds] = Thresholds(min_rows=300)

FULL_PLAN: Final[EvidencePlan] = EvidencePlan(
    sizes=(
        # 150 rows: a daily window of a small model, judged by default since min_rows is 100.
        SizePlan(
            150,
            2000,
            500,
            (("default", Thresholds()), ("fixed bars", FIXED_BARS), ("min_rows=300", OLD_MIN_ROWS)),
        ),
        SizePlan(1_000, 2000, 500, (("default", Thresholds()), ("no W1 floor", NO_W1_FLOOR))),
        # The edges of min_rows (100): its smallest judged size, and 80 rows judged with min_rows lowered, to
        # show why smaller windows are not judged. Run on their own with --only-rows 80,100.
        SizePlan(100, 2000, 500),
        SizePlan(80, 2000, 500, (("min_rows=50", Thresholds(min_rows=50)),)),
        SizePlan(5_000, 2000, 500, (("default", Thresholds()), ("no W1 floor", NO_W1_FLOOR))),
        SizePlan(1_000_000, 500, 100, (("default", Thresholds()), ("no W1 floor", NO_W1_FLOOR))),
    )
)

QUICK_PLAN: Final[EvidencePlan] = EvidencePlan(
    sizes=(
        SizePlan(150, 200, 50, (("default", Thresholds()), ("fixed bars", FIXED_BARS))),
        SizePlan(1_000, 200, 50),
        SizePlan(5_000, 200, 50, (("default", Thresholds()), ("no W1 floor", NO_W1_FLOOR))),
        SizePlan(100_000, 40, 20),
    )
)


# ---------------------------------------------------------------------------------------------- simulation

Profile = NumericProfile | CategoricalProfile

# Per-process cache: a worker builds the reference once for all the chunks it runs.
_PROFILES: dict[tuple[int, int, tuple[Feature, ...]], dict[str, Profile]] = {}


def reference_profiles(seed: int, reference_rows: int, features: Sequence[Feature]) -> dict[str, Profile]:
    """The fixed reference of a run, profiled once per feature as the pipeline does."""
    key = (seed, reference_rows, tuple(features))
    if key not in _PROFILES:
        rng = np.random.default_rng([seed, _STREAM_REFERENCE])
        profiles: dict[str, Profile] = {}
        for feature in features:
            if isinstance(feature, NumericFeature):
                profiles[feature.name] = numeric_profile(feature.name, feature.draw(rng, reference_rows))
            else:
                profiles[feature.name] = categorical_profile(feature.name, feature.draw(rng, reference_rows))
        _PROFILES[key] = profiles
    return _PROFILES[key]


def feature_drift(feature: Feature, profile: Profile, rng: np.random.Generator, rows: int) -> FeatureDrift:
    """One fresh window of `feature` and its statistics against the reference profile."""
    if isinstance(feature, NumericFeature):
        assert isinstance(profile, NumericProfile)
        return numeric_feature_stats(profile, feature.draw(rng, rows))
    assert isinstance(profile, CategoricalProfile)
    return categorical_feature_stats(profile, feature.draw(rng, rows))


def _effect(fd: FeatureDrift) -> float:
    """The effect size the test rule of this feature checks: KS D (numeric) or JS distance (categorical)."""
    return fd.get("ks_statistic") if fd.kind == "numeric" else fd.get("js_distance")


def _significant(decision: WindowDecision, alpha: float) -> tuple[bool, bool]:
    """Whether any KS/chi² test, resp. any missing-rate test, has adjusted p < alpha (floors ignored)."""
    tests = any(d.pvalue_adjusted is not None and d.pvalue_adjusted < alpha for d in decision.features)
    missing = any(
        d.missing_pvalue_adjusted is not None and d.missing_pvalue_adjusted < alpha for d in decision.features
    )
    return tests, missing


@dataclass
class ChunkResult:
    """Raw per-window outcomes of windows [start, stop) of one size, per threshold setting."""

    rows: int
    start: int
    stop: int
    # [setting] -> (windows, features) status codes of the null windows
    feature_status: dict[str, np.ndarray]
    # [setting] -> (windows,) dataset status codes
    dataset_status: dict[str, np.ndarray]
    # [setting] -> (windows, 2) any significant test / missing test
    significant: dict[str, np.ndarray]
    # [setting] -> (power windows, changes) status of the changed feature
    change_status: dict[str, np.ndarray]
    # (power windows, changes, 3): psi, effect (D or JS), missing share of the changed feature
    change_stats: np.ndarray
    seconds: float
    cpu_seconds: float  # this process's CPU time: comparable across runs even on a busy machine


@dataclass(frozen=True)
class ChunkTask:
    seed: int
    reference_rows: int
    features: tuple[Feature, ...]
    changes: tuple[Change, ...]
    size: SizePlan
    start: int
    stop: int


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Null windows [start, stop) of one size; those below `power_windows` also get every change."""
    began, cpu_began = time.perf_counter(), time.process_time()
    profiles = reference_profiles(task.seed, task.reference_rows, task.features)
    reference_counts = {name: profile.bin_counts for name, profile in profiles.items()}
    names = [f.name for f in task.features]
    index = {name: i for i, name in enumerate(names)}
    size = task.size
    n = task.stop - task.start
    n_power = max(0, min(task.stop, size.power_windows) - task.start)
    labels = [label for label, _ in size.thresholds]
    feature_status = {label: np.zeros((n, len(names)), dtype=np.int8) for label in labels}
    dataset_status = {label: np.zeros(n, dtype=np.int8) for label in labels}
    significant = {label: np.zeros((n, 2), dtype=bool) for label in labels}
    change_status = {label: np.zeros((n_power, len(task.changes)), dtype=np.int8) for label in labels}
    change_stats = np.full((n_power, len(task.changes), 3), np.nan)

    for row, w in enumerate(range(task.start, task.stop)):
        rng = np.random.default_rng([task.seed, _STREAM_WINDOW, size.rows, w])
        inputs = [feature_drift(f, profiles[f.name], rng, size.rows) for f in task.features]
        for label, thresholds in size.thresholds:
            decision = judge_window(inputs, reference_counts, thresholds)
            feature_status[label][row] = [STATUS_CODE[d.status] for d in decision.features]
            dataset_status[label][row] = STATUS_CODE[decision.status]
            significant[label][row] = _significant(decision, thresholds.alpha)
        if row >= n_power:
            continue
        for c, change in enumerate(task.changes):
            crng = np.random.default_rng([task.seed, _STREAM_CHANGE, c, size.rows, w])
            i = index[change.feature]
            changed = feature_drift(change.changed, profiles[change.feature], crng, size.rows)
            change_stats[row, c] = (
                changed.get("psi"),
                _effect(changed),
                changed.get("missing_share_current"),
            )
            window = [*inputs[:i], changed, *inputs[i + 1 :]]
            for label, thresholds in size.thresholds:
                status = judge_window(window, reference_counts, thresholds).features[i].status
                change_status[label][row, c] = STATUS_CODE[status]
    return ChunkResult(
        size.rows,
        task.start,
        task.stop,
        feature_status,
        dataset_status,
        significant,
        change_status,
        change_stats,
        time.perf_counter() - began,
        time.process_time() - cpu_began,
    )


# ---------------------------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class Rate:
    """k of n windows, with the exact (Clopper–Pearson) two-sided 95 % interval of the underlying rate."""

    k: int
    n: int
    rate: float
    ci95: tuple[float, float]

    @classmethod
    def of(cls, k: int, n: int) -> Rate:
        if n == 0:
            return cls(0, 0, math.nan, (math.nan, math.nan))
        ci = sps.binomtest(k, n).proportion_ci(0.95, method="exact")
        return cls(int(k), int(n), k / n, (float(ci.low), float(ci.high)))


@dataclass(frozen=True)
class FalseAlarms:
    rows: int
    thresholds: str
    windows: int
    any_drift: Rate
    any_warn: Rate  # some feature exactly at warn
    any_alarm: Rate  # some feature at warn or drift
    dataset_drift: Rate
    dataset_status: dict[str, int]
    # Diagnostics: what the multiple-testing correction alone would flag, before any effect floor.
    any_significant_test: Rate
    any_significant_missing: Rate
    insufficient_share: float  # of feature decisions
    per_feature: dict[str, dict[str, float]]  # name -> drift / warn / insufficient rates


@dataclass(frozen=True)
class Detection:
    change: str
    feature: str
    rows: int
    thresholds: str
    windows: int
    drift: Rate
    at_least_warn: Rate
    insufficient: Rate
    mean_psi: float
    mean_effect: float  # KS D (numeric) or JS distance (categorical) of the changed feature
    mean_missing_share: float


@dataclass
class Evidence:
    false_alarms: list[FalseAlarms]
    detection: list[Detection]
    seconds_by_size: dict[int, float]
    cpu_seconds_by_size: dict[int, float]
    seconds_total: float
    plan: EvidencePlan
    workers: int

    def false_alarm(self, rows: int, thresholds: str = "default") -> FalseAlarms:
        for fa in self.false_alarms:
            if fa.rows == rows and fa.thresholds == thresholds:
                return fa
        raise KeyError((rows, thresholds))

    def detected(self, change: str, rows: int, thresholds: str = "default") -> Detection:
        for d in self.detection:
            if d.change == change and d.rows == rows and d.thresholds == thresholds:
                return d
        raise KeyError((change, rows, thresholds))


def _summarise(
    plan: EvidencePlan, size: SizePlan, chunks: Sequence[ChunkResult]
) -> tuple[list[FalseAlarms], list[Detection]]:
    chunks = sorted(chunks, key=lambda c: c.start)
    names = [f.name for f in plan.features]
    false_alarms: list[FalseAlarms] = []
    detections: list[Detection] = []
    stats = np.concatenate([c.change_stats for c in chunks])
    for label, _ in size.thresholds:
        status = np.concatenate([c.feature_status[label] for c in chunks])
        dataset = np.concatenate([c.dataset_status[label] for c in chunks])
        sig = np.concatenate([c.significant[label] for c in chunks])
        n = status.shape[0]
        drift, warn = status == STATUS_CODE["drift"], status == STATUS_CODE["warn"]
        insufficient = status == STATUS_CODE["insufficient_data"]
        false_alarms.append(
            FalseAlarms(
                rows=size.rows,
                thresholds=label,
                windows=n,
                any_drift=Rate.of(int(drift.any(axis=1).sum()), n),
                any_warn=Rate.of(int(warn.any(axis=1).sum()), n),
                any_alarm=Rate.of(int((drift | warn).any(axis=1).sum()), n),
                dataset_drift=Rate.of(int((dataset == STATUS_CODE["drift"]).sum()), n),
                dataset_status={s: int((dataset == STATUS_CODE[s]).sum()) for s in DATASET_STATUSES},
                any_significant_test=Rate.of(int(sig[:, 0].sum()), n),
                any_significant_missing=Rate.of(int(sig[:, 1].sum()), n),
                insufficient_share=float(insufficient.mean()),
                per_feature={
                    name: {
                        "drift": float(drift[:, j].mean()),
                        "warn": float(warn[:, j].mean()),
                        "insufficient_data": float(insufficient[:, j].mean()),
                    }
                    for j, name in enumerate(names)
                },
            )
        )
        change_status = np.concatenate([c.change_status[label] for c in chunks])
        m = change_status.shape[0]
        if m == 0:
            continue  # a size planned without power windows has no detection cells
        for c, change in enumerate(plan.changes):
            col = change_status[:, c]
            detections.append(
                Detection(
                    change=change.label,
                    feature=change.feature,
                    rows=size.rows,
                    thresholds=label,
                    windows=m,
                    drift=Rate.of(int((col == STATUS_CODE["drift"]).sum()), m),
                    at_least_warn=Rate.of(int((col >= STATUS_CODE["warn"]).sum()), m),
                    insufficient=Rate.of(int((col == STATUS_CODE["insufficient_data"]).sum()), m),
                    mean_psi=float(np.nanmean(stats[:, c, 0])),
                    mean_effect=float(np.nanmean(stats[:, c, 1])),
                    mean_missing_share=float(np.nanmean(stats[:, c, 2])),
                )
            )
    return false_alarms, detections


def _chunks(plan: EvidencePlan, size: SizePlan, pieces: int) -> list[ChunkTask]:
    edges = np.linspace(0, size.windows, max(1, min(pieces, size.windows)) + 1).round().astype(int)
    return [
        ChunkTask(plan.seed, plan.reference_rows, plan.features, plan.changes, size, int(a), int(b))
        for a, b in zip(edges[:-1], edges[1:], strict=True)
        if b > a
    ]


def run(plan: EvidencePlan, workers: int = 1, progress: bool = False) -> Evidence:
    """Simulate every size of `plan`; `workers` > 1 spreads the windows over processes."""
    began = time.perf_counter()
    false_alarms: list[FalseAlarms] = []
    detections: list[Detection] = []
    seconds: dict[int, float] = {}
    cpu_seconds: dict[int, float] = {}
    pool = (
        ProcessPoolExecutor(
            workers,
            # spawn, not the platform default: fork is unsafe in threaded parents (numba, pytest) and
            # Python >= 3.12 warns about it; every worker rebuilds the same reference from the seed anyway.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=reference_profiles,
            initargs=(plan.seed, plan.reference_rows, plan.features),
        )
        if workers > 1
        else None
    )
    try:
        for size in plan.sizes:
            size_began = time.perf_counter()
            # Several chunks per worker keep both cores busy to the end of each size.
            tasks = _chunks(plan, size, 1 if pool is None else 4 * workers)
            results = list(pool.map(run_chunk, tasks)) if pool is not None else [run_chunk(t) for t in tasks]
            fa, det = _summarise(plan, size, results)
            false_alarms += fa
            detections += det
            seconds[size.rows] = time.perf_counter() - size_began
            cpu_seconds[size.rows] = sum(r.cpu_seconds for r in results)
            if progress:
                print(
                    f"  {size.rows:>9,} rows: {size.windows} windows in {seconds[size.rows]:.0f} s",
                    flush=True,
                )
    finally:
        if pool is not None:
            pool.shutdown()
    return Evidence(
        false_alarms, detections, seconds, cpu_seconds, time.perf_counter() - began, plan, workers
    )


# ---------------------------------------------------------------------------------------------- report


def _pct(rate: Rate) -> str:
    return f"{100 * rate.rate:5.1f}%"


def _upper(rate: Rate) -> str:
    return f"≤{100 * rate.ci95[1]:.2f}%"


def format_report(evidence: Evidence) -> str:
    """The tables docs/decision-evidence.md shows, as plain text."""
    lines: list[str] = []
    plan = evidence.plan
    lines.append(f"reference: {plan.reference_rows:,} rows, {len(plan.features)} features, seed {plan.seed}")
    lines.append("")
    lines.append("False alarms (no drift): share of windows with ...")
    header = (
        f"{'rows':>9}  {'thresholds':<26}{'windows':>8}  {'any drift':>9} {'95% upper':>10}  "
        f"{'any warn':>8}  {'warn|drift':>10}  {'dataset drift':>13}  {'any p_adj<α':>11}  {'insufficient':>12}"
    )
    lines += [header, "-" * len(header)]
    for fa in evidence.false_alarms:
        lines.append(
            f"{fa.rows:>9,}  {fa.thresholds:<26}{fa.windows:>8}  {_pct(fa.any_drift):>9} "
            f"{_upper(fa.any_drift):>10}  {_pct(fa.any_warn):>8}  {_pct(fa.any_alarm):>10}  {_pct(fa.dataset_drift):>13}  "
            f"{_pct(fa.any_significant_test):>11}  {100 * fa.insufficient_share:>11.1f}%"
        )
    lines.append("")
    lines.append("Per-feature warn / drift rate in no-drift windows (%)")
    judged = [fa for fa in evidence.false_alarms if fa.insufficient_share < 1.0]
    header = f"{'feature':<17}" + "".join(f"{f'{fa.rows:,} {fa.thresholds}':>30}" for fa in judged)
    lines += [header, "-" * len(header)]
    for feature in plan.features:
        cells = []
        for fa in judged:
            r = fa.per_feature[feature.name]
            cell = f"{100 * r['warn']:.2f} / {100 * r['drift']:.2f}"
            cells.append(f"{cell:>30}")
        lines.append(f"{feature.name:<17}" + "".join(cells))
    lines.append("")
    lines.append("Detection: share of windows where the changed feature is drift (and at least warn)")
    keys = sorted({(d.rows, d.thresholds) for d in evidence.detection}, key=lambda k: (k[0], k[1]))
    header = f"{'change':<18}" + "".join(f"{f'{rows:,} {label}':>30}" for rows, label in keys)
    lines += [header, "-" * len(header)]
    for change in plan.changes:
        cells = []
        for rows, label in keys:
            d = evidence.detected(change.label, rows, label)
            cells.append(f"{f'{_pct(d.drift).strip()} ({_pct(d.at_least_warn).strip()})':>30}")
        lines.append(f"{change.label:<18}" + "".join(cells))
    windows = ", ".join(
        f"{rows:,} rows: {evidence.detected(plan.changes[0].label, rows, label).windows}"
        for rows, label in dict(keys).items()
    )
    lines.append(f"windows per cell — {windows}")
    lines.append("")
    lines.append("Mean statistics of the changed feature (psi / KS D or JS / missing share)")
    header = f"{'change':<18}" + "".join(f"{f'{rows:,}':>24}" for rows in sorted({k[0] for k in keys}))
    lines += [header, "-" * len(header)]
    for change in plan.changes:
        cells = []
        for rows in sorted({k[0] for k in keys}):
            d = next(d for d in evidence.detection if d.change == change.label and d.rows == rows)
            cells.append(f"{f'{d.mean_psi:.3f} / {d.mean_effect:.3f} / {d.mean_missing_share:.3f}':>24}")
        lines.append(f"{change.label:<18}" + "".join(cells))
    lines.append("")
    timing = ", ".join(
        f"{rows:,}: {s:.0f} s ({evidence.cpu_seconds_by_size[rows]:.0f} s CPU)"
        for rows, s in evidence.seconds_by_size.items()
    )
    lines.append(f"time: {evidence.seconds_total:.0f} s with {evidence.workers} worker(s); {timing}")
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = None
    cpu_model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_available": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "numba": numba.__version__,
        "git_commit": commit,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, Thresholds):
        return {f: getattr(value, f) for f in value.__dataclass_fields__}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN
    return value


def to_json(evidence: Evidence, command: str) -> dict[str, Any]:
    plan = evidence.plan
    return {
        "command": command,
        "machine": machine_info(),
        "seed": plan.seed,
        "reference_rows": plan.reference_rows,
        "seconds_total": evidence.seconds_total,
        "seconds_by_size": evidence.seconds_by_size,
        "cpu_seconds_by_size": evidence.cpu_seconds_by_size,
        "workers": evidence.workers,
        "sizes": [
            {
                "rows": s.rows,
                "windows": s.windows,
                "power_windows": s.power_windows,
                "thresholds": {label: _jsonable(t) for label, t in s.thresholds},
            }
            for s in plan.sizes
        ],
        "features": {f.name: {"kind": f.kind, "distribution": f.describe()} for f in plan.features},
        "changes": [
            {"label": c.label, "feature": c.feature, "changed": c.changed.describe()} for c in plan.changes
        ],
        "false_alarms": [_jsonable(asdict(fa)) for fa in evidence.false_alarms],
        "detection": [_jsonable(asdict(d)) for d in evidence.detection],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer windows and at most 100k rows (~1 min)")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: CPUs)")
    parser.add_argument(
        "--only-rows", help="comma-separated window sizes: run only these sizes of the plan (e.g. 80,100)"
    )
    args = parser.parse_args(argv)
    plan = replace(QUICK_PLAN if args.quick else FULL_PLAN, seed=args.seed)
    if args.only_rows:
        wanted = {int(r) for r in args.only_rows.split(",")}
        plan = replace(plan, sizes=tuple(s for s in plan.sizes if s.rows in wanted))
        if not plan.sizes:
            parser.error(f"--only-rows {args.only_rows}: no such size in the plan")
    print(f"decision evidence ({'quick' if args.quick else 'full'}), {args.workers} worker(s)", flush=True)
    evidence = run(plan, workers=args.workers, progress=True)
    print()
    print(format_report(evidence))
    if args.out is not None:
        command = " ".join(["benchmarks/decision_evidence.py", *(argv if argv is not None else sys.argv[1:])])
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(to_json(evidence, command), indent=1, ensure_ascii=False) + "\n")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
