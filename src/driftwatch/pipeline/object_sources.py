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
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Protocol

import duckdb

from driftwatch.config.monitors import MonitorConfig
from driftwatch.errors import SourceError, first_line
from driftwatch.pipeline.database_reference import database_reference
from driftwatch.pipeline.files_ahead import FilesAhead, Opened, turn_over
from driftwatch.sources.files import SourceFile, is_empty
from driftwatch.sources.formats import file_kind
from driftwatch.sources.objectstore import (
    Downloaded,
    ObjectPattern,
    ObjectStoreOptions,
    RemoteObject,
    download,
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


ReadObject = Callable[[SourceFile, str, Opened | None, threading.Event], None]


def ingest_objects(
    db: Database,
    monitor: str,
    kind: str,
    source: Any,
    read_one: ReadObject,
    summary: FileSummary,
    on_file: Callable[[str], None] | None = None,
    files_ahead: Callable[[], FilesAhead] | None = None,
) -> None:
    """Read every new or changed object of `source` (its `path`, `format`, `object_store`) with
    `read_one(file, url, opened, read_done)`, which stores one file's rows, records it in `ingested_files` in one
    transaction and counts it in the summary (as the step's local loop does). An empty object is recorded here,
    counted as read with 0 rows.

    The next object is downloaded while one is stored (`_Downloads`: two objects on disk at most) and, given
    `files_ahead` (the prediction step's `pipeline.files_ahead`), opened with its first batch read once the one
    before is read to its end: `opened` is what was read ahead of this object (None: nothing), `read_done` is
    to be set once it is read to its end. Each object is still stored in key order, one after the other."""
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
    new = listing.new
    with (
        _Downloads(store, pattern, new, source.format) as downloads,
        files_ahead() if files_ahead is not None else nullcontext(None) as ahead,
    ):
        for k, obj in enumerate(new):
            if on_file:
                on_file(obj.url)
            downloads.prefetch(k + 1)
            opened = None if ahead is None else ahead.take(obj.url)
            read_done = threading.Event()  # set once `obj` is read to its end: the next one may be read then
            if ahead is not None and k + 1 < len(new):
                ahead.start(partial(downloads.file, k + 1), read_done, key=new[k + 1].url)
            got: _Fetched | None = None
            try:
                got = downloads.take(k)
                _read_object(db, monitor, kind, got, read_one, summary, opened, read_done)
            except (SourceError, duckdb.Error) as exc:
                message = exc.message if isinstance(exc, SourceError) else f"cannot read: {first_line(exc)}"
                if got is not None:  # the reader names the downloaded copy: the user knows the object
                    message = message.replace(got.file.path, obj.url)
                summary.failed_files.append((obj.url, message))
                failed.add(obj.key)
            except BaseException:  # an interrupt: nothing more is downloaded, opened or read
                downloads.abort()
                if ahead is not None:
                    ahead.stop()
                raise
            finally:
                turn_over(opened, read_done)
                if got is not None:
                    got.remove()
    _advance(db, monitor, kind, pattern, listing, failed)


class _Downloads:
    """The objects of one cycle downloaded one after the other on a thread of their own, each next one while
    the one before is stored (`prefetch`); `with` waits for a download still running and removes what was
    downloaded and not taken (an interrupt, a failure)."""

    def __init__(self, store: Any, pattern: ObjectPattern, objects: list[RemoteObject], fmt: str) -> None:
        self._store = store
        self._pattern = pattern
        self._objects = objects
        self._format = fmt
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-object-ahead")
        self._started: dict[int, Future[_Fetched]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def __enter__(self) -> _Downloads:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()
        self._pool.shutdown(wait=True)
        for pending in self._started.values():
            if pending.done() and not pending.cancelled() and pending.exception() is None:
                pending.result().remove()  # removing twice is harmless: a taken one is removed already

    def abort(self) -> None:
        """No more downloads: those not begun never begin, a running one stops at its next chunk."""
        self._stop.set()
        for pending in self._started.values():
            pending.cancel()

    def prefetch(self, k: int) -> None:
        """Start downloading the objects up to the k-th, in order (each once; nothing past the last)."""
        with self._lock:
            if self._stop.is_set():
                return
            for i in range(len(self._started), min(k + 1, len(self._objects))):
                self._started[i] = self._pool.submit(self._fetch, self._objects[i])

    def take(self, k: int) -> _Fetched:
        """The k-th object downloaded, waiting for it (SourceError: it could not be)."""
        self.prefetch(k)
        pending = self._started.get(k)
        if pending is None:  # aborted before it began
            raise SourceError(self._objects[k].url, "download stopped")
        return pending.result()

    def file(self, k: int) -> SourceFile:
        """The k-th object as the local file the reader is handed (waits for its download)."""
        return self.take(k).file

    def _fetch(self, obj: RemoteObject) -> _Fetched:
        fmt, compression = file_kind(obj.url, self._format)  # by the key's name: before any download
        got = download(self._store, self._pattern, obj, self._stop)
        return _Fetched(got, SourceFile(got.local, fmt, got.read.size, got.read.version, compression))


@dataclass(frozen=True)
class _Fetched:
    downloaded: Downloaded
    file: SourceFile

    def remove(self) -> None:
        self.downloaded.remove()


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
    got: _Fetched,
    read_one: ReadObject,
    summary: FileSummary,
    opened: Opened | None,
    read_done: threading.Event,
) -> None:
    f, url = got.file, got.downloaded.read.url
    if is_empty(f):
        # Recorded as read with 0 rows, so it is not fetched again until it changes.
        with db.transaction() as tx:
            record_ingested(tx, monitor, kind, url, f.size, f.mtime_ns, utcnow())
        summary.files_read += 1
        return
    read_one(f, url, opened, read_done)


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
