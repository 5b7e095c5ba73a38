"""Many features' statistics at once, on the machine's cores.

Sorting a window's column (``np.sort`` or the radix kernel, see :mod:`driftwatch.stats.sorting`) and the numba
merge kernels release the GIL, so plain threads run the features of one window side by side without copying
any array to another process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

MIN_ROWS_FOR_THREADS = 50_000
"""Below this many values per feature a thread hand-off costs more than it saves."""


def default_workers() -> int:
    """One thread per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def map_features(work: Sequence[Callable[[], T]], rows: int, workers: int | None = None) -> list[T]:
    """Run each zero-argument job and return the results in order; on threads when the jobs are big enough.

    ``rows`` is the typical size of one job's input: small windows run inline, where thread start-up would
    dominate. An exception in any job is raised here, as it would be inline.
    """
    n = min(default_workers() if workers is None else workers, len(work))
    if n <= 1 or rows < MIN_ROWS_FOR_THREADS:
        return [job() for job in work]
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="driftwatch-stats") as pool:
        return list(pool.map(lambda job: job(), work))
