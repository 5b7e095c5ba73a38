"""Sorting a column's valid values with whichever of numpy's sort and the radix kernel is faster on this CPU.

Sorting the window is ~90 % of a numeric feature's statistics, and ``np.sort``'s speed depends on the SIMD
path numpy picked for the CPU at import: on an AMD EPYC (Zen 4, AVX-512) it took 53 ms per 1M float64
against 6.3 ms on the Intel machine of the earlier benchmarks and 9.8 ms on the same AMD machine with numpy
forced onto AVX2 (``NPY_DISABLE_CPU_FEATURES``, which a library cannot set: numpy reads it once, at
import, for the whole process). :func:`driftwatch.kernels.sort.radix_sorted_valid` takes ~15 ms there and
~2-3x numpy's time where numpy's path is fast. Neither fixed choice stays within 1.5x of the faster one on
every CPU, so the first large sort of a process times both once (:func:`calibrate`) and keeps the faster.

Why this calibration is robust: it only ever chooses between two sorts that return the same values, so a
wrong pick costs time, never a different result; and a pick is only wrong when the two are close (within
:data:`RADIX_MARGIN`, the benefit of the doubt given to numpy), where either is within 1.5x of the other.
The gaps it exists for are 3-5x, far beyond the noise of the best of three interleaved timings of the thread's
CPU time, which preemption by other processes does not inflate.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np

from driftwatch.kernels.sort import radix_sorted_valid
from driftwatch.stats.binning import as_float_column

SortMethod = Literal["numpy", "radix"]
SORT_METHODS: Final[tuple[SortMethod, ...]] = ("numpy", "radix")

CALIBRATION_MIN_ROWS: Final[int] = 65_536
"""Below this many values ``np.sort`` is used without calibrating: a few hundred microseconds at most."""
CALIBRATION_ROWS: Final[int] = 1 << 17
"""Size of the calibration sample (1 MiB of float64): large enough that both sorts run as on a window."""
CALIBRATION_ROUNDS: Final[int] = 3
RADIX_MARGIN: Final[float] = 1.25
"""The radix sort is chosen only when numpy's best time is this many times its best time or more.

numpy keeps ties because it needs one buffer where the radix sort needs two."""


@dataclass(frozen=True)
class SortCalibration:
    """The best of :data:`CALIBRATION_ROUNDS` timings (thread CPU seconds) of each sort on one sample, and the
    choice."""

    rows: int
    numpy_seconds: float
    radix_seconds: float
    method: SortMethod


def sorted_valid_numpy(column: np.ndarray) -> np.ndarray:
    """The non-NaN values of a contiguous float64 column, ascending, by ``np.sort``.

    numpy sorts NaN to the end, so one sort plus one binary search for the first NaN replaces a separate
    NaN filter pass.
    """
    ordered = np.sort(column)
    return ordered[: int(np.searchsorted(ordered, np.nan, side="left"))]


def sorted_valid_radix(column: np.ndarray) -> np.ndarray:
    """The same values as :func:`sorted_valid_numpy`, by the radix kernel (-0.0 always before 0.0)."""
    return radix_sorted_valid(column)


_SORTS = {"numpy": sorted_valid_numpy, "radix": sorted_valid_radix}


def calibrate(rows: int = CALIBRATION_ROWS, rounds: int = CALIBRATION_ROUNDS) -> SortCalibration:
    """Time both sorts on ``rows`` seeded normal values, interleaved, and choose (see the module doc).

    Both sorts run on the calling thread, so its CPU time measures them: unlike the wall clock it does not
    count the time other processes hold the core, which on a loaded machine is most of it.
    """
    sample = np.random.default_rng(20261206).normal(size=rows)
    radix_sorted_valid(sample[:16])  # load (or compile) the kernel outside the timing
    best = {"numpy": np.inf, "radix": np.inf}
    for _ in range(rounds):
        for method, sort in _SORTS.items():
            start = time.thread_time()
            sort(sample)
            best[method] = min(best[method], time.thread_time() - start)
    chosen: SortMethod = "radix" if best["numpy"] >= RADIX_MARGIN * best["radix"] else "numpy"
    return SortCalibration(rows, best["numpy"], best["radix"], chosen)


_lock = threading.Lock()
_calibration: SortCalibration | None = None


def process_calibration() -> SortCalibration:
    """This process's calibration, measured on first use (one thread measures, the others wait for it)."""
    global _calibration
    with _lock:
        if _calibration is None:
            _calibration = calibrate()
        return _calibration


def sorted_valid(values: object, method: SortMethod | None = None) -> np.ndarray:
    """Non-missing values ascending, float64: NaN (and None) dropped, ``±inf`` kept as values.

    ``method`` forces one sort; by default small columns use numpy's and large ones the faster of the two
    on this CPU (:func:`process_calibration`). Both give the same values in the same order (only -0.0 and
    0.0 may trade places, which no comparison sees). Raises TypeError/ValueError for non-numeric or
    multi-dimensional input (see ``as_float_column``), and ValueError for an unknown ``method``.
    """
    column = as_float_column(values)
    if method is None:
        method = "numpy" if column.size < CALIBRATION_MIN_ROWS else process_calibration().method
    elif method not in _SORTS:
        raise ValueError(f"method must be one of {', '.join(SORT_METHODS)}, got {method!r}")
    return _SORTS[method](column)
