"""A monitor's `compute:`: windows of at least `min_rows` rows counted on a Dask cluster (docs/scale.md).

Where the rows come from: the service's own DuckDB file, which only this process can open. The workers never
read the monitor's source files: the rows a window holds are the ingested ones (deduplicated, normalised,
quarantined rows left out, pushed rows included, source files possibly gone), and only the database has
exactly those. So the window is read here as the streamed path reads it (`storage.window_batches`: record
batches of `batch_rows` rows, one batch in memory per task in flight) and each batch is shipped to a worker
as one partition, which counts it into one mergeable partial per numeric feature and segment
(`stats.partials`, the same integers as the single-node stream). The partials come back zstd-packed
(`distributed.Packed`) and are merged here, then finished exactly as `pipeline.streamed_windows` finishes its
own: the stored rows are those of a streamed window (Wasserstein an estimate with its bound stored beside it).
Categorical features are counted by DuckDB, as in every path.

Failures never hang a cycle and never lose a window: a scheduler that does not answer within `timeout`, one
with no worker, a cluster that loses its workers or fails a partition `RETRIES` times: the window is computed
on this machine instead (as without `compute:`: streamed when it is over `stream_rows`, whole otherwise) and
the run records a warning. After a connection failure the cycle does not try the cluster again (one timeout
per cycle, not one per window). A worker lost mid-window loses the batches it held: they are shipped again
from here (this process keeps each batch until its partial is back).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

from driftwatch.config.compute import ComputeSettings
from driftwatch.distributed import (
    ClusterUnavailable,
    Packed,
    broadcast,
    connected_client,
    first_done,
    packed,
    unpacked,
    worker_count,
)
from driftwatch.errors import DriftwatchError, first_line
from driftwatch.pipeline.streamed_windows import OVERALL, counted_numeric, segment_labels, segment_masks
from driftwatch.stats.feature_drift import FeatureDrift, as_role
from driftwatch.stats.partials import Partial, empty_partial, finish, merge, numeric_partial
from driftwatch.stats.profile import NumericProfile, ReferenceProfile
from driftwatch.storage.window_batches import window_array_batches, window_row_count
from driftwatch.storage.windows import PlannedWindow, WindowArrays

RETRIES = 2
"""Times a partition is shipped again after its task failed or its worker was lost."""
TASKS_PER_WORKER = 2
"""Partitions in flight per worker: one counting, one arriving; bounds this process's memory to that many
batches (each kept until its partial is back)."""

NumericStatistics = tuple[dict[str, list[FeatureDrift]], dict[str, int]]


@dataclass(frozen=True)
class WindowCounts:
    """A partition's counts: per segment label ('*', 'column=value') its rows and one partial per feature."""

    rows: dict[str, int]
    partials: dict[str, tuple[Partial | Packed, ...]]


def count_window_partition(
    batch: WindowArrays,
    names: Sequence[str],
    segments: Mapping[str, Sequence[str]],
    profiles: Sequence[NumericProfile],
) -> WindowCounts:
    """On a worker: one batch of a window counted per segment label and numeric feature (`names` order)."""
    masks = segment_masks(batch, segments)
    rows = {OVERALL: batch.rows, **{label: int(mask.sum()) for label, mask in masks.items()}}
    by_name = {p.name: p for p in profiles}
    partials = {
        label: tuple(
            packed(numeric_partial(by_name[n], batch.numeric[n] if mask is None else batch.numeric[n][mask]))
            for n in names
        )
        for label, mask in [(OVERALL, None), *masks.items()]
    }
    return WindowCounts(rows, partials)


def gathered(batches: Iterable[WindowArrays], rows: int) -> Iterator[WindowArrays]:
    """The batches joined into partitions of at least `rows` rows (the last one smaller). DuckDB's reader hands
    out batches of at most `rows` rows, often far fewer (measured: 19 batches for 2M rows asked in 500,000s),
    and every partition costs a partial of the reference's size per feature and segment, however few rows it
    counted: fewer, fuller partitions ship and merge less."""
    pending: list[WindowArrays] = []
    held = 0
    for batch in batches:
        pending.append(batch)
        held += batch.rows
        if held >= rows:
            yield _joined(pending)
            pending, held = [], 0
    if pending:
        yield _joined(pending)


def _joined(parts: Sequence[WindowArrays]) -> WindowArrays:
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    return WindowArrays(
        rows=sum(p.rows for p in parts),
        numeric={n: np.concatenate([p.numeric[n] for p in parts]) for n in first.numeric},
        segment_codes={s: np.concatenate([p.segment_codes[s] for p in parts]) for s in first.segment_codes},
    )


@dataclass
class _Running:
    """The merged partials of the partitions back so far."""

    labels: list[str]
    names: list[str]
    rows: dict[str, int]
    partials: dict[str, list[Partial | None]] = field(default_factory=dict)

    def add(self, counted: WindowCounts) -> None:
        for label in self.labels:
            self.rows[label] += counted.rows[label]
            running = self.partials.setdefault(label, [None] * len(self.names))
            for i, part in enumerate(counted.partials[label]):
                got = unpacked(part)
                current = running[i]
                running[i] = got if current is None else merge(current, got)


@dataclass
class ClusterWindows:
    """One cycle's use of the cluster: connected on the first window that needs it, closed at the end."""

    settings: ComputeSettings
    warnings: list[str] = field(default_factory=list)
    _client: Any = None
    _unavailable: str | None = None
    _shipped: dict[str, Any] = field(default_factory=dict)  # profile id → its broadcast numeric profiles

    def numeric_statistics(
        self,
        cur: duckdb.DuckDBPyConnection,
        monitor: str,
        window: PlannedWindow,
        numeric: Sequence[str],
        score_as: str | None,
        segments: Mapping[str, Sequence[str]],
        profile: ReferenceProfile,
    ) -> NumericStatistics | None:
        """`pipeline.streamed_windows.streamed_numeric_statistics`'s result, counted on the cluster; None
        when the window is under `min_rows` or the cluster cannot do it (a warning says why)."""
        names = counted_numeric(numeric, score_as, profile)
        if not names:  # categorical counts come from DuckDB on every path: nothing for the cluster to count
            return None
        if self._unavailable is not None or window_row_count(cur, monitor, window) < self.settings.min_rows:
            return None
        client = self._connected(window)
        if client is None:
            return None
        batches = window_array_batches(
            cur, monitor, window, numeric, segments, score_as, self.settings.batch_rows
        )
        try:
            with closing(batches):  # a failure mid-window closes the reader: the cursor is needed next
                partitions = gathered(batches, self.settings.batch_rows)
                running = self._count(client, partitions, names, segments, profile)
        except (ClusterUnavailable, _PartitionFailed) as exc:
            self.warnings.append(f"{_label(window)}: computed on this machine, not the Dask cluster: {exc}")
            if isinstance(exc, ClusterUnavailable):
                self._give_up(str(exc))
            return None
        drift = {
            label: [
                as_role(finish(partial, profile.features[name]))
                for name, partial in zip(names, _filled(running, label, profile), strict=True)
            ]
            for label in running.labels
        }
        return drift, running.rows

    def close(self) -> None:
        self._shipped.clear()
        if self._client is not None:
            self._client.close()
            self._client = None

    def _connected(self, window: PlannedWindow) -> Any:
        if self._client is None:
            try:
                self._client = connected_client(self.settings.scheduler, self.settings.timeout)
            except DriftwatchError as exc:  # unreachable, no workers, or Dask not installed
                self.warnings.append(
                    f"{_label(window)}: computed on this machine, not the Dask cluster: {exc}"
                )
                self._unavailable = str(exc)
                return None
        return self._client

    def _give_up(self, reason: str) -> None:
        """No more cluster this cycle: the next windows go straight to this machine."""
        self._unavailable = reason
        self.close()

    def _profiles(self, client: Any, profile: ReferenceProfile, names: Sequence[str]) -> Any:
        """The numeric profiles on every worker, shipped once per cycle (again if the workers lost them)."""
        shipped = self._shipped.get(profile.profile_id)
        if shipped is None or shipped.status != "finished":
            numeric = tuple(p for n in names if isinstance(p := profile.features[n], NumericProfile))
            shipped = broadcast(client, numeric, self.settings.timeout)
            self._shipped[profile.profile_id] = shipped
        return shipped

    def _count(
        self,
        client: Any,
        batches: Iterable[WindowArrays],
        names: list[str],
        segments: Mapping[str, Sequence[str]],
        profile: ReferenceProfile,
    ) -> _Running:
        """Ship each batch as a partition, `TASKS_PER_WORKER` per worker in flight, merging what comes back."""
        labels = segment_labels(segments)
        running = _Running(labels, names, dict.fromkeys(labels, 0))
        shipment = _Shipment(client, self.settings.timeout, names, dict(segments), uuid.uuid4().hex[:12])
        limit = max(2, TASKS_PER_WORKER * worker_count(client))
        for number, batch in enumerate(batches):
            while len(shipment.in_flight) >= limit:
                shipment.collect(running, self._profiles(client, profile, names))
            shipment.submit(batch, 0, number, self._profiles(client, profile, names))
        while shipment.in_flight:
            shipment.collect(running, self._profiles(client, profile, names))
        return running


@dataclass
class _Shipment:
    """One window's partitions in flight: each kept here until its counts are back, to ship it again."""

    client: Any
    timeout: float
    names: list[str]
    segments: dict[str, Sequence[str]]
    run: str
    in_flight: dict[Any, tuple[WindowArrays, int, int]] = field(default_factory=dict)  # → batch, try, number

    def submit(self, batch: WindowArrays, attempt: int, number: int, profiles: Any) -> None:
        # Scattered, not embedded in the task: the batch goes to a worker directly, not via the scheduler.
        data = self._scattered(batch)
        future = self.client.submit(
            count_window_partition,
            data,
            self.names,
            self.segments,
            profiles,
            key=f"driftwatch-window-{self.run}-{number}-{attempt}",
            pure=False,
        )
        self.in_flight[future] = (batch, attempt, number)

    def _scattered(self, batch: WindowArrays) -> Any:
        """The batch on a worker; tried again when the worker it went to was lost meanwhile."""
        for attempt in range(RETRIES + 1):
            try:
                return self.client.scatter(batch, hash=False, timeout=self.timeout)
            except (OSError, TimeoutError) as exc:  # CommClosedError: the worker died as it received it
                if attempt == RETRIES or worker_count(self.client) == 0:
                    raise ClusterUnavailable(f"could not ship a partition: {first_line(exc)}") from None
        raise AssertionError("unreachable")

    def collect(self, running: _Running, profiles: Any) -> None:
        """Wait for at least one partition; merge what came back, ship again what was lost."""
        for future in first_done(self.client, list(self.in_flight), self.timeout):
            batch, attempt, number = self.in_flight.pop(future)
            result = _result(future, attempt)
            if result is None:
                self.submit(batch, attempt + 1, number, profiles)
            else:
                running.add(result)


class _PartitionFailed(DriftwatchError):
    """A partition failed on the cluster more than `RETRIES` times."""


def _result(future: Any, attempt: int) -> WindowCounts | None:
    """The partition's counts; None when it should be shipped again (the worker holding it was lost, or the
    task raised and retries are left); _PartitionFailed when none are."""
    try:
        counted: WindowCounts = future.result()
    except Exception as exc:  # a lost worker cancels its scattered batch's task; a task's own error
        if attempt >= RETRIES:
            raise _PartitionFailed(
                f"a partition failed {attempt + 1} times: {type(exc).__name__}: {first_line(exc)}"
            ) from None
        return None
    return counted


def _filled(running: _Running, label: str, profile: ReferenceProfile) -> list[Partial]:
    """The label's merged partials; a window without rows (no batch came) gets the empty ones."""
    parts = running.partials.get(label) or [None] * len(running.names)
    return [
        p if p is not None else empty_partial(profile.features[n])
        for p, n in zip(parts, running.names, strict=True)
    ]


def _label(window: PlannedWindow) -> str:
    return f"window {window.model_version} {window.start:%Y-%m-%d %H:%M}"
