"""Every drift statistic of one feature in one window, from the stored reference profile.

This is the one place the pipeline, `driftwatch compare` and the library call meet the statistics, so a
number means the same thing wherever it is shown.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from driftwatch.stats.binning import numeric_bin_counts_sorted
from driftwatch.stats.categories import type_change
from driftwatch.stats.chi2 import chi2_homogeneity
from driftwatch.stats.decision import OUTPUT_FEATURES, FeatureStats, Kind, Role
from driftwatch.stats.distances import hellinger_distance, js_distance, normalize_w1
from driftwatch.stats.ks_location import WindowEcdf, finite_part, window_ecdf
from driftwatch.stats.ks_w1 import ks_w1_trusted
from driftwatch.stats.profile import CategoricalProfile, NumericProfile, categorical_bins
from driftwatch.stats.psi import psi
from driftwatch.stats.sorting import sorted_valid

NUMERIC_STATISTICS = (
    "psi",
    "ks_statistic",
    "ks_pvalue",
    "js_distance",
    "hellinger",
    "wasserstein_norm",
    "missing_share_reference",
    "missing_share_current",
)
CATEGORICAL_STATISTICS = (
    "psi",
    "chi2_statistic",
    "chi2_pvalue",
    "js_distance",
    "hellinger",
    "missing_share_reference",
    "missing_share_current",
    "unseen_share",
)


@dataclass(frozen=True, eq=False)
class FeatureDrift:
    """The statistics of one feature in one window. `stats` maps statistic name → value (NaN when undefined)."""

    name: str
    kind: Kind
    rows: int
    reference_rows: int
    stats: Mapping[str, float]
    bin_counts: NDArray[np.int64]  # the window's partial counts, mergeable by `+` for roll-ups
    role: Role = "input"  # "output": the model's score or decision mix, watched alongside the inputs
    type_change: str | None = None  # why the values cannot be judged: their type changed (stats.categories)
    # A numeric feature's ECDF steps and D's point, from the window's sorted values and the KS merge: the
    # report draws them without fetching or sorting the window again (a few KB, unlike the values).
    ecdf: WindowEcdf | None = None
    # Set when the statistics came from mergeable partials (stats.partials): wasserstein_norm is then an estimate
    # and this is the largest amount by which it can differ from the exact value. None: W1 is exact.
    wasserstein_bound: float | None = None
    # The window's smallest and largest finite values, exact on both paths (None: no finite value, or a roll-up
    # from bin counts). The data-quality range and constant checks read them: a streamed window's `ecdf` is
    # evaluated at the reference's values, so its ends are not the window's.
    window_min: float | None = None
    window_max: float | None = None

    def get(self, statistic: str) -> float:
        return float(self.stats.get(statistic, float("nan")))

    def decision_input(self) -> FeatureStats:
        """The statistics in the form the decision rules take."""
        values = {k: (None if v is None else float(v)) for k, v in self.stats.items()}
        return FeatureStats(
            name=self.name,
            kind=self.kind,
            rows=self.rows,
            reference_rows=self.reference_rows,
            role=self.role,
            type_change=self.type_change,
            **values,
        )


def as_role(drift: FeatureDrift) -> FeatureDrift:
    """The feature with its role set from its name: the pipeline's output features are the model's."""
    if drift.name in OUTPUT_FEATURES and drift.role != "output":
        return dataclasses.replace(drift, role="output")
    return drift


def _share(part: int, total: int) -> float:
    return part / total if total else math.nan


def numeric_feature_stats(profile: NumericProfile, values: ArrayLike) -> FeatureDrift:
    """PSI, exact KS (D and p), JS, Hellinger, normalised Wasserstein and missing shares of a numeric feature."""
    values = np.asarray(values, dtype=np.float64)
    current_sorted = sorted_valid(values)
    # The window is sorted anyway for KS, so its PSI counts take a few binary searches instead of a pass.
    counts = numeric_bin_counts_sorted(current_sorted, int(values.size - current_sorted.size), profile.edges)
    # One merge gives KS and W1 (they read the same two ECDFs). No per-window re-checks: the reference was
    # checked once per profile and the window comes straight from sorted_valid. The reference's std is
    # likewise computed once per profile.
    both = ks_w1_trusted(profile.checked_sorted_values, current_sorted)
    ks = both.ks
    rows = int(values.size)
    stats = {
        "psi": psi(profile.bin_counts, counts),
        "ks_statistic": ks.statistic,
        "ks_pvalue": ks.pvalue,
        "js_distance": js_distance(profile.bin_counts, counts),
        "hellinger": hellinger_distance(profile.bin_counts, counts),
        # Same value as normalized_wasserstein(profile.sorted_values, current_sorted, current_sorted=True),
        # NaN for an empty side, up to the W1 summation order (relative ~1e-16).
        "wasserstein_norm": normalize_w1(both.wasserstein, profile.w1_scale),
        "missing_share_reference": _share(profile.missing, profile.rows),
        "missing_share_current": _share(rows - current_sorted.size, rows),
    }
    ecdf = window_ecdf(profile.checked_sorted_values, current_sorted, both.location)
    finite = finite_part(current_sorted)
    low, high = (float(finite[0]), float(finite[-1])) if finite.size else (None, None)
    return FeatureDrift(
        profile.name, "numeric", rows, profile.rows, stats, counts, ecdf=ecdf, window_min=low, window_max=high
    )


def numeric_stats_from_counts(profile: NumericProfile, counts: NDArray[np.int64]) -> FeatureDrift:
    """The bin-based statistics of a numeric feature from merged PSI-bin counts (a roll-up of windows).

    KS and Wasserstein need the values themselves, so they are absent (NaN) here.
    """
    counts = np.asarray(counts, dtype=np.int64)
    rows = int(counts.sum())
    stats = {
        "psi": psi(profile.bin_counts, counts),
        "js_distance": js_distance(profile.bin_counts, counts),
        "hellinger": hellinger_distance(profile.bin_counts, counts),
        "missing_share_reference": _share(profile.missing, profile.rows),
        "missing_share_current": _share(int(counts[-1]), rows),
    }
    return FeatureDrift(profile.name, "numeric", rows, profile.rows, stats, counts)


def categorical_feature_stats(
    profile: CategoricalProfile, value_counts: Mapping[str | None, int]
) -> FeatureDrift:
    """PSI and chi² over reference categories + unseen + missing, JS, Hellinger, unseen and missing shares."""
    counts = categorical_bins(profile.categories, value_counts)
    drift = categorical_stats_from_counts(profile, counts)
    changed = type_change(profile.categories, value_counts)
    return drift if changed is None else dataclasses.replace(drift, type_change=changed)


def categorical_stats_from_counts(profile: CategoricalProfile, counts: NDArray[np.int64]) -> FeatureDrift:
    """As `categorical_feature_stats`, from counts already laid out as [categories..., unseen, missing]."""
    rows = int(counts.sum())
    chi2 = chi2_homogeneity(profile.bin_counts, counts)
    stats = {
        "psi": psi(profile.bin_counts, counts),
        "chi2_statistic": chi2.statistic,
        "chi2_pvalue": chi2.pvalue,
        "js_distance": js_distance(profile.bin_counts, counts),
        "hellinger": hellinger_distance(profile.bin_counts, counts),
        "missing_share_reference": _share(profile.missing, profile.rows),
        "missing_share_current": _share(int(counts[-1]), rows),
        "unseen_share": _share(int(counts[-2]), rows),
    }
    return FeatureDrift(profile.name, "categorical", rows, profile.rows, stats, counts)
