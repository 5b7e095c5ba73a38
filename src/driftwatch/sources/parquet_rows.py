"""A Parquet file of one row group read by pyarrow, for the normalising query to run on every core.

Why: DuckDB's Parquet reader gives a file to its threads one row group at a time, so a file of one row group is
read, and the whole normalising query (`sources.logs`) run, on one thread. That is the usual file, not a rare
one: pyarrow and pandas write up to 1Mi rows per row group by default, so an hourly log file of a few hundred
thousand rows is one row group. pyarrow decodes such a file's columns on several threads, and DuckDB runs the
query over the Arrow table, cut into chunks, on all of them: 1M rows of the default log schema (JSON features)
0.96 -> 0.55 s, 125k rows 0.146 -> 0.107 s (docs/benchmarks.md, "Parquet files of one row group").

The query over the table is the query over the file: `_row` numbers the rows from 1 in file order, `_src` is a
struct of the file's columns in the file's order (so a quarantined row's raw text, its JSON, is the same), and
the file's columns follow. It is taken only when DuckDB sees every column of the Arrow table with the type its
own reader gives it (`arrow_types_match`): a type read otherwise (a UUID, a JSON or ENUM column) could give
other values, so such a file goes through DuckDB's reader as before, as do files of several row groups (read in
parallel already), small files and very large row groups (held in memory whole, twice: as read and normalised).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from driftwatch.errors import SourceError
from driftwatch.sources.files import describe_columns
from driftwatch.storage.database import registered
from driftwatch.storage.schema import quote_identifier
from driftwatch.workdirs import new_workdir

ARROW_VIEW = "_dw_parquet_rows"  # the registered table's name on the reading cursor, one file at a time
ROW_COLUMN = "_dw_row"  # the row number added to the table
MIN_ROWS = 65_536  # fewer rows: one thread is quick anyway, and reading through pyarrow costs a copy
# More rows, or more bytes decoded, in the one row group: DuckDB's reader, one thread, in bounded batches (the
# whole row group is held in memory on this path, and a wide file of 2M rows could be gigabytes).
MAX_ROWS = 2_000_000
MAX_BYTES = 512 * 1024 * 1024


def single_row_group(path: str | Path) -> bool:
    """Whether the file is one row group of `MIN_ROWS` to `MAX_ROWS` rows and at most `MAX_BYTES` uncompressed
    (read from its footer)."""
    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException):
        return False  # DuckDB's reader names what is wrong with the file
    return _fits(meta)


def _fits(meta: pq.FileMetaData) -> bool:
    return (
        meta.num_row_groups == 1
        and MIN_ROWS <= meta.num_rows <= MAX_ROWS
        and meta.row_group(0).total_byte_size <= MAX_BYTES
    )


def arrow_plan(
    cur: duckdb.DuckDBPyConnection, path: str | Path, columns: Mapping[str, str]
) -> pa.Schema | None:
    """The file's schema when it takes this path (`single_row_group` and `arrow_types_match` alike, its footer
    read once), else None."""
    try:
        with pq.ParquetFile(path) as file:
            if not _fits(file.metadata):
                return None
            schema = file.schema_arrow
    except (OSError, pa.ArrowException):
        return None
    return schema if _types_match(cur, schema, columns) else None


def arrow_types_match(cur: duckdb.DuckDBPyConnection, path: str | Path, columns: Mapping[str, str]) -> bool:
    """Whether DuckDB types the columns of the file read by pyarrow as its own reader does (`columns`, the
    file's DESCRIBE), in the same order, and no column has the name of the added row number."""
    try:
        schema = arrow_schema(path)
    except (OSError, pa.ArrowException):
        return False
    return _types_match(cur, schema, columns)


def _types_match(cur: duckdb.DuckDBPyConnection, schema: pa.Schema, columns: Mapping[str, str]) -> bool:
    if _has_row_column(schema.names):
        return False
    return _scanned_columns(cur, schema.empty_table()) == list(columns.items())


def _has_row_column(names: list[str]) -> bool:
    """Whether a column would be taken for the added row number: DuckDB matches names in any case (a column
    `_DW_ROW` numbered the rows with its own values)."""
    return any(name.lower() == ROW_COLUMN for name in names)


def _scanned_columns(cur: duckdb.DuckDBPyConnection, empty: pa.Table) -> list[tuple[str, str]]:
    """(name, DuckDB type) of each column of an Arrow table as DuckDB scans it."""
    with registered(cur, ARROW_VIEW, empty):
        return [(str(r[0]), str(r[1])) for r in cur.execute(f"DESCRIBE {ARROW_VIEW}").fetchall()]


def table_columns(cur: duckdb.DuckDBPyConnection, table: pa.Table) -> dict[str, str] | None:
    """The columns (name -> DuckDB type) of a table in memory (a batch pulled from a database) when the
    normalising query may read it as it is, as the same rows written to a Parquet file by pyarrow would be
    read by DuckDB's reader; None when it may not, and the caller writes the file.

    As for a file read by pyarrow (`arrow_types_match`), the test is the types: DuckDB must type every column
    of the table as its Parquet reader types the column written by pyarrow (found from an empty file of the
    table's schema, written and described in ~1 ms). Strings must be valid UTF-8 (see `numbered`), and no
    column may be taken for the row number the table is given (`_has_row_column`). A pulled batch's intervals
    are structs of their parts by then (`sources.parquet_copies.parquet_writable`), as in its file.
    """
    if _has_row_column(table.column_names):
        return None
    try:
        table.validate(full=True)
    except pa.ArrowInvalid:
        return None
    empty = table.slice(0, 0)
    workdir = new_workdir("schema")
    try:
        path = os.path.join(workdir, "schema.parquet")
        pq.write_table(empty, path)
        as_file = describe_columns(cur, "parquet", path)
    except (OSError, pa.ArrowException, SourceError):
        return None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    try:
        scanned = _scanned_columns(cur, empty)
    except duckdb.Error:  # a type DuckDB does not scan from Arrow (float16): its Parquet reader decides
        return None
    expected = [(name, as_file.get(name)) for name in table.column_names]
    return dict(scanned) if scanned == expected else None


def numbered(path: str | Path, schema: pa.Schema, chunk_rows: int = 32_768) -> pa.Table:
    """The file read by pyarrow, with `ROW_COLUMN` (1, 2, ...), in chunks of `chunk_rows` rows: DuckDB scans an
    Arrow table one chunk per task, so the chunks are what its threads share.

    Raises ArrowInvalid (the caller then reads the file with DuckDB's reader, which names what is wrong) when
    the file is no longer what was planned for (`schema`, one row group within the limits: it may have been
    replaced since), or when a string is not valid UTF-8: pyarrow does not check, and DuckDB's functions on
    such a string end in a FATAL error that invalidates the whole database, where its own reader refuses the
    file alone. The check is cheap (1M rows: 0.02 s).
    """
    with pq.ParquetFile(path) as file:  # one handle: the footer checked is the one read
        if not _fits(file.metadata) or not file.schema_arrow.equals(schema):
            raise pa.ArrowInvalid(f"{path} changed since it was planned")
        table = file.read()
    table.validate(full=True)
    return numbered_table(table, chunk_rows)


def numbered_table(table: pa.Table, chunk_rows: int = 32_768) -> pa.Table:
    """`table` with `ROW_COLUMN` (1, 2, ...), in chunks of `chunk_rows` rows (slices: no copy)."""
    table = table.append_column(ROW_COLUMN, pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))
    return pa.Table.from_batches(table.to_batches(max_chunksize=chunk_rows), schema=table.schema)


def arrow_schema(path: str | Path) -> pa.Schema:
    """The file's schema as pyarrow reads it (`numbered` checks the file still has it)."""
    with pq.ParquetFile(path) as file:
        return file.schema_arrow


def arrow_source_sql(columns: Mapping[str, str], source_row: str) -> str:
    """`source_sql('parquet')`'s SELECT over the registered table instead of the file: `_row`, `source_row`
    (the row as a struct of the file's columns) and the file's columns."""
    fields = ", ".join(f"{quote_identifier(c)} := s.{quote_identifier(c)}" for c in columns)
    return (
        f"SELECT {ROW_COLUMN} AS _row, struct_pack({fields}) AS {source_row}, s.* EXCLUDE ({ROW_COLUMN}) "
        f"FROM {ARROW_VIEW} s"  # `s.` qualifies every column: a column named `s` is not the alias here
    )
