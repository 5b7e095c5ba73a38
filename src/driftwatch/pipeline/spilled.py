"""A batch pulled from a database source, written to a temporary Parquet file for the step's file reader.

Predictions (`pipeline.database_sources`) and labels (`pipeline.database_labels`) store a pulled batch the way
they store a file: spilled here, read by their own reader, the file removed whatever happens.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from driftwatch.sources.files import SourceFile
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
            pq.write_table(table, spilled.path, compression="none", row_group_size=ROW_GROUP_ROWS)
        except BaseException:
            spilled.remove()
            raise
        return spilled

    @property
    def file(self) -> SourceFile:
        return SourceFile(self.path, "parquet", self.rows, 0)

    def remove(self) -> None:
        shutil.rmtree(os.path.dirname(self.path), ignore_errors=True)
