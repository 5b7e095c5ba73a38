"""Upper tail of the two-sided one-sample Kolmogorov–Smirnov statistic, ``P(D_n >= d)``, without scipy.stats.

Why this exists: ``scipy.stats.kstwo.sf`` is the reference for our KS p-values, but importing
``scipy.stats`` costs about a second in a fresh process, which ``driftwatch compare`` pays before its first
result. ``scipy.special`` (``smirnov``) is cheap and already loaded by the other statistics, so only the
glue around it is re-implemented here.

The method is Simard & L'Ecuyer, "Computing the Two-Sided Kolmogorov-Smirnov Distribution", J. Stat.
Softw. 39(11) (2011): choose, from ``n`` and ``n d^2``, between the Ruben–Gambino closed forms, the exact
one-sided series ``2 P(D_n^+ >= d)`` (Birnbaum–Tingey, via ``scipy.special.smirnov``), Durbin's matrix
algorithm in the Marsaglia–Tsang–Wang form, Pomeranz's recursion and the Pelz–Good asymptotic series.
Results are checked against ``scipy/stats/_ksstats.py`` (``_kolmogn(n, d, cdf=False)``, scipy 1.17) and
the edge handling of ``rv_continuous.sf`` for ``kstwo`` (support ``(1/(2n), 1)``).

Bit-for-bit agreement with scipy is the design goal, so the code keeps scipy's floating-point expressions
and the same numpy calls where the two could round differently:

* transcendental functions go through numpy ufuncs (``np.exp``, ``np.log``, ``np.power``), which on
  AVX-512 machines are numpy's own SIMD/SVML kernels and may differ from ``math`` by an ulp; powers of
  scalars (``z**2``) stay numpy-scalar powers, as in scipy;
* sums over arrays use ``np.sum``/``np.prod``/``np.convolve``/``np.matmul`` on arrays built the same way
  (numpy's pairwise and SIMD reductions round differently from a plain left-to-right loop);
* scipy's rescaling constants are ``np.longdouble``: once an intermediate is rescaled it silently becomes
  80-bit extended precision and stays so until the final conversion to float64. We use the same
  constants, so the promotion happens at the same step. (On platforms where ``longdouble`` is ``double``
  both sides degrade identically.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
from scipy.special import smirnov

# Rescaling step of the exact algorithms. Deliberately long double, as in scipy (see the module notes).
_E128: Final[int] = 128
_EP128: Final = np.ldexp(np.longdouble(1), _E128)
_EM128: Final = np.ldexp(np.longdouble(1), -_E128)
_EM128_AS_FLOAT: Final[float] = float(_EM128)  # exact: 2**-128 is a double

_SQRT2PI: Final = np.sqrt(2 * np.pi)
_LOG_2PI: Final = np.log(2 * np.pi)
_MIN_LOG: Final[int] = -708  # below this exp() underflows to 0 in double
_SQRT3: Final = np.sqrt(3)
_PI_SQUARED: Final[float] = np.pi**2
_PI_FOUR: Final[float] = np.pi**4
_PI_SIX: Final[float] = np.pi**6

# B_{2j} / (2j (2j - 1)) for j = 8, ..., 1 (B = Bernoulli numbers): Stirling's series, highest order first.
_STIRLING_COEFFS: Final[list[float]] = [
    -2.955065359477124183e-2,
    6.4102564102564102564e-3,
    -1.9175269175269175269e-3,
    8.4175084175084175084e-4,
    -5.952380952380952381e-4,
    7.9365079365079365079e-4,
    -2.7777777777777777778e-3,
    8.3333333333333333333e-2,
]

# Branch boundaries of Simard & L'Ecuyer as scipy uses them (``n`` and ``n d^2``).
SMALL_N_MAX: Final[int] = 140  # up to here: exact Durbin / Pomeranz / one-sided series
DURBIN_SMALL_N_MAX_NDSQ: Final[float] = 0.754693  # small n: Durbin matrix up to this n d^2
POMERANZ_MAX_NDSQ: Final[float] = 4.0  # small n: Pomeranz recursion up to this n d^2
SERIES_MIN_NDSQ: Final[float] = 2.2  # large n: sf = 2 * smirnov from here ...
ZERO_MIN_NDSQ: Final[float] = 370.0  # ... up to here; beyond, the sf is reported as 0
DURBIN_LARGE_N_MAX: Final[int] = 100_000  # large n: Durbin only when n <= this and n d^1.5 <= 1.4
DURBIN_LARGE_N_MAX_ND15: Final[float] = 1.4


def _clip(p: float | np.floating) -> float:
    """Clip to ``[0, 1]`` and round to float64 (a long double intermediate rounds here, once, as in scipy)."""
    return float(np.clip(p, 0.0, 1.0))


def _log_factorial_over_power(n: int) -> np.floating:
    """``log(n! / n^n)`` by Stirling's series with the ``n log n`` parts cancelled analytically."""
    rn = 1.0 / n
    value: np.floating = np.log(n) / 2 - n + _LOG_2PI / 2 + rn * np.polyval(_STIRLING_COEFFS, rn / n)
    return value


def durbin_cdf(n: int, d: float) -> np.floating:
    """``P(D_n <= d)`` by Durbin's matrix algorithm as arranged by Marsaglia, Tsang & Wang (2003).

    With ``d = (k - h)/n``, ``0 <= h < 1``, the answer is ``n!/n^n`` times the ``(k, k)`` entry of
    ``H^n`` for a ``(2k - 1)``-square matrix ``H``: O(k^3 log n) for the power plus O(n) for the factor.
    The result is a long double whenever the ``n!/n^n`` loop had to rescale (see the module notes).
    Only called with ``1/n < d < 1``.
    """
    nd = n * d
    k = int(np.ceil(nd))
    h = k - nd
    m = 2 * k - 1

    # First column (and, reversed, last row) v and the Toeplitz body w = 1/j! of H.
    intm = np.arange(1, m + 1)
    v = 1.0 - h**intm
    w = np.empty(m)
    fac = 1.0
    for j in intm:
        w[j - 1] = fac
        fac /= j  # may underflow for large m; harmless, those entries are negligible
        v[j - 1] *= fac
    tt = max(2 * h - 1.0, 0) ** m - 2 * h**m
    v[-1] = (1.0 + tt) * fac

    big = np.zeros([m, m])
    for i in range(1, m):
        big[i - 1 :, i] = w[: m - i + 1]
    big[:, 0] = v
    big[-1, :] = np.flip(v, axis=0)

    # H^n by repeated squaring; H is rescaled by 2^-128 when its pivot grows, the exponent kept aside.
    power = np.eye(m)
    remaining = n
    expnt = 0
    big_expnt = 0
    while remaining > 0:
        if remaining % 2:
            power = np.matmul(power, big)
            expnt += big_expnt
        big = np.matmul(big, big)
        big_expnt *= 2
        if np.abs(big[k - 1, k - 1]) > _EP128:
            big /= _EP128
            big_expnt += _E128
        remaining = remaining // 2

    # Times n!/n^n, one factor i/n at a time. Python floats round like numpy float64, and are much faster
    # in this O(n) loop; at the first rescale the value turns long double, exactly as in scipy.
    p = float(power[k - 1, k - 1])
    i = 1
    while i <= n:
        p = i * p / n
        i += 1
        if abs(p) < _EM128_AS_FLOAT:
            break
    else:
        return np.ldexp(np.float64(p), expnt) if expnt != 0 else np.float64(p)
    p_ld = np.longdouble(p) * _EP128
    expnt -= _E128
    for factor in range(i, n + 1):
        p_ld = factor * p_ld / n
        if np.abs(p_ld) < _EM128:
            p_ld *= _EP128
            expnt -= _E128
    result: np.floating = np.ldexp(p_ld, expnt) if expnt != 0 else p_ld
    return result


def _pomeranz_band(i: int, n: int, ll: int, ceilf: int, roundf: int) -> tuple[int, int]:
    """First and last column of row ``i`` of Pomeranz's table that can be non-zero."""
    if i == 0:
        j1, j2 = -ll - ceilf - 1, ll + ceilf - 1
    else:
        half, odd = divmod(i + 1, 2)
        if odd == 0:  # i is odd
            if half == n + 1:
                j1, j2 = n - ll - ceilf - 1, n + ll + ceilf - 1
            else:
                j1, j2 = half - 1 - ll - roundf - 1, half + ll - 1 + ceilf - 1
        else:
            j1, j2 = half - 1 - ll - 1, half + ll + roundf - 1
    return max(j1 + 2, 0), min(j2, n)


def pomeranz_cdf(n: int, d: float) -> np.floating:
    """``P(D_n <= d)`` by Pomeranz's recursion (CACM Algorithm 487, 1974).

    ``2n + 1`` rows, each the convolution of the previous row with one of three truncated Poisson
    weight vectors; only a band of each row is non-zero. The answer is ``n!`` times the last entry.
    """
    t = n * d
    ll = int(np.floor(t))
    f = 1.0 * (t - ll)
    g = min(f, 1.0 - f)
    ceilf = 1 if f > 0 else 0
    roundf = 1 if f > 0.5 else 0
    npwrs = 2 * (ll + 1)
    # (g/n)^m/m!, (2g/n)^m/m!, ((1-2g)/n)^m/m!: Poisson weights without their normalising factor.
    gpower = np.empty(npwrs)
    twogpower = np.empty(npwrs)
    onem2gpower = np.empty(npwrs)
    gpower[0] = 1.0
    twogpower[0] = 1.0
    onem2gpower[0] = 1.0
    expnt = 0
    g_over_n, two_g_over_n, one_minus_two_g_over_n = g / n, 2 * g / n, (1 - 2 * g) / n
    for m in range(1, npwrs):
        gpower[m] = gpower[m - 1] * g_over_n / m
        twogpower[m] = twogpower[m - 1] * two_g_over_n / m
        onem2gpower[m] = onem2gpower[m - 1] * one_minus_two_g_over_n / m

    row0 = np.zeros([npwrs])
    row1 = np.zeros([npwrs])
    row1[0] = 1
    start0, start1 = 0, 0  # column of each row's first stored entry
    j1, j2 = _pomeranz_band(0, n, ll, ceilf, roundf)
    for i in range(1, 2 * n + 2):
        k1 = j1
        row0, row1 = row1, row0
        start0, start1 = start1, start0
        row1.fill(0.0)
        j1, j2 = _pomeranz_band(i, n, ll, ceilf, roundf)
        if i == 1 or i == 2 * n + 1:
            weights = gpower
        else:
            weights = twogpower if i % 2 else onem2gpower
        width = j2 - k1 + 1
        if width > 0:
            conv = np.convolve(row0[k1 - start0 : k1 - start0 + width], weights[:width])
            row1[: j2 - j1 + 1] = conv[j1 - k1 : j2 - k1 + 1]
            if 0 < row1.max() < _EM128:  # keep the row out of underflow (max is exact: any order)
                row1 *= _EP128
                expnt -= _E128
            start1 = start0 + j1 - k1

    ans = row1[n - start1]
    for m in range(1, n + 1):  # times n!, rescaled before it overflows (turns long double, as in scipy)
        if np.abs(ans) > _EP128:
            ans *= _EM128
            expnt += _E128
        ans *= m
    if expnt != 0:
        ans = np.ldexp(ans, expnt)
    result: np.floating = ans  # numpy's stubs type an array element as Any
    return result


def pelz_good_cdf(n: int, d: float) -> np.floating:
    """``P(D_n <= d)`` by the Pelz–Good (1976) series, for large ``n`` and small to moderate ``n d^2``.

    The Li-Chien/Korolyuk expansion ``K0(z) + K1(z)/sqrt(n) + K2(z)/n + K3(z)/n^1.5`` (``z = d sqrt(n)``),
    with each ``K_i`` rewritten through Jacobi's theta transformation into fast-converging sums in
    ``q = exp(-pi^2 / (8 z^2))``. Only called with ``0 < d < 1``.
    """
    z = np.sqrt(n) * d
    zsquared, zthree, zfour, zsix = z**2, z**3, z**4, z**6

    qlog = -_PI_SQUARED / 8 / zsquared
    if qlog < _MIN_LOG:  # z below ~0.0417: the CDF underflows
        return np.float64(0.0)
    q = np.exp(qlog)

    k1a = -zsquared
    k1b = _PI_SQUARED / 4
    k2a = 6 * zsix + 2 * zfour
    k2b = (2 * zfour - 5 * zsquared) * _PI_SQUARED / 4
    k2c = _PI_FOUR * (1 - 2 * zsquared) / 16
    k3d = _PI_SIX * (5 - 30 * zsquared) / 64
    k3c = _PI_FOUR * (-60 * zsquared + 212 * zfour) / 16
    k3b = _PI_SQUARED * (135 * zfour - 96 * zsix) / 4
    k3a = -30 * zsix - 90 * z**8

    # Sum over odd m = 2k - 1 of c(m) q^(m^2), by Horner in q^8k, all four K_i at once.
    k_sums = np.zeros(4)
    maxk = int(np.ceil(16 * z / np.pi))
    for k in range(maxk, 0, -1):
        m = 2 * k - 1
        msquared, mfour, msix = m**2, m**4, m**6
        qpower = np.power(q, 8 * k)
        coeffs = np.array(
            [
                1.0,
                k1a + k1b * msquared,
                k2a + k2b * msquared + k2c * mfour,
                k3a + k3b * msquared + k3c * mfour + k3d * msix,
            ]
        )
        k_sums *= qpower
        k_sums += coeffs
    k_sums *= q
    k_sums *= _SQRT2PI
    k_sums /= np.array([z, 6 * zfour, 72 * z**7, 6480 * z**10])  # z > 0.04, so z^10 > 0

    # K2 and K3 also carry sums over all integers k of (polynomial in k) q'^(k^2), q' = exp(-pi^2/(2z^2)).
    q = np.exp(-_PI_SQUARED / 2 / zsquared)
    ks = np.arange(maxk, 0, -1)
    ksquared = ks**2
    sqrt3z = _SQRT3 * z
    kspi = np.pi * ks
    qpwers = q**ksquared
    k2extra = np.sum(ksquared * qpwers)
    k2extra *= _PI_SQUARED * _SQRT2PI / (-36 * zthree)
    k_sums[2] += k2extra
    k3extra = np.sum((sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwers)
    k3extra *= _PI_SQUARED * _SQRT2PI / (216 * zsix)
    k_sums[3] += k3extra
    k_sums /= np.power(n * 1.0, np.arange(len(k_sums)) / 2.0)
    return np.float64(sum(k_sums))  # builtin sum: left to right from 0, as in scipy; float64 already


def sf_branch(d: float, n: int) -> str:
    """Name of the method :func:`kolmogorov_sf` uses for ``(d, n)``: for tests and diagnostics.

    Not a reference copy: it runs the same ``_evaluate`` as :func:`kolmogorov_sf` (only skipping the value),
    so the branch it names is the one the real computation takes. The tests use it to prove each of scipy's
    branches is exercised and matched bit for bit; a copy of the branch logic in tests/ could drift from it.
    """
    return _evaluate(d, n, want_value=False)[0]


def kolmogorov_sf(d: float, n: int) -> float:
    """``P(D_n >= d)`` for the two-sided one-sample KS statistic: ``scipy.stats.kstwo.sf(d, n)``.

    Same branches and the same floating-point operations as scipy (see the module notes), so equal to
    scipy's value bit for bit on the platform it runs on. ``d <= 1/(2n)`` gives 1, ``d >= 1`` gives 0,
    NaN ``d`` or an ``n`` that is not a positive integer gives NaN.
    """
    return _evaluate(d, n, want_value=True)[1]


def _evaluate(d: float, n: int, *, want_value: bool) -> tuple[str, float]:
    """``(branch name, sf)``; with ``want_value=False`` the (possibly slow) value is skipped (NaN)."""
    # rv_continuous.sf: bad shape or NaN x -> NaN; x at or below the support start (0.5/n) -> 1; x at or
    # above its end (1) -> 0.
    if not (n >= 1 and float(n).is_integer()):  # also rejects NaN and inf
        return "invalid", float("nan")
    n = int(n)
    x = np.float64(d)
    if np.isnan(x):
        return "nan", float("nan")
    if x <= 0.5 / float(n):
        return "below-support", 1.0
    if x >= 1.0:
        return "above-support", 0.0

    t = n * x
    if t <= 1.0:
        return _ruben_gambino_low(n, t, want_value)
    if t >= n - 1:
        # Ruben & Gambino: P(D_n >= d) = 2 (1 - d)^n for d >= 1 - 1/n.
        return "ruben-gambino-high", _clip(2 * (1.0 - x) ** n)
    if x >= 0.5:
        # D_n^+ >= d and D_n^- >= d cannot both happen for d >= 1/2: exactly twice the one-sided tail.
        return _branch("one-sided-exact", lambda: _clip(2 * smirnov(n, x)), want_value)
    if n <= SMALL_N_MAX:
        return _small_n(n, x, t * x, want_value)
    return _large_n(n, x, t * x, want_value)


def _branch(name: str, value: Callable[[], float], want_value: bool) -> tuple[str, float]:
    """The branch's name and, when wanted, its value (computed only then: some branches are slow)."""
    return name, value() if want_value else float("nan")


def _ruben_gambino_low(n: int, t: float, want_value: bool) -> tuple[str, float]:
    """Ruben & Gambino (1982): P(D_n <= d) = n!/n^n (2nd - 1)^n for 1/(2n) <= d <= 1/n (t = n d)."""
    if t <= 0.5:  # rounding can put n*x at 0.5 although x > 0.5/n
        return "below-support", 1.0
    if not want_value:
        return "ruben-gambino-low", float("nan")
    if n <= SMALL_N_MAX:
        prob = np.prod(np.arange(1, n + 1) * (1.0 / n) * (2 * t - 1))
    else:
        prob = np.exp(_log_factorial_over_power(n) + n * np.log(2 * t - 1))
    return "ruben-gambino-low", _clip(1.0 - prob)


def _small_n(n: int, x: float, nxsquared: float, want_value: bool) -> tuple[str, float]:
    """n <= SMALL_N_MAX between the Ruben–Gambino ends: Durbin, Pomeranz, or Miller's one-sided tail."""
    if nxsquared <= DURBIN_SMALL_N_MAX_NDSQ:
        return _branch("durbin-small-n", lambda: _clip(1.0 - _clip_keep(durbin_cdf(n, x))), want_value)
    if nxsquared <= POMERANZ_MAX_NDSQ:
        return _branch("pomeranz", lambda: _clip(1.0 - _clip_keep(pomeranz_cdf(n, x))), want_value)
    # Miller's approximation: the two-sided tail is twice the one-sided one to within P(both) which
    # is negligible here.
    return _branch("one-sided-small-n", lambda: _clip(2 * smirnov(n, x)), want_value)


def _large_n(n: int, x: float, nxsquared: float, want_value: bool) -> tuple[str, float]:
    """n > SMALL_N_MAX between the Ruben–Gambino ends: zero, one-sided series, Durbin or Pelz–Good."""
    if nxsquared >= ZERO_MIN_NDSQ:
        return "zero", 0.0
    if nxsquared >= SERIES_MIN_NDSQ:
        return _branch("one-sided-large-n", lambda: _clip(2 * smirnov(n, x)), want_value)
    # scipy's CDF side also has "n d^2 >= 18 -> CDF = 1", unreachable here as n d^2 < 2.2.
    if n <= DURBIN_LARGE_N_MAX and n * np.power(x, 1.5) <= DURBIN_LARGE_N_MAX_ND15:
        # np.power, not x**1.5: scipy applies ** to a 0-d array, which dispatches to the ufunc.
        return _branch("durbin-large-n", lambda: _clip(1.0 - _clip_keep(durbin_cdf(n, x))), want_value)
    return _branch("pelz-good", lambda: _clip(1.0 - _clip_keep(pelz_good_cdf(n, x))), want_value)


def _clip_keep(p: np.floating) -> np.floating:
    """Clip a CDF to ``[0, 1]`` keeping its precision (scipy clips the CDF before forming 1 - CDF)."""
    clipped: np.floating = np.clip(p, 0.0, 1.0)
    return clipped
