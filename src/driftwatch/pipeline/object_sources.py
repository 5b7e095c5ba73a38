"""Reading a prediction or label source that lives in object storage (``s3://…``, ``gs://…``) in a cycle.

The same steps as for local files (`pipeline.ingest`, `pipeline.labels`), with a listing in place of a glob:
list the objects (incrementally when the source says its keys sort in time order), skip every object already
in `ingested_files` (same URL, size and ETag), download each new one to a temporary file and hand it to the
step's own per-file reader, which stores its rows slice by slice and records the object in the last slice's
transaction. A crash mid-object leaves it unrecorded; it is read again next cycle, and only its rows not yet
stored are inserted (the request id is the key): nothing lost, nothing doubled.

A store that cannot be listed (unreachable, 5xx after retries, credentials refused) fails the source for this
cycle: one entry in the step's `failed_files` and a warning naming it, which the run records in `runs.error`
and the CLI prints. Nothing is read, nothing is lost: the next cycle lists again. One object that cannot be
fetched or read fails alone; the listing cursor stays before it, so it is retried every cycle.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import duckdb

from driftwatch.config.monitors import MonitorConfig
from driftwatch.errors import SourceError, first_line
from driftwatch.pipeline.database_reference import database_reference
from driftwatch.sources.files import SourceFile, is_empty
from driftwatch.sources.formats import file_kind
from driftwatch.sources.objectstore import (
    ObjectPattern,
    ObjectStoreOptions,
    RemoteObject,
    fetched,
    is_object_url,
    list_objects,
    mirror_object,
    open_store,
    parse_pattern,
)
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.ingested_files import record_ingested
from driftwatch.storage.object_listings import (
    ListingState,
    ensure_listing_table,
    ingested_versions,
    listing_state,
    save_listing_state,
)


class FileSummary(Protocol):
    """What the prediction and label steps' summaries share, and this module fills in."""

    files_seen: int
    files_read: int
    failed_files: list[tuple[str, str]]
    warnings: list[str]


def ingest_objects(
    db: Database,
    monitor: str,
    kind: str,
    source: Any,
    read_one: Callable[[SourceFile, str], None],
    summary: FileSummary,
    on_file: Callable[[str], None] | None = None,
) -> None:
    """Read every new or changed object of `source` (its `path`, `format`, `object_store`) with `read_one(file,
    url)`, which stores one file's rows, records it in `ingested_files` in one transaction and counts it in the
    summary (as the step's local loop does). An empty object is recorded here, counted as read with 0 rows."""
    pattern = parse_pattern(source.path)
    options: ObjectStoreOptions = source.object_store
    try:
        store = open_store(pattern, options)
        listing = _list(db, monitor, kind, pattern, options, store)
    except SourceError as exc:
        summary.failed_files.append((exc.path, exc.message))
        summary.files_seen += 1
        summary.warnings.append(f"source {pattern.url} failed this cycle: {exc.message} (retried next cycle)")
        return
    summary.files_seen += len(listing.objects)
    failed: set[str] = set()
    for obj in listing.new:
        if on_file:
            on_file(obj.url)
        try:
            _read_object(db, monitor, kind, source.format, store, pattern, obj, read_one, summary)
        except SourceError as exc:
            summary.failed_files.append((obj.url, exc.message))
            failed.add(obj.key)
        except duckdb.Error as exc:
            summary.failed_files.append((obj.url, f"cannot read: {first_line(exc)}"))
            failed.add(obj.key)
    _advance(db, monitor, kind, pattern, listing, failed)


@dataclass(frozen=True)
class _Listing:
    objects: list[RemoteObject]  # every matching object listed this cycle, sorted by key
    new: list[RemoteObject]  # those not yet in ingested_files
    state: ListingState  # as it was before this cycle
    start_after: str | None  # None: a full listing


def _list(
    db: Database,
    monitor: str,
    kind: str,
    pattern: ObjectPattern,
    options: ObjectStoreOptions,
    store: Any,
) -> _Listing:
    """This cycle's listing: incremental from the stored cursor when the source allows it, else full."""
    with db.transaction() as tx:
        ensure_listing_table(tx)
    cur = db.cursor()
    state = listing_state(cur, monitor, kind, pattern.url)
    full = (
        not options.start_after
        or state.last_key is None
        or state.cycles_since_full + 1 >= options.full_relist_every  # one cycle in N lists everything
    )
    start_after = None if full else state.last_key
    listed = list_objects(store, pattern, start_after)
    after = None if start_after is None else pattern.object_url(start_after)
    done = ingested_versions(cur, monitor, kind, pattern.object_url(pattern.prefix), after)
    new = [o for o in listed if (o.url, o.size, o.version) not in done]
    return _Listing(listed, new, state, start_after)


def _advance(
    db: Database, monitor: str, kind: str, pattern: ObjectPattern, listing: _Listing, failed: set[str]
) -> None:
    """Move the cursor to the greatest key below which every listed object is now ingested: a failed object
    stays after the cursor, so an incremental listing still lists (and retries) it next cycle."""
    cursor = listing.start_after
    for obj in listing.objects:  # sorted by key
        if obj.key in failed:
            break
        cursor = obj.key
    full = listing.start_after is None
    cycles = 0 if full else listing.state.cycles_since_full + 1
    with db.transaction() as tx:
        save_listing_state(tx, monitor, kind, pattern.url, ListingState(cursor, cycles), utcnow())


def _read_object(
    db: Database,
    monitor: str,
    kind: str,
    configured_format: str,
    store: Any,
    pattern: ObjectPattern,
    obj: RemoteObject,
    read_one: Callable[[SourceFile, str], None],
    summary: FileSummary,
) -> None:
    fmt, compression = file_kind(obj.url, configured_format)  # by the key's name: before any download
    with fetched(store, pattern, obj) as (local, read):
        f = SourceFile(local, fmt, read.size, read.version, compression)
        if is_empty(f):
            # Recorded as read with 0 rows, so it is not fetched again until it changes.
            with db.transaction() as tx:
                record_ingested(tx, monitor, kind, read.url, read.size, read.version, utcnow())
            summary.files_read += 1
            return
        read_one(f, read.url)


_MIRRORED: dict[tuple[str, str], tuple[str, float]] = {}  # (cache dir, url) → (local copy, when checked)
_MIRRORED_LOCK = threading.Lock()


def local_reference(
    db: Database, monitor: MonitorConfig, max_age_s: float = 0.0, warnings: list[str] | None = None
) -> MonitorConfig:
    """The monitor with an object-storage reference (``s3://…/train.parquet``) replaced by its local copy
    (`sources.objectstore.mirror_object`, kept beside the database and fetched again only when the object
    changes); a local reference is returned as it is. SourceError when the object cannot be read.

    A cycle checks the object every time (`max_age_s` 0); a pushed batch (`api.push`) accepts a copy checked
    in the last `max_age_s` seconds, so a push costs no request to the store. A database reference
    (`reference.database`) is made local by `pipeline.database_reference` (`warnings`: where it says it fell
    back to its last copy)."""
    ref = monitor.reference
    if ref.database is not None:
        return database_reference(db, monitor, max_age_s, warnings)
    if not is_object_url(ref.path):
        return monitor
    cache = str(db.path.parent / ".driftwatch-objects")
    key = (cache, ref.path)
    with _MIRRORED_LOCK:
        hit = _MIRRORED.get(key)
    if hit is not None and time.monotonic() - hit[1] < max_age_s and os.path.isfile(hit[0]):
        local = hit[0]
    else:
        local = mirror_object(ref.path, ref.object_store, cache)
        with _MIRRORED_LOCK:
            _MIRRORED[key] = (local, time.monotonic())
    return replace(monitor, reference=replace(ref, path=local))
