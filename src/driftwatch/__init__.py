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
    """Compare two datasets feature by feature; see `driftwatch.comparison.compare` for the options.

    `memory_budget` (bytes, or "2GiB"): stream the current Parquet file within that much memory instead of
    reading it whole (`driftwatch.streaming.compare_streaming`, docs/scale.md).
    `engine="dask"` with `scheduler="tcp://HOST:8786"` (or `client=`): count the current Parquet dataset on a
    Dask cluster (`driftwatch.distributed.compare_dask`, docs/scale.md).
    """
    from driftwatch.comparison import CompareOptions, compare_in_memory
    from driftwatch.errors import InputError

    engine = options.pop("engine", "local")
    memory_budget = options.pop("memory_budget", None)
    cluster = {k: options.pop(k) for k in ("scheduler", "client", "connect_timeout") if k in options}
    if engine not in ("local", "dask"):
        raise InputError(f"engine must be 'local' or 'dask', got {engine!r}")
    if engine == "dask" and memory_budget is not None:
        raise InputError("--memory-budget is for one machine; --engine dask reads a row group per task")
    if engine == "local" and cluster:
        raise TypeError(f"compare() got {', '.join(cluster)} without engine='dask'")
    settings = CompareOptions(**options)  # an unknown option is a TypeError naming it, as before
    if engine == "dask":
        from driftwatch.distributed import compare_dask

        return compare_dask(reference, current, settings, **cluster)
    if memory_budget is not None:
        from driftwatch.streaming import compare_streaming

        return compare_streaming(reference, current, settings, memory_budget=memory_budget)
    return compare_in_memory(reference, current, settings)


def validate(reference: object, current: object, **options: Any) -> ValidateResult:
    """Judge a model's realized metrics on `current` against bars (`thresholds=["auc=0.85"]`); see
    `driftwatch.validation.validate` for the options. `result.passed` is the gate."""
    from driftwatch.validation import validate as _validate

    return _validate(reference, current, **options)
