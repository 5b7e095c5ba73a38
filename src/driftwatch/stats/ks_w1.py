"""The KS test and the Wasserstein-1 distance of two sorted samples from one merge.

Both statistics are functions of the same two empirical CDFs evaluated along the merged samples: KS takes
the largest gap, W1 the area between them. :func:`driftwatch.kernels.ks.ecdf_gaps_w1` walks the merge once
for both, which is what makes W1 nearly free next to the KS statistic the pipeline computes anyway. On the
20 numeric features x 1M rows of benchmarks/perf_drift.py (2026-12-05), the separate KS and W1 merges took
0.11 + 0.24 s CPU per window, the shared one 0.065 s.

The results equal the separate paths: D and p are those of :func:`driftwatch.stats.ks.ks_2samp_sorted`
(scipy's ``ks_2samp`` bit for bit), W1 that of :func:`driftwatch.stats.distances.wasserstein_distance` up
to summation order (relative ~1e-16), with the same ±inf rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from driftwatch.kernels.ks import ecdf_gaps_w1_at
from driftwatch.stats.distances import infinite_w1
from driftwatch.stats.ks import KSResult, _exact_or_asymptotic, checked_sorted_pair
from driftwatch.stats.ks_location import KsLocation, location_from_merge


@dataclass(frozen=True)
class KSW1Result:
    """The KS result and the Wasserstein-1 distance (in the feature's units; NaN if a side is empty)."""

    ks: KSResult
    wasserstein: float
    # Where D is reached, recorded by the same merge (None when a side is empty): the report marks it there.
    location: KsLocation | None = None


def ks_w1_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> KSW1Result:
    """KS test and W1 of two sorted, NaN-free samples (checked here: this is the entry point for user arrays).

    Raises ValueError when either array is not ascending or holds NaN (see ``stats.ks.sorted_valid``).
    """
    return ks_w1_trusted(*checked_sorted_pair(ref_sorted, cur_sorted))


def ks_w1_trusted(ref: np.ndarray, cur: np.ndarray) -> KSW1Result:
    """:func:`ks_w1_sorted` without the checks, for arrays the caller already knows are valid.

    ``ref`` and ``cur`` must be 1-D contiguous float64, ascending and NaN-free: the pipeline passes the
    profile's reference (checked once per profile, :attr:`NumericProfile.checked_sorted_values`) and the
    window straight from ``sorted_valid``. Re-checking them would be a pass over each per window for
    nothing. With invalid input the results are meaningless, and a NaN can stall the merge for good, so
    anything not produced by ``sorted_valid`` goes through :func:`ks_w1_sorted` instead.
    """
    n_ref, n_cur = ref.size, cur.size
    if n_ref == 0 or n_cur == 0:
        return KSW1Result(KSResult(math.nan, math.nan, n_ref, n_cur), math.nan)
    ref_above, cur_above, area, ref_at, cur_at = ecdf_gaps_w1_at(ref, cur)
    # The same expression as ks_2samp_sorted, so D and p are identical to it.
    statistic, pvalue = _exact_or_asymptotic(float(max(ref_above, cur_above)), n_ref, n_cur)
    special = infinite_w1(ref, cur)
    distance = float(area) if special is None else special
    location = location_from_merge(ref, cur, ref_above, cur_above, ref_at, cur_at)
    return KSW1Result(KSResult(float(statistic), float(pvalue), n_ref, n_cur), distance, location)
