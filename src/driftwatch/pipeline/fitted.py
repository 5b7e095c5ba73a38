"""What the reference-fitted estimators (DLE's loss model, multiclass CBPE's calibrators) share: a per-process
cache that keeps each monitor's latest fit only, and float columns of their Arrow reads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

T = TypeVar("T")


class LatestFit(Generic[T]):
    """Fits keyed (database path, monitor, ...): `get` fits once per key, and a new key of a monitor (its
    reference or settings changed) frees the monitor's older fit. A fit may be a note of why there is none."""

    def __init__(self) -> None:
        self._fits: dict[tuple[Hashable, ...], T] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Hashable, ...], fit: Callable[[], T]) -> T:
        with self._lock:
            hit = self._fits.get(key)
        if hit is not None:
            return hit
        fitted = fit()
        with self._lock:
            for old in [k for k in self._fits if k[:2] == key[:2]]:
                del self._fits[old]
            self._fits[key] = fitted
        return fitted


def floats(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric column as float64, missing as NaN (vectorised: a window may hold millions of rows)."""
    filled = pc.fill_null(pc.cast(column, pa.float64()), float("nan"))
    return np.asarray(filled.to_numpy(), dtype=np.float64)
