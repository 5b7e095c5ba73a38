"""Spies shared by the local-file and the object-storage read-ahead tests: the files (or downloaded objects)
`pipeline.files_ahead.FilesAhead._open` opened ahead, in order; and when each batch is read and stored."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from driftwatch.pipeline import files_ahead, ingest


def spy_opened_ahead(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch `FilesAhead._open`; the returned list fills with the name of each file it opened (not the ones
    it left to the usual way)."""
    opened: list[str] = []
    real_open = files_ahead.FilesAhead._open

    def spy(self: files_ahead.FilesAhead, f: Any, after: threading.Event) -> Any:
        result = real_open(self, f, after)
        if result is not None:
            opened.append(Path(f.path).name)
        return result

    monkeypatch.setattr(files_ahead.FilesAhead, "_open", spy)
    return opened


def spy_reads_and_stores(
    monkeypatch: pytest.MonkeyPatch,
    events: list[str],
    lock: threading.Lock,
    meanwhile: Callable[[str], None],
    on_read: Callable[[str], None] | None = None,
) -> None:
    """Patch the batches read (where they are read: ahead or not) and the batch store: `events` fills with
    "read <first id>", "store <first id> begins" and "... ends"; `meanwhile(first id)` runs between the two,
    `on_read(first id)` after each read."""
    real_batches = files_ahead.prepared_batches
    real_store = ingest.store_prediction_batch

    def batches_spy(db: Any, plan: Any, cursors: Any, batch_rows: int) -> Any:
        for batch in real_batches(db, plan, cursors, batch_rows):
            first = batch.rows.column("request_id")[0].as_py()
            with lock:
                events.append(f"read {first}")
            if on_read is not None:
                on_read(first)
            yield batch

    def store_spy(tx: Any, monitor: str, batch: Any, *args: Any) -> Any:
        first = batch.column("request_id")[0].as_py()
        with lock:
            events.append(f"store {first} begins")
        meanwhile(first)
        with lock:
            events.append(f"store {first} ends")
        return real_store(tx, monitor, batch, *args)

    monkeypatch.setattr(files_ahead, "prepared_batches", batches_spy)
    monkeypatch.setattr(ingest, "prepared_batches", batches_spy)
    monkeypatch.setattr(ingest, "store_prediction_batch", store_spy)
