"""Two-sided exact p-values of Fisher's test (2×2) and of the binomial test, without scipy.stats.

Why this exists: the missing-rate test of a small window is exact (``decision.missing_rate_pvalue``), and
``scipy.stats.fisher_exact`` / ``binomtest`` would make every ``driftwatch compare`` of small files import
``scipy.stats``, about 0.5–0.7 s of CPU in a fresh process (kolmogorov.py and chi2.py avoid it for the same
reason). numpy and ``scipy.special`` are loaded anyway.

Both functions give scipy 1.17's p-values (``fisher_exact(table).pvalue`` with the default two-sided
alternative, ``binomtest(k, n, p).pvalue``), rule for rule: the sum of the probabilities of the outcomes no
more likely than the observed one, where "no more likely" has scipy's relative tolerance (1e-14 for
Fisher's, 1e-7 for the binomial), and with scipy's special cases (a zero margin, an observed mode, p = 0 or
1). tests/test_exact_tests.py checks them against scipy.stats and against a slow exact twin: equal to scipy
within 1e-9 relative, except with 10^6-10^7 counts, where scipy's own hypergeometric is ~1e-9 off exact
arithmetic (40-digit mpmath agrees with these) and the two differ by up to ~2e-9.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy import special

# scipy's "no more likely than the observed" tolerances: an outcome counts when its probability is at most
# the observed one's times (1 + tolerance), so exact ties (symmetric tables) count despite rounding.
_FISHER_TOLERANCE = 1e-14  # scipy.stats._stats_py.fisher_exact: epsilon
_BINOM_RERR = 1 + 1e-7  # scipy.stats._binomtest.binomtest: rerr


def fisher_exact_pvalue(table: Sequence[Sequence[int]]) -> float:
    """Two-sided p-value of Fisher's exact test on the 2×2 table ``[[a, b], [c, d]]`` of counts.

    Under the null, with all margins fixed, ``a`` is hypergeometric: ``P(a = y) ∝ C(n1, y) C(n2, n − y)``
    (row sums n1, n2; first column sum n). Its support is bounded by the smaller margins (a 10⁷-row
    reference against a 150-row window: 151 tables), and only the part of it within e^60 of both the mode
    and the observed table is summed (a few dozen standard deviations at most, whatever the counts).
    """
    (a, b), (c, d) = ((int(table[0][0]), int(table[0][1])), (int(table[1][0]), int(table[1][1])))
    if min(a, b, c, d) < 0:
        raise ValueError(f"counts must be >= 0, got {[[a, b], [c, d]]}")
    n1, n2, n = a + b, c + d, a + c
    if 0 in (n1, n2, n, b + d):
        return 1.0  # a zero margin: only one table is possible (scipy: p = 1, odds ratio NaN)
    lo, hi = max(0, n - n2), min(n, n1)
    # scipy's mode, with scipy's float division (the same value as the integer one while (n+1)(n1+1) < 2**52).
    mode = int((n + 1) * (n1 + 1) / (n1 + n2 + 2))

    def log_weight(y: int) -> float:  # log C(n1, y) C(n2, n − y) up to a constant; only to place cuts
        return -(
            math.lgamma(y + 1)
            + math.lgamma(n1 - y + 1)
            + math.lgamma(n - y + 1)
            + math.lgamma(n2 - n + y + 1)
        )

    observed_log = log_weight(a)
    if observed_log - log_weight(mode) < -800:
        return 0.0  # the p-value is below e^-800 times the support's size: under the smallest double
    # Tables e^60 less likely than the observed one change no digit of either sum (the pmf is log-concave, so
    # past the cut the terms fall at least geometrically): the support is cut where the weight drops below.
    bar = observed_log - 60
    lo += bisect.bisect_left(range(lo, mode), True, key=lambda y: log_weight(y) >= bar)
    hi = mode - 1 + bisect.bisect_left(range(mode, hi + 1), True, key=lambda y: log_weight(y) < bar)
    weights = _hypergeom_weights(lo, hi, mode, n1, n2, n)
    observed = weights[a - lo]
    if abs(observed - 1) / max(observed, 1) <= _FISHER_TOLERANCE:
        return 1.0  # the observed table is (as likely as) the mode: every table counts
    threshold = observed * (1 + _FISHER_TOLERANCE)
    # The tail beyond the observed table, plus the tables on the mode's other side that are no more likely.
    # scipy finds the latter by a binary search whose edge counts a table exactly equal to the threshold
    # on the low side (cdf of the found index) but not on the high side (sf): hence <= below, < above.
    if a < mode:
        other = weights[mode - lo :]
        tail = weights[: a - lo + 1].sum() + other[other < threshold].sum()
    else:
        other = weights[: mode - lo + 1]
        tail = weights[a - lo :].sum() + other[other <= threshold].sum()
    return min(float(tail / weights.sum()), 1.0)


def _hypergeom_weights(lo: int, hi: int, mode: int, n1: int, n2: int, n: int) -> np.ndarray:
    """The hypergeometric pmf over ``lo..hi``, scaled to 1 at ``mode``, by products of consecutive ratios
    outward from the mode (so every weight is <= 1: nothing overflows, and no log-gamma of a 10⁷ count loses
    digits). Each ratio is a quotient of exact integer products. Long double (64-bit mantissa on x86) keeps
    the accumulated rounding of hundreds of products near 1e-17, far inside the 1e-14 tie tolerance, so two
    equally likely tables reached by different paths still compare equal; where long double is double the
    error is ~1e-16 per step, which still holds ties for the supports small windows have."""
    ld = np.longdouble
    up = np.arange(mode, hi, dtype=ld)  # w(y+1) / w(y) for y = mode .. hi-1
    up_ratio = (ld(n1) - up) * (ld(n) - up) / ((up + 1) * (ld(n2 - n + 1) + up))
    down = np.arange(mode, lo, -1, dtype=ld)  # w(y-1) / w(y) for y = mode .. lo+1
    down_ratio = down * (ld(n2 - n) + down) / ((ld(n1 + 1) - down) * (ld(n + 1) - down))
    return np.concatenate((np.cumprod(down_ratio)[::-1], np.ones(1, dtype=ld), np.cumprod(up_ratio)))


def binomtest_pvalue(k: int, n: int, p: float) -> float:
    """Two-sided p-value of the exact binomial test of ``k`` successes in ``n`` trials against ``p``.

    scipy's "minlike" rule: ``P(X <= k) + P(X >= j)`` (or mirrored), ``j`` the first outcome past the mode
    on the other side that is at most ``1 + 1e-7`` times as likely as ``k``, found by scipy's binary search
    (so O(log n) pmf evaluations; the tails are regularised incomplete beta functions).
    """
    k, n = int(k), int(n)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need n >= 1 and 0 <= k <= n, got k={k}, n={n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    if p in (0.0, 1.0):
        return 1.0 if k == p * n else 0.0  # one outcome is certain (what scipy returns, found the long way)

    def pmf(x: int) -> float:
        # scipy's binom._logpmf; betaln keeps log C(n, x) accurate for large n, where lgamma(n) loses digits.
        log_comb = -math.log1p(n) - special.betaln(n - x + 1, x + 1)
        return float(np.exp(log_comb + special.xlogy(x, p) + special.xlog1py(n - x, -p)))

    # The tails as regularised incomplete beta functions, P(X <= x) = I_{1-p}(n - x, x + 1) computed as
    # betaincc(x + 1, n - x, p): from p itself, never 1 - p, whose rounding the n-th power would blow up to
    # ~1e-9 relative at n = 10**7. (special.bdtr does exactly that, and bdtrc is ~1e-8 off there too.)
    def cdf(x: int) -> float:
        return float(special.betaincc(x + 1, n - x, p)) if 0 <= x < n else float(x >= n)

    def sf(x: int) -> float:
        return float(special.betainc(x + 1, n - x, p)) if 0 <= x < n else float(x < 0)

    d = pmf(k)
    mean = p * n  # compared as scipy does, float against int: k == p*n only when the product rounds to k
    if k == mean:
        return 1.0
    if k < mean:
        ix = _binary_search(lambda x: -pmf(x), -d * _BINOM_RERR, math.ceil(mean), n)
        # ix is the last outcome above the mode more likely than the bar; one exactly at it also counts.
        y = n - ix + int(d * _BINOM_RERR == pmf(ix))
        pvalue = cdf(k) + sf(n - y)
    else:
        ix = _binary_search(pmf, d * _BINOM_RERR, 0, math.floor(mean))
        pvalue = cdf(ix) + sf(k - 1)
    return min(1.0, pvalue)


def _binary_search(a: Callable[[int], float], d: float, lo: int, hi: int) -> int:
    """scipy's ``_binary_search_for_binom_tst``: for ``a`` ascending on ``lo..hi``, the ``i`` with
    ``a(i) <= d < a(i + 1)`` (``lo - 1`` when ``d < a(lo)``). Kept as scipy wrote it, since where it lands
    on (near-)equal values decides which outcomes count."""
    while lo < hi:
        mid = lo + (hi - lo) // 2
        midval = a(mid)
        if midval < d:
            lo = mid + 1
        elif midval > d:
            hi = mid - 1
        else:
            return mid
    return lo if a(lo) <= d else lo - 1
