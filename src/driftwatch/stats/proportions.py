"""Interval of a proportion k/n: Wilson's score limits (used by the performance verdicts and by the version
comparison's decision agreement)."""

from __future__ import annotations

import math


def wilson_limits(proportion: float, n: float, z: float) -> tuple[float, float]:
    """Wilson score limits (low, high) of a proportion from n trials at ``z``; NaN if n < 1.

    (p + z²/2n ± z·sqrt(p(1 − p)/n + z²/4n²)) / (1 + z²/n). Source: Wilson (1927), JASA 22:209–212; recommended
    over the Wald interval near 0 and 1 by Brown, Cai & DasGupta (2001), Statistical Science 16:101–133."""
    if not (n >= 1 and math.isfinite(proportion)):
        return math.nan, math.nan
    z2 = z * z
    centre = (proportion + z2 / (2.0 * n)) / (1.0 + z2 / n)
    half = z / (1.0 + z2 / n) * math.sqrt(max(proportion * (1.0 - proportion), 0.0) / n + z2 / (4.0 * n * n))
    return centre - half, centre + half
