"""Snapshots: prediction rows exported to Parquet before retention deletes them, or on demand.

Layout under the snapshot root (a local folder or ``s3://bucket/prefix``, sources/snapshot_store.py):
`<monitor>/<snapshot id>/day=YYYY-MM-DD/version=<v>/part-0.parquet` and `<monitor>/<snapshot id>/manifest.json`.
Atomic in three steps, so no partial snapshot is ever visible as complete:
1. the snapshot is recorded `writing` in the database (its final location), then the rows are exported to a
   local staging folder;
2. the store publishes the files at their final place (locally one folder rename; in object storage one PUT
   per file, each atomic);
3. the manifest is written LAST (the commit point), then the record becomes `complete`.
A location without `manifest.json` is not a snapshot. On the next pass a `writing` record whose manifest exists
is completed (a `writing_on_demand` one, recorded so by `driftwatch snapshot`, becomes `on_demand`: a deletion
never relies on it); one without is cleaned up (its files removed) and marked `abandoned` (its rows were never
deleted).

The files use the monitor's own log column names, so `predictions: {path: <snapshot>/**/*.parquet}` with the
rest of the monitor's config unchanged reads them back (tests/test_snapshots.py and
tests/sources/test_snapshot_objects.py recompute windows from one).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from driftwatch.config.monitors import MonitorConfig
from driftwatch.sources.snapshot_store import (
    MANIFEST,
    LocalSnapshotStore,
    SnapshotFile,
    SnapshotStore,
    snapshot_store,
    store_for_location,
)
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.snapshots import (
    WRITING,
    WRITING_ON_DEMAND,
    SnapshotColumns,
    SnapshotRecord,
    export_rows,
    record_snapshot,
    set_snapshot_status,
    stored_columns,
    unapplied_snapshots,
)

__all__ = [
    "MANIFEST",
    "Snapshot",
    "configured_store",
    "listed_files",
    "manifest_files",
    "settle_unfinished",
    "snapshot_columns",
    "store_for_location",
    "write_snapshot",
]


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    path: str  # a local folder or an object URL prefix
    rows: int
    bytes: int
    files: tuple[SnapshotFile, ...]


def snapshot_columns(db: Database, monitor: MonitorConfig) -> SnapshotColumns:
    src = monitor.predictions
    numeric, categorical, segments = stored_columns(db.cursor(), monitor.name)
    return SnapshotColumns(
        timestamp=src.timestamp,
        id=src.id,
        model_version=src.model_version or "model_version",
        features_field=src.features if isinstance(src.features, str) else None,
        numeric=numeric,
        categorical=categorical,
        prediction=src.prediction,
        output=src.output,
        segments=segments,
    )


def _stamp(ts: datetime | None) -> str:
    return "start" if ts is None else ts.strftime("%Y%m%dT%H%M%S")


def write_snapshot(
    db: Database,
    monitor: MonitorConfig,
    store: SnapshotStore,
    after: datetime | None,
    before: datetime,
    status: str = "complete",
) -> Snapshot | None:
    """Export the monitor's rows with ``after <= ts < before`` (naive UTC) atomically; None when there are none.

    `status` is what the record becomes once the manifest is written: `complete` (retention may delete the
    rows in it) or `on_demand` (`driftwatch snapshot`: never used for deletion). A SourceError from an object
    store leaves the record `writing`: the next pass cleans it up.
    """
    if not db.table_exists(f"predictions:{monitor.name}"):
        return None
    cols = snapshot_columns(db, monitor)
    snapshot_id = f"{_stamp(after)}-{_stamp(before)}-{uuid.uuid4().hex[:8]}"
    location = store.location(monitor.name, snapshot_id)
    staged = store.staging(location)
    writing = WRITING if status == "complete" else WRITING_ON_DEMAND  # the purpose, known from the start
    with db.transaction() as tx:
        record_snapshot(tx, monitor.name, snapshot_id, location, after, before, utcnow(), writing)
    try:
        rows = export_rows(db.cursor(), monitor.name, cols, after, before, str(staged))
    except BaseException:
        store.discard(location)  # nothing published: the record stays `writing`, the next pass abandons it
        raise
    if rows == 0:
        store.discard(location)
        with db.transaction() as tx:
            set_snapshot_status(tx, snapshot_id, "abandoned", 0, 0)
        return None
    files = store.publish(staged, location)
    size = sum(f.bytes for f in files)
    store.commit(location, _manifest(monitor.name, snapshot_id, after, before, rows, files, cols))
    with db.transaction() as tx:
        set_snapshot_status(tx, snapshot_id, status, rows, size)
    return Snapshot(snapshot_id, location, rows, size, files)


def _manifest(
    monitor: str,
    snapshot_id: str,
    after: datetime | None,
    before: datetime,
    rows: int,
    files: tuple[SnapshotFile, ...],
    cols: SnapshotColumns,
) -> dict[str, object]:
    return {
        "monitor": monitor,
        "snapshot_id": snapshot_id,
        "after": after.isoformat() + "Z" if after else None,
        "before": before.isoformat() + "Z",
        "rows": rows,
        "files": [{"path": f.path, "bytes": f.bytes} for f in files],
        "columns": {"timestamp": cols.timestamp, "id": cols.id, "model_version": cols.model_version},
        "partitioning": ["day", "version"],
    }


def manifest_files(path: Path) -> list[str] | None:
    """The Parquet files a local snapshot's manifest lists, or None when the manifest is missing (not complete)."""
    manifest = LocalSnapshotStore(path.parent.parent).manifest(str(path))
    if manifest is None:
        return None
    return [str(path / f["path"]) for f in manifest["files"]]


def listed_files(store: SnapshotStore, location: str) -> list[str] | None:
    """The files (relative to the location) a snapshot's manifest lists; None without a manifest."""
    manifest = store.manifest(location)
    return None if manifest is None else [str(f["path"]) for f in manifest["files"]]


def settle_unfinished(db: Database, monitor: MonitorConfig) -> list[SnapshotRecord]:
    """Finish what a stopped process left: returns the `complete` snapshots whose rows are not yet deleted."""
    out: list[SnapshotRecord] = []
    options = monitor.retention.snapshot_store
    for record in unapplied_snapshots(db.cursor(), monitor.name):
        writing = record.status in (WRITING, WRITING_ON_DEMAND)
        store = store_for_location(record.path, options)
        manifest = store.manifest(record.path) if writing else None
        if writing and manifest is None:
            store.discard(record.path)
            with db.transaction() as tx:
                set_snapshot_status(tx, record.snapshot_id, "abandoned")
            continue
        # An on-demand snapshot whose manifest was written is settled as what it was meant to be: `on_demand`,
        # never `complete` (it was not taken for retention, and no deletion may rely on it).
        final = "on_demand" if record.status == WRITING_ON_DEMAND else "complete"
        if manifest is not None:
            with db.transaction() as tx:
                set_snapshot_status(
                    tx, record.snapshot_id, final, None, sum(int(f["bytes"]) for f in manifest["files"])
                )
        if final == "complete":
            out.append(SnapshotRecord(record.snapshot_id, record.path, final, record.after, record.before))
    return out


def configured_store(monitor: MonitorConfig, root: str | None = None) -> SnapshotStore | None:
    """The store for `root` (e.g. `driftwatch snapshot --out`) or the monitor's `retention.snapshot`."""
    target = root or monitor.retention.snapshot
    return None if target is None else snapshot_store(target, monitor.retention.snapshot_store)
