"""Snapshots: prediction rows exported to Parquet before retention deletes them, or on demand.

Layout under the snapshot folder: `<monitor>/<snapshot id>/day=YYYY-MM-DD/version=<v>/part-0.parquet` and
`<monitor>/<snapshot id>/manifest.json`. Atomic in three steps, so no partial snapshot is ever visible as
complete:
1. the snapshot is recorded `writing` in the database (its final path), then the rows are written to a hidden
   temporary folder `.tmp-<id>` next to it;
2. the folder is renamed to its final name (one rename on one file system);
3. the manifest is written (to a temp name, then renamed) LAST, then the record becomes `complete`.
A folder without `manifest.json` is not a snapshot. On the next pass a `writing` record whose manifest exists
is completed; one without is cleaned up and marked `abandoned` (its rows were never deleted).

The files use the monitor's own log column names, so `predictions: {path: <folder>/**/*.parquet}` with the
rest of the monitor's config unchanged reads them back (tests/test_snapshots.py recomputes windows from one).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from driftwatch.config.monitors import MonitorConfig
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.snapshots import (
    SnapshotColumns,
    SnapshotRecord,
    export_rows,
    record_snapshot,
    set_snapshot_status,
    stored_columns,
    unapplied_snapshots,
)

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Snapshot:
    snapshot_id: str
    path: Path
    rows: int
    bytes: int
    files: tuple[Path, ...]


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
    root: Path,
    after: datetime | None,
    before: datetime,
    status: str = "complete",
) -> Snapshot | None:
    """Export the monitor's rows with ``after <= ts < before`` (naive UTC) atomically; None when there are none.

    `status` is what the record becomes once the manifest is written: `complete` (retention may delete the
    rows in it) or `on_demand` (`driftwatch snapshot`: never used for deletion).
    """
    if not db.table_exists(f"predictions:{monitor.name}"):
        return None
    cols = snapshot_columns(db, monitor)
    snapshot_id = f"{_stamp(after)}-{_stamp(before)}-{uuid.uuid4().hex[:8]}"
    folder = root / monitor.name
    final, tmp = folder / snapshot_id, folder / f".tmp-{snapshot_id}"
    folder.mkdir(parents=True, exist_ok=True)
    with db.transaction() as tx:
        record_snapshot(tx, monitor.name, snapshot_id, str(final), after, before, utcnow())
    rows = export_rows(db.cursor(), monitor.name, cols, after, before, str(tmp))
    if rows == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        with db.transaction() as tx:
            set_snapshot_status(tx, snapshot_id, "abandoned", 0, 0)
        return None
    _fsync_tree(tmp)
    os.rename(tmp, final)
    files = tuple(sorted(p for p in final.rglob("*.parquet")))
    size = sum(p.stat().st_size for p in files)
    _write_manifest(final, monitor.name, snapshot_id, after, before, rows, files, cols)
    with db.transaction() as tx:
        set_snapshot_status(tx, snapshot_id, status, rows, size)
    return Snapshot(snapshot_id, final, rows, size, files)


def _fsync_tree(folder: Path) -> None:
    """Flush the written files before the rename publishes them (a power cut must not leave empty files)."""
    for path in folder.rglob("*.parquet"):
        with open(path, "rb") as f:
            os.fsync(f.fileno())


def _write_manifest(
    final: Path,
    monitor: str,
    snapshot_id: str,
    after: datetime | None,
    before: datetime,
    rows: int,
    files: tuple[Path, ...],
    cols: SnapshotColumns,
) -> None:
    manifest = {
        "monitor": monitor,
        "snapshot_id": snapshot_id,
        "after": after.isoformat() + "Z" if after else None,
        "before": before.isoformat() + "Z",
        "rows": rows,
        "files": [{"path": str(p.relative_to(final)), "bytes": p.stat().st_size} for p in files],
        "columns": {"timestamp": cols.timestamp, "id": cols.id, "model_version": cols.model_version},
        "partitioning": ["day", "version"],
    }
    tmp = final / f".{MANIFEST}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, final / MANIFEST)


def manifest_files(path: Path) -> list[str] | None:
    """The Parquet files a snapshot's manifest lists, or None when the manifest is missing (not complete)."""
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return [str(path / f["path"]) for f in manifest["files"]]


def settle_unfinished(db: Database, monitor: str) -> list[SnapshotRecord]:
    """Finish what a stopped process left: returns the `complete` snapshots whose rows are not yet deleted."""
    out: list[SnapshotRecord] = []
    for record in unapplied_snapshots(db.cursor(), monitor):
        path = Path(record.path)
        if record.status == "writing" and manifest_files(path) is None:
            shutil.rmtree(path.parent / f".tmp-{record.snapshot_id}", ignore_errors=True)
            shutil.rmtree(path, ignore_errors=True)
            with db.transaction() as tx:
                set_snapshot_status(tx, record.snapshot_id, "abandoned")
            continue
        if record.status == "writing":
            files = [Path(f) for f in manifest_files(path) or []]
            with db.transaction() as tx:
                set_snapshot_status(
                    tx, record.snapshot_id, "complete", None, sum(f.stat().st_size for f in files)
                )
        out.append(SnapshotRecord(record.snapshot_id, record.path, "complete", record.after, record.before))
    return out
