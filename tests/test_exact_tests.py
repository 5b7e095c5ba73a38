"""stats.exact_tests (Fisher's 2×2 and the binomial test, two-sided, without scipy.stats) against
scipy.stats.fisher_exact / binomtest and against the slow exact twins in tests/naive.py.

That neither it nor stats.decision imports scipy.stats is checked with the compare process, in
tests/test_compare.py (test_cli_start_up_imports_only_what_the_command_needs).
"""

from __future__ import annotations

import itertools

import pytest
from scipy import stats

from driftwatch.stats.decision import EXACT_BELOW_EXPECTED, missing_rate_pvalue
from driftwatch.stats.exact_tests import binomtest_pvalue, fisher_exact_pvalue
from naive import naive_binomtest_pvalue, naive_fisher_exact_pvalue, naive_fisher_exact_pvalue_by_ratios

# p-values below this are compared absolutely: scipy's and ours may part in the subnormal range.
TINY = 1e-300


def scipy_fisher(table: list[list[int]]) -> float:
    return float(stats.fisher_exact(table).pvalue)


def scipy_binom(k: int, n: int, p: float) -> float:
    return float(stats.binomtest(k, n, p).pvalue)


# ---------------------------------------------------------------- Fisher's exact test

# Named cases of the grid below, each also checked on its own.
FISHER_CASES = {
    "zero cell": [[0, 5], [3, 4]],
    "two zero cells": [[0, 7], [6, 0]],
    "zero row": [[0, 0], [3, 4]],
    "zero column": [[0, 5], [0, 4]],
    "all zero": [[0, 0], [0, 0]],
    "observed is the mode": [[10, 20], [5, 10]],
    "observed ties the mode (two modes)": [[1, 2], [3, 2]],
    "two modes, smallest table": [[0, 1], [1, 0]],
    "tie, equal rows": [[2, 8], [8, 2]],
    "tie, equal columns": [[2, 10], [13, 5]],
    "tie, far out on a wide support": [[180, 320], [320, 180]],
    "tie, other side empty": [[0, 150], [150, 0]],
}


@pytest.mark.parametrize("name", FISHER_CASES)
def test_fisher_named_cases_equal_the_twin_and_scipy(name: str) -> None:
    table = FISHER_CASES[name]
    got = fisher_exact_pvalue(table)
    assert got == pytest.approx(float(naive_fisher_exact_pvalue(table)), rel=1e-12, abs=TINY)
    assert got == pytest.approx(scipy_fisher(table), rel=1e-9, abs=TINY)
    if name in ("zero row", "zero column", "all zero") or "mode" in name:
        assert got == 1.0


def test_fisher_ties_count_both_sides() -> None:
    """In a symmetric table the mirror table is exactly as likely and counts: twice the one-sided tail."""
    table = [[180, 320], [320, 180]]
    one_sided = float(stats.hypergeom.cdf(180, 1000, 500, 500))
    assert fisher_exact_pvalue(table) == pytest.approx(2 * one_sided, rel=1e-12)


def test_fisher_equals_the_twin_and_scipy_on_every_small_table() -> None:
    """Every table with cells 0..6 (2,401 tables): zeros anywhere, zero margins, observed modes, ties."""
    for a, b, c, d in itertools.product(range(7), repeat=4):
        table = [[a, b], [c, d]]
        got = fisher_exact_pvalue(table)
        assert got == pytest.approx(float(naive_fisher_exact_pvalue(table)), rel=1e-12), table
        assert got == pytest.approx(scipy_fisher(table), rel=1e-9), table


def test_fisher_on_symmetric_tables_with_wide_supports() -> None:
    """Equal rows (ties y ↔ n − y) and equal columns (ties y ↔ n1 − y) over supports of up to 301 tables: the
    ties must survive the rounding accumulated along the ratio products."""
    for rows, a, c in itertools.product((150, 300), (0, 5, 37, 61, 75, 100, 149), (0, 20, 75, 90, 150)):
        table = [[a, rows - a], [c, rows - c]]
        got = fisher_exact_pvalue(table)
        assert got == pytest.approx(float(naive_fisher_exact_pvalue(table)), rel=1e-12, abs=TINY), table
        assert got == pytest.approx(scipy_fisher(table), rel=1e-9, abs=TINY), table
    for a, b in itertools.product((0, 5, 37, 75, 100, 150), (0, 20, 90, 149)):
        table = [[a, b], [150 - a, 150 - b]]  # both columns 150
        got = fisher_exact_pvalue(table)
        assert got == pytest.approx(float(naive_fisher_exact_pvalue(table)), rel=1e-12, abs=TINY), table
        assert got == pytest.approx(scipy_fisher(table), rel=1e-9, abs=TINY), table


def test_fisher_on_supports_wider_than_what_it_sums() -> None:
    """Supports of 1,001 tables with a standard deviation of ~12: the sums are cut e^60 below the observed
    table, and an observed table e^800 below the mode is p = 0 without summing (scipy: 0 too)."""
    tables = [[[a, 1000 - a], [1250 - a, 250 + a]] for a in (0, 350, 425, 475, 500, 525, 625, 1000)]
    tables += [[[a, 1000 - a], [1000 - a, a]] for a in (0, 450, 475, 490, 500)]  # ties, cut on both sides
    for table in tables:
        got = fisher_exact_pvalue(table)
        assert got == pytest.approx(float(naive_fisher_exact_pvalue(table)), rel=1e-12, abs=TINY), table
        assert got == pytest.approx(scipy_fisher(table), rel=1e-9, abs=TINY), table
    assert fisher_exact_pvalue([[0, 1000], [1250, 250]]) == fisher_exact_pvalue([[0, 1000], [1000, 0]]) == 0.0


def test_the_ratio_twin_equals_the_binomial_coefficient_twin() -> None:
    for a, b, c, d in itertools.product((0, 1, 3, 8), (0, 2, 9), (0, 1, 5, 13), (0, 4, 11)):
        table = [[a, b], [c, d]]
        assert naive_fisher_exact_pvalue_by_ratios(table) == naive_fisher_exact_pvalue(table), table
    table = [[100, 9_999_900], [3, 147]]  # a 10⁷-row reference, still small enough for math.comb
    assert naive_fisher_exact_pvalue_by_ratios(table) == naive_fisher_exact_pvalue(table)


def _big_tables(reference_rows: int) -> list[list[list[int]]]:
    tables = []
    for share, window in itertools.product((1e-5, 0.001, 0.05, 0.5, 0.97), (50, 150, 500)):
        reference_missing = round(share * reference_rows)
        expected = round(share * window)
        for missing in sorted(
            {0, 1, 2, expected, expected + 3, 2 * expected + 5, window // 2, window - 1, window}
        ):
            if 0 <= missing <= window:
                tables.append(
                    [[reference_missing, reference_rows - reference_missing], [missing, window - missing]]
                )
    return tables


@pytest.mark.parametrize("reference_rows", [10**6, 2 * 10**6, 10**7])
def test_fisher_with_a_huge_reference_against_a_small_window(reference_rows: int) -> None:
    for table in _big_tables(reference_rows):
        got = fisher_exact_pvalue(table)
        assert got == pytest.approx(float(naive_fisher_exact_pvalue_by_ratios(table)), rel=1e-12, abs=TINY), (
            table
        )
        # scipy's hypergeometric (Boost) is itself ~2e-9 off at 10⁷ rows (against the exact sum above, which
        # ours matches to ~1e-16), so there it is held to 1e-8; up to 2·10⁶ rows to 1e-9.
        rel = 1e-9 if reference_rows <= 2 * 10**6 else 1e-8
        assert got == pytest.approx(scipy_fisher(table), rel=rel, abs=TINY), table


def test_fisher_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        fisher_exact_pvalue([[1, -1], [2, 3]])


# ---------------------------------------------------------------- the binomial test

SMALL_N = (1, 2, 3, 4, 5, 8, 13, 21, 34)
PS = (0.0, 1e-3, 0.05, 0.1, 0.2, 0.25, 1 / 3, 0.5, 0.6, 0.75, 0.9, 0.999, 1.0)


def test_binomtest_equals_the_twin_and_scipy_on_small_n() -> None:
    """Every k (so k = 0, k = n and n = 1), p = 0 and 1 included, p = 0.5 for ties (j ↔ n − j), 0.1 and
    1/3 where p·n rounds onto or next to an integer (scipy's k == p·n shortcut)."""
    for n, p in itertools.product(SMALL_N, PS):
        for k in range(n + 1):
            got = binomtest_pvalue(k, n, p)
            assert got == pytest.approx(float(naive_binomtest_pvalue(k, n, p)), rel=1e-12, abs=TINY), (
                k,
                n,
                p,
            )
            assert got == pytest.approx(scipy_binom(k, n, p), rel=1e-9, abs=TINY), (k, n, p)


def test_binomtest_with_large_n_in_the_exact_branch() -> None:
    """The binomial test runs only when the window expects fewer than EXACT_BELOW_EXPECTED missing (or present)
    rows, so a large n comes with a small n·p (or n·(1 − p))."""
    for n, mean in itertools.product((150, 1000, 10**5, 10**6, 10**7), (0.5, 3.0, 10.0, 30.0, 49.0)):
        for p in (mean / n, 1 - mean / n):
            centre = round(p * n)
            ks = {0, 1, 2, n - 1, n, centre, centre - 7, centre + 7, centre - 20, centre + 25, centre + 100}
            for k in sorted(k for k in ks if 0 <= k <= n):
                got = binomtest_pvalue(k, n, p)
                assert got == pytest.approx(scipy_binom(k, n, p), rel=1e-9, abs=TINY), (k, n, p)


def test_binomtest_refuses_impossible_arguments() -> None:
    for k, n, p in ((3, 2, 0.5), (-1, 2, 0.5), (0, 0, 0.5), (1, 2, 1.5), (1, 2, -0.1)):
        with pytest.raises(ValueError):
            binomtest_pvalue(k, n, p)


# ---------------------------------------------------------------- through missing_rate_pvalue


def _old_missing_rate_pvalue(
    reference_share: float, reference_rows: int | None, current_share: float, current_rows: int
) -> float:
    """The exact branch as it was, on scipy.stats."""
    current_missing = round(current_share * current_rows)
    if reference_rows is None:
        return scipy_binom(current_missing, current_rows, reference_share)
    reference_missing = round(reference_share * reference_rows)
    table = [
        [reference_missing, reference_rows - reference_missing],
        [current_missing, current_rows - current_missing],
    ]
    return scipy_fisher(table)


def test_missing_rate_pvalue_in_small_windows_is_what_scipy_gave() -> None:
    checked = 0
    for share, rows, reference_rows in itertools.product(
        (0.001, 0.02, 0.05, 0.3, 0.9, 0.99), (100, 150, 400), (None, 500, 200_000, 2_000_000)
    ):
        if min(rows * share, rows * (1 - share)) >= EXACT_BELOW_EXPECTED:
            continue
        for missing in sorted(
            {0, 1, round(rows * share), min(rows, round(rows * share) + 9), rows // 2, rows}
        ):
            got = missing_rate_pvalue(share, reference_rows, missing / rows, rows)
            want = _old_missing_rate_pvalue(share, reference_rows, missing / rows, rows)
            assert got == pytest.approx(want, rel=1e-9, abs=TINY), (share, rows, reference_rows, missing)
            checked += 1
    assert checked > 200


def test_missing_rate_pvalue_with_a_certain_reference_share() -> None:
    """Shares 0 and 1 with no reference row count: nothing is random, the binomial test is not run."""
    assert missing_rate_pvalue(0.0, None, 0.0, 150) == 1.0
    assert missing_rate_pvalue(0.0, None, 1 / 150, 150) == 0.0
    assert missing_rate_pvalue(1.0, None, 1.0, 150) == 1.0
    assert missing_rate_pvalue(1.0, None, 149 / 150, 150) == 0.0
    for k, n, p in ((0, 150, 0.0), (1, 150, 0.0), (150, 150, 1.0), (149, 150, 1.0)):
        assert binomtest_pvalue(k, n, p) == scipy_binom(k, n, p)
