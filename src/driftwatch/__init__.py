"""driftwatch: drift and model-quality monitoring.

The library entry points are `driftwatch.compare(reference, current)` and `driftwatch.validate(...)`; the service and CLI are `driftwatch --help`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["compare", "validate", "__version__"]

if TYPE_CHECKING:
    from driftwatch.comparison import CompareResult
    from driftwatch.validation import ValidateResult


def compare(reference: object, current: object, **options: Any) -> CompareResult:
    """Compare two datasets feature by feature; see `driftwatch.comparison.compare` for the options."""
    from driftwatch.comparison import compare as _compare

    return _compare(reference, current, **options)


def validate(reference: object, current: object, **options: Any) -> ValidateResult:
    """Judge a model's realized metrics on `current` against bars (`thresholds=["auc=0.85"]`); see
    `driftwatch.validation.validate` for the options. `result.passed` is the gate."""
    from driftwatch.validation import validate as _validate

    return _validate(reference, current, **options)
