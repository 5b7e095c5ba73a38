"""Prediction/label/reference files on disk: which files, which format, and a DuckDB relation over each.

The relation exposes the file's columns as they are, plus `_row` (1-based row number in the file) and `_src`
(the whole source row: a struct for Parquet/CSV, the line for NDJSON). `raw_sql` turns `_src` into the raw text
kept for quarantine; it is only evaluated for the rows that are quarantined (see `sources.logs.with_raw`), as
building JSON for every row cost most of the time of loading a file. CSV is read all-VARCHAR and NDJSON line by
line, so a malformed value or line becomes a quarantined row instead of failing the whole file.

`_row` is `row_number() OVER ()` directly over the file reader: DuckDB documents that a window with an empty
OVER clause, and read_parquet/read_csv, preserve the file's row order as long as `preserve_insertion_order` is
on (its default; `storage.database` does not change it), so `_row` is the row's position in the file.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

import duckdb

from driftwatch.errors import SourceError
from driftwatch.sources.formats import file_format

NDJSON_LINE = "_line"
SOURCE_ROW = "_src"
# Columns every reader adds beside the file's own; a file column of the same name would be ambiguous.
RESERVED_COLUMNS = frozenset({"_row", SOURCE_ROW})


@dataclass(frozen=True)
class SourceFile:
    path: str
    format: str
    size: int
    mtime_ns: int


def list_files(pattern: str, configured_format: str = "auto") -> tuple[list[SourceFile], list[SourceError]]:
    """Files matching a glob (recursive `**` allowed), sorted by path for a stable ingest order.

    A file of an unknown type is returned as a problem naming it, so it cannot hide the good files beside it.
    """
    found: list[SourceFile] = []
    problems: list[SourceError] = []
    for path in sorted(glob.glob(pattern, recursive=True)):
        if not os.path.isfile(path):
            continue
        try:
            fmt = file_format(path, configured_format)
        except SourceError as exc:
            problems.append(exc)
            continue
        stat = os.stat(path)
        found.append(SourceFile(path, fmt, stat.st_size, stat.st_mtime_ns))
    return found, problems


def source_sql(fmt: str) -> str:
    """A SELECT over one file (path bound as $path) with `_row`, `_src` and the file's own columns."""
    # `s AS _src` is the row as a struct; building it only references the columns (no copy, no JSON).
    if fmt == "parquet":
        return f"SELECT row_number() OVER () AS _row, s AS {SOURCE_ROW}, s.* FROM read_parquet($path) s"
    if fmt == "csv":
        return (
            f"SELECT row_number() OVER () AS _row, s AS {SOURCE_ROW}, s.* "
            "FROM read_csv($path, all_varchar = true, header = true) s"
        )
    if fmt == "ndjson":
        # One VARCHAR per line (record separator as delimiter, no quoting), so bad JSON stays a row.
        return (
            f"SELECT _row, _line AS {SOURCE_ROW}, _line AS {NDJSON_LINE} FROM ("
            "SELECT row_number() OVER () AS _row, line AS _line FROM read_csv($path, columns = {'line': 'VARCHAR'}, "
            "header = false, delim = chr(30), quote = '', escape = '', auto_detect = false)"
            ") WHERE _line IS NOT NULL AND trim(_line) <> ''"
        )
    raise SourceError("(config)", f"unknown format {fmt!r}")


def raw_sql(fmt: str) -> str:
    """The raw text of a row from its `_src`: the row as JSON (Parquet, CSV) or the line itself (NDJSON)."""
    return SOURCE_ROW if fmt == "ndjson" else f"to_json({SOURCE_ROW})"


def describe_columns(cur: duckdb.DuckDBPyConnection, fmt: str, path: str) -> dict[str, str]:
    """Column name → DuckDB type of a file; raises SourceError naming the file when it cannot be read."""
    try:
        rows = cur.execute(f"DESCRIBE {source_sql(fmt)}", {"path": path}).fetchall()
    except duckdb.Error as exc:
        raise SourceError(path, f"cannot read as {fmt}: {first_line(exc)}") from None
    # The reader's own `_row` and `_src` come first; the file's columns follow, whatever their names.
    own = {str(r[0]): str(r[1]) for r in rows[2:]} if fmt != "ndjson" else {}
    clash = sorted(RESERVED_COLUMNS & set(own))
    if clash:
        raise SourceError(
            path,
            f"has a column named {clash[0]!r}, a name driftwatch's reader keeps for itself "
            f"({', '.join(sorted(RESERVED_COLUMNS))}); rename that column",
        )
    return {str(r[0]): str(r[1]) for r in rows if r[0] not in ("_row", SOURCE_ROW)}


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
