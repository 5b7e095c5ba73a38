"""`driftwatch compare --engine dask`: the current Parquet dataset compared on a Dask cluster, exactly.

The work is cut as the streamed comparison cuts it (`driftwatch.streaming`, `stats.partials`): the reference
is read and profiled once, on the client, and its profiles are scattered to every worker (broadcast: each
worker deserialises them once and derives each numeric feature's layout once). Then one task per Parquet row
group reads its columns, leaves out the refused rows (`comparison.without_refused_rows`, the same rule row by
row as in memory) and counts one partial per feature; the partials are merged on the workers in a tree
(`SPLIT_EVERY` at a time, `stats.partials.merge`: integer additions, so any partitioning and any order of
merging give the same integers) and the one merged partial per feature is finished on the client. So the
result is the single-node one: D, p, PSI, χ², JS and Hellinger bit for bit with the in-memory comparison,
Wasserstein as the streamed comparison gives it (an estimate with its bound, marked in the output).

Dask is an optional extra (``pip install 'driftwatch[dask]'``), imported here only, and only when used.
A worker lost mid-computation costs its tasks, which the scheduler runs again elsewhere (a task's inputs are
a file path and the broadcast profiles); a task that fails is retried `RETRIES` times. The profiles are soon
held by one worker only (Dask's Active Memory Manager drops broadcast copies), and Dask does not make a
scattered value again: lost with that worker, they cancel the run, which is then made once more
(`count_on_cluster`).
A scheduler that cannot be reached, has no worker, or loses all of them for the timeout is a
`ClusterUnavailable` error, never an endless wait. A monitor's `compute:` (`pipeline.cluster_windows`) uses the
same client, packing and waits for its windows.
docs/scale.md has how to run it on a real cluster and its cost model.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftwatch.comparison import (
    CompareOptions,
    CompareResult,
    _ArrowColumns,
    _columns,
    as_table,
    judged_result,
    load_statistics,
    reference_profile,
    without_refused_rows,
)
from driftwatch.errors import DriftwatchError, InputError, first_line
from driftwatch.sources.batches import (
    ParquetShape,
    parquet_dataset_files,
    parquet_row_group,
    parquet_shape,
)
from driftwatch.sources.object_parquet import ObjectStoreOptions, is_object_url
from driftwatch.streaming import _finished

if TYPE_CHECKING:
    from driftwatch.stats.partials import NumericPartial, Partial
    from driftwatch.stats.profile import FeatureProfile

INSTALL_HINT = "pip install 'driftwatch[dask]'"
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the scheduler, and for a worker, before giving up with the address in the message."""
POLL_SECONDS = 0.02
"""How often the client looks at its futures while it waits (it has nothing else to do meanwhile)."""
WORKER_CHECK_SECONDS = 1.0
"""How often a wait asks the scheduler whether it still has workers: tasks wait forever on a cluster without."""
RETRIES = 2
"""Times a failed task is run again (a flaky read); a lost worker's tasks are rescheduled besides."""
SPLIT_EVERY = 8
"""Partials merged by one reduce task: fewer, larger tasks than a binary tree, and at most 8 partials per
feature held by a task at once."""


class ClusterUnavailable(InputError):
    """The cluster cannot do the work: its scheduler is unreachable or gone, or it has had no worker for the
    whole timeout. `driftwatch compare` stops with it; a monitor's window falls back to this machine."""


@dataclass(frozen=True)
class Partition:
    """One task's share of the current dataset: a row group of a file. An object (``s3://``) travels as its
    URL and the endpoint (`store`): the worker opens it itself, with credentials from its own environment."""

    path: str
    row_group: int
    store: ObjectStoreOptions | None = None


@dataclass(frozen=True, eq=False)
class Packed:
    """A numeric partial as it travels between processes: its ``ks_counts`` (``2K + 1`` int64, 16 MB for a
    reference of a million distinct values, mostly 0 and 1) as unsigned 32-bit integers compressed with zstd,
    about 20 times smaller. Lossless: the narrow type is only used when every count fits it."""

    partial: NumericPartial  # with an empty ks_counts
    counts: bytes
    dtype: str
    size: int


@dataclass(frozen=True)
class Counted:
    """What a task hands back: each feature's partial (in the plan's order), the rows it kept and the rows it
    refused by reason. Merged with `merged`; small: no row of the data."""

    partials: tuple[Partial | Packed, ...]
    rows: int
    refused: dict[str, int]


def compare_dask(
    reference: object,
    current: object,
    options: CompareOptions | None = None,
    *,
    scheduler: str | None = None,
    client: Any = None,
    connect_timeout: float = CONNECT_TIMEOUT,
) -> CompareResult:
    """`driftwatch.comparison.compare` with the current Parquet dataset (a file, a folder of .parquet files
    or a glob) counted on the Dask cluster at `scheduler` (an address such as ``tcp://10.0.0.5:8786``), or
    on an already connected `client` (a ``distributed.Client``, e.g. from dask-kubernetes).

    Same options and result as in memory; the features' `wasserstein_bound` is set as when streaming.
    """
    options = options or CompareOptions()
    formats = options.formats
    if formats[1] not in ("auto", "parquet"):
        raise InputError(f"--engine dask reads the current dataset as Parquet, not {formats[1]!r}")
    if not isinstance(current, str | Path):
        raise InputError("--engine dask reads the current dataset from Parquet files: give a path or a glob")
    store = options.store
    partitions, shape = dataset_partitions(current, options.features_column, store)
    load_statistics()
    ref = as_table(reference, "reference", formats[0], options.features_column, store)
    plan = options.plan(_columns(ref), _ArrowColumns(shape.schema.empty_table()))
    kept, excluded_ref = without_refused_rows(_columns(ref), plan.checked, "reference")
    profiled = [reference_profile(kept, name, is_num, options.bins) for name, is_num, _ in plan.to_judge]
    profiles = [p for p, _ in profiled]
    owned = client is None
    client = connected_client(scheduler, connect_timeout) if owned else client
    try:
        if not owned:
            await_workers(client, connect_timeout)
        counted = count_on_cluster(client, partitions, plan.checked, profiles, connect_timeout)
    finally:
        if owned:
            client.close()
    partials = [unpacked(p) for p in counted.partials]
    done = _finished(plan, profiles, partials, [note for _, note in profiled])
    return judged_result(
        plan, done, options.thresholds, (kept.height, counted.rows), (excluded_ref, counted.refused)
    )


def dataset_partitions(
    current: str | Path, features_column: str, store: ObjectStoreOptions | None = None
) -> tuple[list[Partition], ParquetShape]:
    """The dataset's row groups, from the files' footers alone, and the first file's shape (schema).
    An object dataset's partitions carry `store` (the endpoint; never a credential) to the workers."""
    files = parquet_dataset_files(current, "current", store)
    on_store = store if files and is_object_url(str(files[0])) else None
    partitions: list[Partition] = []
    first: ParquetShape | None = None
    for path in files:
        shape = parquet_shape(path, "current", store)
        if first is None:
            first = shape
        elif shape.rows and not set(first.schema.names) <= set(shape.schema.names):
            missing = sorted(set(first.schema.names) - set(shape.schema.names))
            raise InputError(f"{path}: lacks the column(s) {missing} that {files[0]} has")
        partitions += [Partition(str(path), group, on_store) for group in range(shape.row_groups)]
    assert first is not None  # parquet_dataset_files gives at least one file
    if features_column in first.schema.names:
        raise InputError(
            f"--engine dask needs one column per feature; the current dataset keeps them in "
            f"{features_column!r} (a prediction log): flatten it first, or compare in memory"
        )
    return partitions, first


def connected_client(scheduler: str | None, timeout: float) -> Any:
    """A ``distributed.Client`` connected to `scheduler` that has at least one worker; InputError saying
    what to do when it cannot be (ClusterUnavailable: no answer, or no worker, within `timeout` seconds)."""
    if not scheduler:
        raise InputError("--engine dask needs the scheduler's address: --scheduler tcp://HOST:8786")
    try:
        from distributed import Client
    except ImportError:
        raise InputError(f"--engine dask needs Dask: {INSTALL_HINT}") from None
    try:
        client = Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterUnavailable(
            f"cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s: {first_line(exc)}"
        ) from None
    try:
        await_workers(client, timeout)
    except BaseException:
        client.close()
        raise
    return client


def await_workers(client: Any, timeout: float) -> None:
    """Return once the cluster has a worker; ClusterUnavailable after `timeout` seconds without one (a task
    submitted to a scheduler without workers waits forever, and so would the comparison)."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (OSError, TimeoutError) as exc:  # distributed's WorkerStartTimeoutError is a TimeoutError
        raise ClusterUnavailable(
            f"the Dask scheduler at {_address(client)!r} has no workers: none joined within {timeout:g} s "
            f"({first_line(exc)})"
        ) from None


def first_done(client: Any, futures: Collection[Any], timeout: float) -> list[Any]:
    """The futures that are done, as soon as one is. Never waits forever: ClusterUnavailable when the
    scheduler is gone or has had no worker for `timeout` seconds (a lost worker's tasks wait for another)."""
    checked = time.monotonic()
    without_workers: float | None = None
    while True:
        done = [f for f in futures if f.done()]
        if done:
            return done
        time.sleep(POLL_SECONDS)
        now = time.monotonic()
        if now - checked < WORKER_CHECK_SECONDS:
            continue
        checked = now
        if worker_count(client) > 0:
            without_workers = None
        elif without_workers is None:
            without_workers = now
        elif now - without_workers >= timeout:
            raise ClusterUnavailable(
                f"the Dask cluster at {_address(client)!r} has had no workers for {timeout:g} s: its tasks "
                "cannot run"
            )


def broadcast(client: Any, value: object, timeout: float) -> Any:
    """`value` scattered to every worker (each deserialises it once); its future. ClusterUnavailable when no
    worker takes it within `timeout` seconds."""
    try:
        [shipped] = client.scatter([value], broadcast=True, hash=False, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise ClusterUnavailable(
            f"the Dask cluster at {_address(client)!r} took no data within {timeout:g} s: {first_line(exc)}"
        ) from None
    return shipped


def worker_count(client: Any) -> int:
    try:
        return len(client.nthreads())
    except (OSError, TimeoutError) as exc:  # CommClosedError is an OSError
        raise ClusterUnavailable(
            f"lost the Dask scheduler at {_address(client)!r}: {first_line(exc)}"
        ) from None


def _address(client: Any) -> str:
    return str(getattr(client, "scheduler_address", None) or getattr(client.scheduler, "address", "?"))


def count_on_cluster(
    client: Any,
    partitions: Sequence[Partition],
    checked: Sequence[tuple[str, str]],
    profiles: Sequence[FeatureProfile],
    timeout: float = CONNECT_TIMEOUT,
) -> Counted:
    """Every partition counted on the cluster and the partials merged there; the merged result gathered.
    ClusterUnavailable when the cluster has no worker for `timeout` seconds meanwhile.

    Run once more, the profiles shipped anew, when the cluster cancels the run: a scattered value is not made
    again when the worker holding it is lost, and the scheduler cancels every task that needs it (dask
    distributed issue 3149; seen here once, a worker killed mid-run under load). Counting is pure: a second
    run gives the same integers."""
    if not partitions:
        return Counted(tuple(_empty(p) for p in profiles), 0, {})
    try:
        try:
            return _count_run(client, partitions, checked, profiles, timeout)
        except CancelledError:
            return _count_run(client, partitions, checked, profiles, timeout)
    except DriftwatchError:
        raise
    except CancelledError as exc:
        raise InputError(
            f"the Dask computation failed: the cluster cancelled it twice ({first_line(exc)})"
        ) from None
    except Exception as exc:  # the cluster's own failures (a task lost too often, a scheduler gone)
        raise InputError(f"the Dask computation failed: {type(exc).__name__}: {first_line(exc)}") from None


def _count_run(
    client: Any,
    partitions: Sequence[Partition],
    checked: Sequence[tuple[str, str]],
    profiles: Sequence[FeatureProfile],
    timeout: float,
) -> Counted:
    run = uuid.uuid4().hex[:12]
    shipped = broadcast(client, tuple(profiles), timeout)
    columns = list(dict.fromkeys([p.name for p in profiles]))
    level = [
        client.submit(
            count_partition,
            part,
            columns,
            tuple(checked),
            shipped,
            key=f"driftwatch-partial-{run}-{i}",
            retries=RETRIES,
            pure=False,
        )
        for i, part in enumerate(partitions)
    ]
    depth = 0
    while len(level) > 1:
        depth += 1
        level = [
            client.submit(
                merged,
                *level[i : i + SPLIT_EVERY],
                key=f"driftwatch-merge-{run}-{depth}-{i // SPLIT_EVERY}",
                retries=RETRIES,
            )
            for i in range(0, len(level), SPLIT_EVERY)
        ]
    first_done(client, level, timeout)
    result: Counted = level[0].result()
    # The futures (the broadcast profiles too) are released when they go out of scope here.
    return result


def _empty(profile: FeatureProfile) -> Partial:
    from driftwatch.stats.partials import empty_partial

    return empty_partial(profile)


def count_partition(
    partition: Partition,
    columns: Sequence[str],
    checked: Sequence[tuple[str, str]],
    profiles: Sequence[FeatureProfile],
) -> Counted:
    """On a worker: one row group's partial per feature, without the rows the comparison refuses.

    Driftwatch's errors are re-raised as InputError with the same message: they travel back to the client
    pickled, and an error whose constructor takes other arguments than its message would not unpickle.
    """
    from driftwatch.stats.partials import categorical_partial, numeric_partial
    from driftwatch.stats.profile import NumericProfile

    try:
        table = parquet_row_group(partition.path, partition.row_group, columns, partition.store)
        kept, refused = without_refused_rows(_ArrowColumns(table), checked, "current")
        del table
        partials = tuple(
            packed(numeric_partial(p, kept.numeric_values(p.name, "current")))
            if isinstance(p, NumericProfile)
            else categorical_partial(p, kept.value_counts(p.name, "current"))
            for p in profiles
        )
    except DriftwatchError as exc:
        raise InputError(str(exc)) from None
    return Counted(partials, kept.height, refused)


def merged(*parts: Counted) -> Counted:
    """On a worker: the union of several tasks' counts (`stats.partials.merge`, exact in any order)."""
    from driftwatch.stats.partials import merge

    partials = [unpacked(p) for p in parts[0].partials]
    rows = parts[0].rows
    refused = dict(parts[0].refused)
    for part in parts[1:]:
        partials = [merge(a, unpacked(b)) for a, b in zip(partials, part.partials, strict=True)]
        rows += part.rows
        for reason, count in part.refused.items():
            refused[reason] = refused.get(reason, 0) + count
    return Counted(tuple(packed(p) for p in partials), rows, refused)


def packed(partial: Partial) -> Partial | Packed:
    """A numeric partial packed for the wire (`Packed`); a categorical one as it is (its value counts)."""
    import numpy as np
    import pyarrow as pa

    from driftwatch.stats.partials import NumericPartial

    if not isinstance(partial, NumericPartial):
        return partial
    counts = partial.ks_counts
    narrow = counts.size == 0 or (int(counts.min()) >= 0 and int(counts.max()) <= np.iinfo(np.uint32).max)
    data = counts.astype(np.uint32) if narrow else counts
    return Packed(
        replace(partial, ks_counts=np.empty(0, dtype=np.int64)),
        pa.compress(data, codec="zstd", asbytes=True),
        data.dtype.str,
        int(counts.size),
    )


def unpacked(partial: Partial | Packed) -> Partial:
    """The partial `packed` packed, exactly."""
    import numpy as np
    import pyarrow as pa

    if not isinstance(partial, Packed):
        return partial
    dtype = np.dtype(partial.dtype)
    raw = pa.decompress(
        partial.counts, decompressed_size=partial.size * dtype.itemsize, codec="zstd", asbytes=True
    )
    counts = np.frombuffer(raw, dtype=dtype).astype(np.int64)
    return replace(partial.partial, ks_counts=counts)
