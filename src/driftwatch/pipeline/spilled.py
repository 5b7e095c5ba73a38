"""A batch pulled from a database source, for the step's file reader: in memory, or in a temporary Parquet file.

Predictions (`pipeline.database_sources`) and labels (`pipeline.database_labels`) store a pulled batch the way
they store a file: read by their own reader, a spilled file removed whatever happens. Predictions keep a batch in
memory (`Pulled`) when DuckDB reads it as it would read its Parquet file (`sources.parquet_rows.table_columns`):
writing and reading the file back cost ~0.7 CPU-s per 1M rows of the default log schema, a quarter of storing
them (docs/benchmarks.md, "Pulled batches read in memory"). Labels are spilled.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pyarrow as pa

from driftwatch.sources.files import SourceFile
from driftwatch.sources.parquet_copies import parquet_writable, write_parquet
from driftwatch.sources.parquet_rows import table_columns
from driftwatch.storage.database import Database
from driftwatch.storage.predictions import ROW_GROUP_ROWS
from driftwatch.workdirs import new_workdir


@dataclass(frozen=True)
class Spilled:
    """A pulled batch in a temporary Parquet file of its own folder; `remove` deletes both (idempotent)."""

    path: str
    rows: int

    @classmethod
    def of(cls, table: pa.Table, kind: str) -> Spilled:
        spilled = cls(os.path.join(new_workdir(kind), "batch.parquet"), table.num_rows)
        try:
            # Uncompressed: written and read once, locally; compressing would only cost time. Row groups of
            # DuckDB's size: its Parquet reader reads a file one row group per thread (one 1M-row group: 1.45
            # s to store 1M log rows with JSON features; 122,880-row groups: 1.15 s).
            write_parquet(table, spilled.path, uncompressed=True, row_group_rows=ROW_GROUP_ROWS)
        except BaseException:
            spilled.remove()
            raise
        return spilled

    @property
    def file(self) -> SourceFile:
        return SourceFile(self.path, "parquet", self.rows, 0)

    def remove(self) -> None:
        shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)


@dataclass(frozen=True)
class Pulled:
    """A pulled batch of predictions: `table` in memory with its `columns` as DuckDB reads them, or (when
    DuckDB would read it otherwise than its Parquet file) `spilled` to a file. `remove` is idempotent."""

    rows: int
    table: pa.Table | None = None
    columns: dict[str, str] | None = None
    spilled: Spilled | None = None

    @classmethod
    def of(cls, db: Database, table: pa.Table, kind: str) -> Pulled:
        """Kept in memory or spilled; on a cursor of its own, as it runs on the pull-ahead thread. Intervals are
        read as their parts either way (`sources.parquet_copies`), so both ways store the same raw texts."""
        table = parquet_writable(table)
        with db.side_cursor() as cur:
            columns = table_columns(cur, table)
        if columns is not None:
            return cls(table.num_rows, table, columns)
        return cls(table.num_rows, spilled=Spilled.of(table, kind))

    @property
    def file(self) -> SourceFile:
        """The file the reader records as read (its size is the rows; a batch in memory has no path)."""
        return (
            self.spilled.file
            if self.spilled is not None
            else SourceFile("pulled rows", "parquet", self.rows, 0)
        )

    def remove(self) -> None:
        if self.spilled is not None:
            self.spilled.remove()
