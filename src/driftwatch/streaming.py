"""`driftwatch compare --memory-budget`: a current Parquet file larger than memory, streamed through partials.

The reference is read and profiled as usual (its profile is what every comparison holds: the sorted values
of each numeric feature, docs/scale.md); the current file is then read in Arrow record batches sized from the
budget, each batch's rows refused as in memory (`comparison.without_refused_rows`) and turned into one
mergeable partial per feature (`stats.partials`), merged, and finished into the same statistics and decision
as the in-memory comparison. Only Wasserstein differs: an estimate with a bound, marked in the output
(`wasserstein_exact: false`, `wasserstein_norm_bound`).

What the budget bounds: the reference profiles (measured as the process's RSS growth once they are built), the
partials and the batch in flight with its working copies (planned by :func:`plan_batch_rows`). What it does
not: the process as the call finds it (the interpreter, numpy, numba, pyarrow: the fixed overhead measured in
docs/scale.md), and the reference table while it is read and profiled, which is dropped before the stream.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from driftwatch.comparison import (
    CompareOptions,
    CompareResult,
    ComparisonPlan,
    _ArrowColumns,
    _Columns,
    _columns,
    as_table,
    judged_result,
    load_statistics,
    reference_profile,
    with_role,
    without_refused_rows,
)
from driftwatch.config.server import parse_size
from driftwatch.errors import InputError
from driftwatch.sources.batches import ParquetShape, parquet_batches, parquet_dataset_files, parquet_shape
from driftwatch.sources.frames import checked_path
from driftwatch.sources.object_parquet import ObjectStoreOptions, is_object_url

if TYPE_CHECKING:
    from driftwatch.stats.feature_drift import FeatureDrift
    from driftwatch.stats.partials import Accumulator, Partial
    from driftwatch.stats.profile import FeatureProfile

PLANNED_SHARE = 0.9
"""The share of the budget the plan spends; the rest absorbs what the model does not see (allocator slack,
Arrow's buffers): measured, the peaks of 10M- and 50M-row streams stayed under the budget plus the process's
RSS before the call (docs/benchmarks.md)."""
MIN_BATCH_ROWS = 16_384
"""Smaller batches cost more per row than they save; a budget that cannot hold this many is refused."""
MAX_BATCH_ROWS = 1_048_576
"""Past this the batch is large enough that per-batch costs vanish (the sort per value even gets cheaper with
smaller batches); more only costs memory. It is also a common Parquet row-group size."""
WORKING_BYTES_PER_VALUE = 64
"""Bytes a numeric feature's job holds per value of a batch (measured, rounded up): the float64 column, its sorted copy, the
radix sort's second buffer and masks (~40), with room for the allocator's slack."""
STREAM_WORKERS = 2
ARROW_COPIES = 3
"""Decoded copies of a batch's columns at once: the reader's row groups it slices the batch from (and joins,
when a batch spans two), the batch, and its copy without refused rows. Measured: with 2 the peak of a 10M-row
stream went past the budget by a third (docs/benchmarks.md)."""
"""Features of one batch computed at once (threads): each holds its working copies."""


@dataclass(frozen=True)
class BatchPlan:
    """How the budget is spent: what is held throughout, and the rows of one batch."""

    budget: int
    held: int  # reference profiles and partials, bytes
    per_row: int  # bytes per row of a batch in flight
    batch_rows: int


def profile_bytes(profile: FeatureProfile) -> int:
    """Bytes a profile holds: the sorted reference values of a numeric feature, the counts of a categorical."""
    from driftwatch.stats.profile import NumericProfile

    if isinstance(profile, NumericProfile):
        return 8 * int(profile.sorted_values.size) + 2 * int(profile.bin_counts.nbytes)
    return 2 * int(profile.bin_counts.nbytes) + 200 * len(profile.categories)


def accumulator_bytes(profile: FeatureProfile) -> int:
    """Bytes its running partial (`stats.partials.Accumulator`) holds: for a numeric feature the distinct
    reference values and their counts (16 K) and the 2K + 1 counts (16 K + 8), K <= reference rows."""
    from driftwatch.stats.profile import NumericProfile

    if isinstance(profile, NumericProfile):
        return 32 * int(profile.sorted_values.size) + 8
    return 200 * len(profile.categories)


def plan_batch_rows(
    budget: int,
    profiles: Sequence[FeatureProfile],
    shape: ParquetShape,
    columns: Sequence[str],
    used: int | None = None,
) -> BatchPlan:
    """The batch size that keeps the profiles, partials and one batch's working memory within `budget`.

    `used`: what the comparison already holds, measured (the process's RSS growth since the call began: the
    profiles and whatever reading the reference left behind); without it the profiles' own size is taken.
    Per row of a batch: its decoded columns `ARROW_COPIES` times and the working copies of `STREAM_WORKERS`
    numeric features at a time. Raises InputError when the budget cannot hold all that and a batch of
    `MIN_BATCH_ROWS`.
    """
    estimated = sum(profile_bytes(p) for p in profiles)
    held = max(estimated, used or 0) + sum(accumulator_bytes(p) for p in profiles)
    arrow = sum(shape.bytes_per_row.get(c, 8.0) for c in columns)
    per_row = int(ARROW_COPIES * arrow + STREAM_WORKERS * WORKING_BYTES_PER_VALUE) + 1
    rows = (int(budget * PLANNED_SHARE) - held) // per_row
    if rows < MIN_BATCH_ROWS:
        raise InputError(
            f"memory budget {budget:,} bytes is too small: the reference profiles take {held:,} bytes and a "
            f"batch of {MIN_BATCH_ROWS:,} rows {MIN_BATCH_ROWS * per_row:,} more (docs/scale.md)"
        )
    return BatchPlan(budget, held, per_row, int(min(rows, MAX_BATCH_ROWS)))


def resident_bytes() -> int | None:
    """This process's resident memory (Linux /proc), or None where it cannot be read."""
    import os

    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def budget_bytes(memory_budget: int | str) -> int:
    """The budget in bytes from 2147483648, "2GiB", "512 MiB"; InputError otherwise."""
    try:
        value = parse_size(memory_budget)
    except ValueError as exc:
        raise InputError(f"--memory-budget {memory_budget!r}: {exc}") from None
    if value <= 0:
        raise InputError(f"--memory-budget must be positive, got {memory_budget!r}")
    return value


def compare_streaming(
    reference: object,
    current: object,
    options: CompareOptions | None = None,
    *,
    memory_budget: int | str,
) -> CompareResult:
    """`driftwatch.comparison.compare` with the current Parquet file streamed within `memory_budget`.

    Same options and result; the features' `wasserstein_bound` is set (W1 is an estimate within it).
    """
    options = options or CompareOptions()
    budget = budget_bytes(memory_budget)
    formats = options.formats
    store = options.store
    files, shape = _current_shape(current, formats[1], options.features_column, store)
    load_statistics()
    start_rss = resident_bytes()  # the process before the comparison: the fixed overhead, not budgeted
    ref_table = as_table(reference, "reference", formats[0], options.features_column, store)
    ref = _columns(ref_table)
    del ref_table
    plan = options.plan(ref, _ArrowColumns(shape.schema.empty_table()))
    ref, excluded_ref = without_refused_rows(ref, plan.checked, "reference")
    profiled = [reference_profile(ref, name, is_num, options.bins) for name, is_num, _ in plan.to_judge]
    rows_reference = ref.height
    del ref  # the reference's rows are no longer needed: only its profiles
    _release_arrow_memory()
    profiles = [p for p, _ in profiled]
    columns = [name for name, _, _ in plan.to_judge]
    now_rss = resident_bytes()
    used = None if start_rss is None or now_rss is None else max(0, now_rss - start_rss)
    batch_plan = plan_batch_rows(budget, profiles, shape, columns, used)
    partials, rows_current, excluded_cur = stream_partials(
        files, plan, profiles, batch_plan.batch_rows, store
    )
    done = _finished(plan, profiles, partials, [note for _, note in profiled])
    return judged_result(
        plan, done, options.thresholds, (rows_reference, rows_current), (excluded_ref, excluded_cur)
    )


def _release_arrow_memory() -> None:
    """Hand memory Arrow freed back to the OS, so the stream starts from the profiles alone."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _current_shape(
    current: object, fmt: str, features_column: str, store: ObjectStoreOptions
) -> tuple[list[str], ParquetShape]:
    """The files to stream (one local file, or the objects of an ``s3://`` dataset in key order) and the
    shape the batches are planned from: the first file's schema, each column's largest bytes per row."""
    if not isinstance(current, str | Path):
        raise InputError("--memory-budget streams the current data from a Parquet file: give a path")
    path, kind = checked_path(current, "current", fmt)
    if kind != "parquet":
        raise InputError(
            f"--memory-budget streams Parquet; the current file is {kind}: convert it to Parquet, or compare "
            "in memory without --memory-budget"
        )
    if is_object_url(str(current)):
        files = [str(f) for f in parquet_dataset_files(str(current), "current", store)]
    else:
        files = [str(path)]
    shapes = [parquet_shape(f, "current", store) for f in files]
    shape = shapes[0]
    if len(shapes) > 1:
        widest = {c: max(s.bytes_per_row.get(c, 0.0) for s in shapes) for c in shape.bytes_per_row}
        rows = sum(s.rows for s in shapes)
        shape = replace(shape, rows=rows, row_groups=sum(s.row_groups for s in shapes), bytes_per_row=widest)
    if features_column in shape.schema.names:
        raise InputError(
            f"--memory-budget needs one column per feature; the current file keeps them in {features_column!r}"
            " (a prediction log): flatten it first, or compare in memory without --memory-budget"
        )
    return files, shape


def stream_partials(
    current: str | Path | Sequence[str],
    plan: ComparisonPlan,
    profiles: Sequence[FeatureProfile],
    batch_rows: int,
    store: ObjectStoreOptions | None = None,
) -> tuple[list[Partial], int, dict[str, int]]:
    """Each feature's merged partial over the file (or the files, one after the other: partials merge
    exactly), the rows kept and the rows refused by reason."""
    import pyarrow as pa

    from driftwatch.stats.parallel import map_features
    from driftwatch.stats.partials import Accumulator

    # Built on the threads too: each derives its profile's distinct values once (a pass over the reference).
    accumulators = map_features(
        [functools.partial(Accumulator, p) for p in profiles], MIN_BATCH_ROWS * 4, workers=STREAM_WORKERS
    )
    rows = 0
    refused: dict[str, int] = {}
    columns = list(dict.fromkeys(name for name, _, _ in plan.to_judge))
    files = [current] if isinstance(current, str | Path) else list(current)
    batches = (b for f in files for b in parquet_batches(f, columns, batch_rows, store))
    for batch in batches:
        table, reasons = without_refused_rows(
            _ArrowColumns(pa.Table.from_batches([batch])), plan.checked, "current"
        )
        del batch
        for reason, count in reasons.items():
            refused[reason] = refused.get(reason, 0) + count
        rows += table.height
        jobs = [functools.partial(_count_chunk, table, a) for a in accumulators]
        map_features(jobs, table.height, workers=STREAM_WORKERS)
        del table, jobs
    return [a.partial() for a in accumulators], rows, refused


def _count_chunk(table: _Columns, accumulator: Accumulator) -> None:
    from driftwatch.stats.profile import NumericProfile

    name = accumulator.profile.name
    if isinstance(accumulator.profile, NumericProfile):
        accumulator.add_values(table.numeric_values(name, "current"))
    else:
        accumulator.add_value_counts(table.value_counts(name, "current"))


def _finished(
    plan: ComparisonPlan,
    profiles: Sequence[FeatureProfile],
    partials: Sequence[Partial],
    notes: Sequence[str | None],
) -> list[tuple[FeatureDrift, np.ndarray, str | None]]:
    from driftwatch.stats.partials import finish

    return [
        (with_role(finish(partial, profile), role), profile.bin_counts, note)
        for (_, _, role), profile, partial, note in zip(plan.to_judge, profiles, partials, notes, strict=True)
    ]
