"""Stored values as JSON can carry them: NaN and ±inf (which JSON has no spelling for) become null."""

from __future__ import annotations

import math
from typing import Any


def finite(value: Any) -> Any:
    """NaN/inf → None, so JSON stays valid; every other value as it is."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def finite_values(row: dict[str, Any]) -> dict[str, Any]:
    """The row with each value through `finite`."""
    return {key: finite(value) for key, value in row.items()}
