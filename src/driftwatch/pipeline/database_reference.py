"""A reference that is an SQL query or table (`reference.database`), made local as a Parquet file.

The reference step (`pipeline.reference`) reads files; a database reference is read once into
`<database folder>/.driftwatch-sql-reference/<monitor>/<identity>.parquet` and the monitor's reference path
replaced by that file (as an object-store reference is by its local copy, `pipeline.object_sources`). The
identity names the data, not the read:

- without `version`, it is a SHA-256 of the query's result (its Arrow IPC stream, chunks combined, so the same
  rows in the same order give the same bytes). A copy with that identity is kept as it is (same path, size and
  mtime), so the profile, which fingerprints those, is rebuilt only when the data changes. The query should
  order its rows: rows in another order are other bytes, and cost one needless rebuild.
- with `version` (a query returning one value that changes with the data, e.g. the table's latest update time;
  docs/sources.md), it is a hash of that value and the query, and the reference is read only when the value changes.

The previous copies of the monitor are removed once a new one is in place. When the database cannot be reached
and a copy exists, the last copy is used and the cycle records a warning naming the source (the reference a
cycle compares against stays the last one read); with no copy yet, it is a SourceError, which fails the cycle
as an unreadable reference file does. Messages name the source by driver and table, never by the URI.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pyarrow as pa

from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.sources import DatabaseSourceOptions
from driftwatch.errors import SourceError, first_line
from driftwatch.sources.database import connect, read_all, read_scalar, source_label
from driftwatch.sources.parquet_copies import write_parquet
from driftwatch.storage.database import Database

CACHE_DIR = ".driftwatch-sql-reference"
# (folder, source) → (local copy, when checked): a pushed batch (`api.push`) reuses a recent check.
_CHECKED: dict[tuple[str, str], tuple[str, float]] = {}
_LOCK = threading.Lock()


def database_reference(
    db: Database, monitor: MonitorConfig, max_age_s: float = 0.0, warnings: list[str] | None = None
) -> MonitorConfig:
    """The monitor with its database reference replaced by a local Parquet copy of the current data."""
    options = monitor.reference.database
    assert options is not None
    folder = db.path.parent / CACHE_DIR / monitor.name
    key = (str(folder), source_label(options))
    with _LOCK:
        hit = _CHECKED.get(key)
    if hit is not None and time.monotonic() - hit[1] < max_age_s and os.path.isfile(hit[0]):
        return _with_path(monitor, hit[0])
    try:
        path = _current_copy(options, folder)
    except SourceError as exc:
        last = _last_copy(folder)
        if last is None:
            raise
        if warnings is not None:
            warnings.append(
                f"reference {source_label(options)} failed this cycle: {exc.message}; "
                "the last copy read is used (retried next cycle)"
            )
        return _with_path(monitor, str(last))
    with _LOCK:
        _CHECKED[key] = (str(path), time.monotonic())
    return _with_path(monitor, str(path))


def _with_path(monitor: MonitorConfig, path: str) -> MonitorConfig:
    return replace(monitor, reference=replace(monitor.reference, path=path, format="parquet"))


def _current_copy(options: DatabaseSourceOptions, folder: Path) -> Path:
    """The local copy of the reference's current data, read (and written) only when it changed."""
    conn = connect(options)
    try:
        if options.version is not None:
            version = read_scalar(conn, options, options.version)
            digest = _sha256(repr((options.table, options.query, options.version, version)).encode())
            path = folder / f"v-{digest[:32]}.parquet"
            if not path.is_file():
                _write(read_all(conn, options), path, options)
            return path
        table = read_all(conn, options)
    finally:
        conn.close()
    path = folder / f"d-{_data_digest(table)[:32]}.parquet"
    if not path.is_file():
        _write(table, path, options)
    return path


def _data_digest(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    combined = table.combine_chunks()
    with pa.ipc.new_stream(sink, combined.schema) as writer:
        writer.write_table(combined)
    return _sha256(sink.getvalue().to_pybytes())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(table: pa.Table, path: Path, options: DatabaseSourceOptions) -> None:
    """Written beside, then renamed: a crash never leaves a half copy under the identity's name. The monitor's
    older copies are removed after (their profile is no longer the current one)."""
    if table.num_rows == 0:
        raise SourceError(source_label(options), "the reference query returned no rows")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    try:
        write_parquet(table, tmp)
    except (pa.ArrowException, OSError) as exc:  # a column type Parquet cannot hold, a full disk
        tmp.unlink(missing_ok=True)
        raise SourceError(
            source_label(options), f"its local copy could not be written: {first_line(exc)}"
        ) from None
    os.replace(tmp, path)
    for old in path.parent.iterdir():
        if old != path and old.suffix == ".parquet":
            old.unlink(missing_ok=True)


def _last_copy(folder: Path) -> Path | None:
    copies = [p for p in folder.glob("*.parquet") if p.is_file()] if folder.is_dir() else []
    return max(copies, key=lambda p: p.stat().st_mtime_ns) if copies else None


__all__ = ["CACHE_DIR", "database_reference"]
