"""The DuckDB outbox for the `Outbox` contract test: a real database file in a temporary folder."""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

from driftwatch.pipeline.alerts import DuckDBOutbox
from driftwatch.storage.database import Database


def _cleanup(db: Database, folder: str) -> None:
    db.close()
    shutil.rmtree(folder, ignore_errors=True)


def duckdb_outbox() -> DuckDBOutbox:
    """A `DuckDBOutbox` on a fresh database file, closed and removed once the outbox is garbage."""
    folder = tempfile.mkdtemp(prefix="driftwatch-outbox-")
    db = Database(Path(folder) / "alerts.duckdb")
    outbox = DuckDBOutbox(db)
    weakref.finalize(outbox, _cleanup, db, folder)
    return outbox
