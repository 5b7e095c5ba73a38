"""The next prediction file opened, and its first batch read, while the file before it is being stored.

Why: ingest reads a file's next batch while storing the current one (`pipeline.ingest._marked`), but a file of
one batch (an hourly file of up to 1M rows: the usual file) had nothing to overlap, so its read and its store
took turns on the two cores, file after file. Here the next file's first batch is read on another thread as
soon as the file before it has been read to its end, while that file's last batch is stored. Memory still holds
two batches at most: the one being stored and the one read ahead (and, for a Parquet file of one row group
read by pyarrow, that file's decoded table, at most `sources.parquet_rows.MAX_BYTES`).

Nothing about what is stored changes: the file is ingested by `pipeline.ingest.ingest_file` as before, in file
order, handed what was read ahead (its `Readable`, its plan, the reading cursors and the first batch). The
opening is only ever an attempt: a file that is already ingested or empty, one that needs a repaired copy, or
any error while opening it leaves nothing read ahead, and the file then goes the usual way, which meets the same
error and reports it as it always did.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field

import pyarrow as pa

from driftwatch.sources.files import Readable, SourceFile, first_readable, is_empty
from driftwatch.sources.logs import LogLayout
from driftwatch.sources.typed_lines import Normalising, normalising, normalising_table
from driftwatch.storage.database import Database
from driftwatch.storage.ingest_rows import batch_pairs_repeat
from driftwatch.storage.ingested_files import already_ingested


@dataclass(frozen=True)
class Prepared:
    """A normalised batch as the store takes it: its rows, and whether a pair repeats among them."""

    rows: pa.Table
    repeats: bool


def prepared_batches(
    db: Database, plan: Normalising, cursors: ExitStack, batch_rows: int
) -> Iterator[Prepared]:
    """The file's batches as `plan` reads them, each finished and checked for repeated pairs where it is read
    (`pipeline.ingest` reads them on its read-ahead thread, while the batch before is being stored). The two
    cursors are the caller's to close, through `cursors`."""
    reader = cursors.enter_context(db.side_cursor())
    preparer = cursors.enter_context(db.side_cursor())
    for streamed in plan.stream(reader, batch_rows):
        finished = plan.finish(preparer, streamed)
        yield Prepared(finished, batch_pairs_repeat(preparer, finished))


@dataclass
class Opened:
    """A file opened ahead: what `read_source` reads first, its plan, and its batches with the first one read.
    `close` releases the reading cursors (the ingest that uses it closes it; so does `FilesAhead` otherwise)."""

    readable: Readable
    plan: Normalising
    batches: Iterator[Prepared]
    first: Prepared | None
    cursors: ExitStack = field(repr=False)

    def all_batches(self) -> Iterator[Prepared]:
        """The first batch (let go of once handed over: memory holds two batches, not three), then the rest."""
        first, self.first = self.first, None
        if first is not None:
            yield first
        del first
        yield from self.batches

    def close(self) -> None:
        """Stop the reading generator first (its `finally` unregisters a view on its cursor), then close the
        cursors."""
        close_batches(self.batches)
        self.cursors.close()


def opened_table(
    db: Database, name: str, table: pa.Table, columns: dict[str, str], layout: LogLayout, batch_rows: int
) -> Opened:
    """Rows in memory (a pulled batch, `pipeline.spilled.Pulled`) opened as a file read ahead would be, for
    `pipeline.ingest.ingest_file`; nothing is read until its batches are asked for. The caller closes it."""
    cursors = ExitStack()
    plan = normalising_table(name, table, columns, layout)
    batches = prepared_batches(db, plan, cursors, batch_rows)
    return Opened(Readable("parquet", name, columns), plan, batches, None, cursors)


class FilesAhead:
    """Opens each next file on one thread of its own; `with` closes what was opened and not used."""

    def __init__(self, db: Database, monitor: str, kind: str, layout: LogLayout, batch_rows: int) -> None:
        self._db = db
        self._monitor = monitor
        self._kind = kind
        self._layout = layout
        self._batch_rows = batch_rows
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-file-ahead")
        self._pending: dict[str, Future[Opened | None]] = {}
        self._waiting: list[threading.Event] = []
        self._closing = False

    def __enter__(self) -> FilesAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        for after in self._waiting:  # an opening still waiting for its file's turn: it stops
            after.set()
        try:
            for pending in self._pending.values():
                _close_quietly(pending)
        finally:  # the thread is done before the caller removes what it may be reading (a downloaded object)
            self._pool.shutdown(wait=True)
        for pending in self._pending.values():  # opened after the first pass (it was still running)
            _close_quietly(pending)
        self._pending.clear()

    def start(
        self, f: SourceFile | Callable[[], SourceFile], after: threading.Event, key: str | None = None
    ) -> None:
        """Open `f` on the thread; its first batch is read once `after` is set (the file before it read).
        `f` may be a function that waits for the file (an object still downloading: `pipeline.object_sources`),
        called on the thread; then `key` names it for `take` (a file's key is its path)."""
        self._waiting.append(after)
        if isinstance(f, SourceFile):
            self._pending[f.path] = self._pool.submit(self._open, f, after)
        else:
            assert key is not None
            self._pending[key] = self._pool.submit(self._open_when_ready, f, after)

    def take(self, key: str) -> Opened | None:
        """What was opened of the file `key` names, waiting for it; None when nothing was (or opening it, or
        getting the file, failed). Kept among the pending until it is handed over, so an interrupt while waiting
        leaves it for `__exit__` to close."""
        pending = self._pending.get(key)
        if pending is None:
            return None
        try:
            return pending.result()
        except Exception:  # noqa: BLE001  (the usual way meets the error again and reports it)
            return None
        finally:
            if pending.done():
                del self._pending[key]

    def stop(self) -> None:
        """No more opening: an opening still waiting for its turn returns without reading (an interrupt)."""
        self._closing = True

    def _open_when_ready(self, get: Callable[[], SourceFile], after: threading.Event) -> Opened | None:
        if self._closing:
            return None
        f = get()
        return None if self._closing else self._open(f, after)

    def _open(self, f: SourceFile, after: threading.Event) -> Opened | None:
        with self._db.side_cursor() as cur:
            if already_ingested(cur, self._monitor, self._kind, f.path, f.size, f.mtime_ns) or is_empty(f):
                return None
            readable = first_readable(cur, f)
            if readable is None:  # a repaired copy: read the usual way
                return None
            plan = normalising(
                cur, readable.fmt, readable.path, readable.columns, self._layout, readable.compression
            )
        after.wait()
        if self._closing:
            return None
        cursors = ExitStack()
        try:
            batches = prepared_batches(self._db, plan, cursors, self._batch_rows)
            first = next(batches, None)
        except BaseException:
            cursors.close()
            raise
        return Opened(readable, plan, batches, first, cursors)


def turn_over(opened: Opened | None, read_done: threading.Event) -> None:
    """A file's turn is over, however it went: the file after it may be read now, and what was opened of this
    one ahead is let go."""
    read_done.set()
    if opened is not None:
        opened.close()


def close_batches(batches: Iterator[Prepared]) -> None:
    """Close a batches generator (`prepared_batches`) left suspended, so that its `finally` runs now, while its
    cursors are open, and not when it is garbage-collected ("Exception ignored ... Connection already closed")."""
    close = getattr(batches, "close", None)
    if close is not None:
        close()


def _close_quietly(pending: Future[Opened | None]) -> None:
    if not pending.done():
        return
    try:
        opened = pending.result()
    except Exception:  # noqa: BLE001, S110  (nothing was opened)
        return
    if opened is not None:
        opened.close()
