"""How long labels take to arrive: median and 90th-percentile delay from prediction to label."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class LabelDelay:
    """Label delay in seconds over the labelled rows. ``n_negative`` counts labels stamped before their
    prediction (clock skew upstream); they are kept in the quantiles, so skew shows instead of hiding."""

    median_seconds: float
    p90_seconds: float
    n: int
    n_negative: int


def _delay_seconds(prediction_ts: ArrayLike, label_ts: ArrayLike) -> NDArray[np.float64]:
    predicted = np.asarray(prediction_ts)
    labelled = np.asarray(label_ts)
    if predicted.shape != labelled.shape or predicted.ndim != 1:
        raise ValueError(
            f"timestamp arrays must be 1-D and aligned, got {predicted.shape} and {labelled.shape}"
        )
    kinds = {predicted.dtype.kind, labelled.dtype.kind}
    if kinds == {"M"}:
        # Subtract in datetime64 first (exact integer ticks), then convert: epoch floats would lose precision.
        return np.asarray((labelled - predicted) / np.timedelta64(1, "s"), dtype=np.float64)
    if kinds <= set("iuf"):
        return labelled.astype(np.float64) - predicted.astype(np.float64)
    raise ValueError(
        f"timestamps must both be datetime64 or both numeric epoch seconds, got {predicted.dtype} and {labelled.dtype}"
    )


def label_delay(prediction_ts: ArrayLike, label_ts: ArrayLike) -> LabelDelay:
    """Median and p90 of d_i = label_ts_i − prediction_ts_i in seconds, over rows where both are present.

    Timestamps: ``datetime64`` (any unit; naive means UTC) or numeric epoch seconds, the two arrays aligned
    row by row. Rows with NaT/NaN on either side (not yet labelled) are ignored; with none left both
    quantiles are NaN. Quantiles use numpy's default linear interpolation (Hyndman & Fan 1996, definition 7).
    """
    delay = _delay_seconds(prediction_ts, label_ts)
    delay = delay[np.isfinite(delay)]
    if delay.size == 0:
        return LabelDelay(float("nan"), float("nan"), 0, 0)
    median, p90 = np.quantile(delay, [0.5, 0.9])
    return LabelDelay(float(median), float(p90), int(delay.size), int((delay < 0).sum()))
