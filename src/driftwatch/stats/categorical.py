"""Counts for categorical features: reference categories, one "unseen" bin, one missing bin.

Layout of every count vector: one slot per reference category (in the reference's order), then
``unseen`` (non-missing values not among the reference categories), then ``missing``. Missing means
None / null only (a float NaN from a pandas object column counts too); for string data nothing else is
missing: ``""``, ``"nan"`` and ``"null"`` are ordinary categories. Values must be strings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import polars as pl

UNSEEN_SLOT = -2
MISSING_SLOT = -1

CategoricalValues = Sequence[str | None] | np.ndarray | pl.Series

_POLARS_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum, pl.Null)


def _tally(values: CategoricalValues) -> tuple[dict[str, int], int]:
    """``({category: count}, n_missing)`` for the non-missing and missing values."""
    if isinstance(values, pl.Series):
        if not isinstance(values.dtype, _POLARS_TEXT_TYPES):
            raise TypeError(
                f"categorical values must be strings, got polars dtype {values.dtype}; cast first"
            )
        frame = values.rename("value").value_counts(name="n")
        pairs: Iterable[tuple[object, int]] = zip(
            frame.get_column("value").to_list(), frame.get_column("n").to_list(), strict=True
        )
    else:
        if isinstance(values, np.ndarray) and values.ndim != 1:
            raise ValueError(f"values must be one-dimensional, got shape {values.shape}")
        if isinstance(values, str):
            raise TypeError("values must be a sequence of strings, not one string")
        items = values.tolist() if isinstance(values, np.ndarray) else values
        pairs = Counter(items).items()
    found: dict[str, int] = {}
    n_missing = 0
    for value, count in pairs:
        if value is None or (isinstance(value, float) and value != value):
            n_missing += count
        elif isinstance(value, str):
            found[value] = count
        else:
            raise TypeError(
                f"categorical values must be strings or None, got {type(value).__name__}: {value!r}"
            )
    return found, n_missing


def _checked_categories(categories: Sequence[str]) -> list[str]:
    checked = list(categories)
    for category in checked:
        if not isinstance(category, str):
            raise TypeError(f"categories must be strings, got {type(category).__name__}: {category!r}")
    if len(set(checked)) != len(checked):
        raise ValueError("categories must be unique")
    return checked


def category_counts(values: CategoricalValues, categories: Sequence[str]) -> np.ndarray:
    """int64 counts ``[each category..., unseen, missing]`` of ``values`` against reference ``categories``."""
    ordered = _checked_categories(categories)
    found, n_missing = _tally(values)
    counts = np.zeros(len(ordered) + 2, dtype=np.int64)
    for slot, category in enumerate(ordered):
        counts[slot] = found.pop(category, 0)
    counts[UNSEEN_SLOT] = sum(found.values())
    counts[MISSING_SLOT] = n_missing
    return counts


def reference_categories(values: CategoricalValues) -> tuple[list[str], np.ndarray]:
    """Reference categories by descending count, ties by name (code-point order), and their counts.

    The counts use the :func:`category_counts` layout, so ``unseen`` is 0 and the last slot is the
    reference's missing count; ``category_counts(values, categories)`` returns the same vector.
    """
    found, n_missing = _tally(values)
    categories = sorted(found, key=lambda category: (-found[category], category))
    counts = np.array([found[c] for c in categories] + [0, n_missing], dtype=np.int64)
    return categories, counts


def unseen_share(counts: np.ndarray) -> float:
    """Share of rows whose value is not a reference category: ``counts[unseen] / n_rows``; NaN if none."""
    array = np.asarray(counts)
    if array.ndim != 1 or array.size < 2:
        raise ValueError("counts must be a one-dimensional categorical count vector (length >= 2)")
    total = array.sum()
    if total == 0:
        return float("nan")
    return float(array[UNSEEN_SLOT] / total)
