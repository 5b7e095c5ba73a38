"""Chi-squared tests: reference vs current category counts, and a change in one proportion (missing rate)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

# scipy.special, not scipy.stats: the same functions (chi2.sf is chdtrc, norm.sf is ndtr(-z)) at a fifth of
# the import time, which every CLI start pays.
from scipy import special


@dataclass(frozen=True, slots=True)
class Chi2Result:
    """Pearson chi-squared statistic, its p-value, degrees of freedom, and the columns that were kept."""

    statistic: float
    pvalue: float
    dof: int
    n_columns: int


def chi2_homogeneity(reference_counts: ArrayLike, current_counts: ArrayLike) -> Chi2Result:
    """Pearson's chi-squared test that reference and current counts come from one categorical distribution.

    The 2×K contingency table has the reference counts as one row and the current counts as the other, one
    column per position of the count vectors. In the categorical layout ``[categories..., unseen, missing]``
    unseen and missing are therefore their own columns: a window full of new categories or of nulls is a
    difference like any other. Columns with a zero total (a reference category absent from both, or no
    unseen/missing values at all) are dropped, since their expected counts are 0.

    With row totals R_i, column totals C_j and N = ΣR: E_ij = R_i·C_j / N, X² = Σ (O_ij − E_ij)² / E_ij,
    dof = K − 1, p = P(χ²_dof ≥ X²) (Pearson 1900; Agresti, "Categorical Data Analysis", §3.2). Identical to
    ``scipy.stats.chi2_contingency(table, correction=False)``: no Yates correction, which only exists for
    2×2 tables and would make the 2-column case disagree with the others.

    Degenerate cases give NaN statistic and p-value (dof and n_columns still report what was left): fewer
    than 2 columns after dropping (nothing to compare) or an empty row (no window or no reference).
    The chi-squared approximation is poor when many expected counts are below ~5; the decision rules never
    act on this p-value without an effect-size floor, which keeps such cases from alarming on their own.
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    if ref.ndim != 1 or cur.ndim != 1 or ref.shape != cur.shape:
        raise ValueError(
            f"count vectors must be 1-D and of equal length, got shapes {ref.shape} and {cur.shape}"
        )
    if not (np.all(np.isfinite(ref)) and np.all(np.isfinite(cur))) or np.any(ref < 0) or np.any(cur < 0):
        raise ValueError("counts must be finite and non-negative")
    table = np.stack([ref, cur])
    table = table[:, table.sum(axis=0) > 0]
    n_columns = table.shape[1]
    dof = max(n_columns - 1, 0)
    row_totals = table.sum(axis=1)
    if n_columns < 2 or np.any(row_totals == 0):
        return Chi2Result(math.nan, math.nan, dof, n_columns)
    expected = np.outer(row_totals, table.sum(axis=0)) / row_totals.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    return Chi2Result(statistic, float(special.chdtrc(dof, statistic)), dof, n_columns)


def two_proportion_pvalue(
    reference_share: float, reference_rows: int | None, current_share: float, current_rows: int
) -> float:
    """Two-sided p-value that a share (e.g. the missing rate) differs between reference and window.

    The pooled two-proportion z-test: p̂ = (p_ref·n_ref + p_cur·n_cur) / (n_ref + n_cur),
    z = (p_cur − p_ref) / sqrt(p̂(1 − p̂)(1/n_ref + 1/n_cur)), p = 2·Φ(−|z|) (Agresti, "Categorical Data
    Analysis", §2.1). z² is the chi-squared statistic of the 2×2 table [[missing, present] per side], so
    this equals ``scipy.stats.chi2_contingency(table, correction=False)``'s p-value.

    ``reference_rows=None`` treats the reference share as exact (the n_ref → ∞ limit: p̂ = p_ref,
    1/n_ref = 0), i.e. the one-sample test ``scipy.stats.chisquare`` does with expected share p_ref; use it
    when the profile did not keep its row count.

    When the pooled variance is 0 (every row missing, or none, on both sides as pooled) the shares can only
    differ if the reference is taken as exact; then p = 0 if they differ and 1 if they are equal.
    """
    for name, share in (("reference_share", reference_share), ("current_share", current_share)):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {share!r}")
    if current_rows < 1 or (reference_rows is not None and reference_rows < 1):
        raise ValueError("row counts must be positive")
    if reference_rows is None:
        pooled = reference_share
        inverse_rows = 1.0 / current_rows
    else:
        pooled = (reference_share * reference_rows + current_share * current_rows) / (
            reference_rows + current_rows
        )
        inverse_rows = 1.0 / reference_rows + 1.0 / current_rows
    variance = pooled * (1.0 - pooled) * inverse_rows
    difference = current_share - reference_share
    if variance <= 0.0:
        return 1.0 if difference == 0.0 else 0.0
    z = abs(difference) / math.sqrt(variance)
    return float(2.0 * special.ndtr(-z))
