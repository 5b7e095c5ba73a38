"""Prediction/label/reference files on disk: which files, which format, and a DuckDB relation over each.

`read_source` is how a step reads one file: on the file as it is when DuckDB's reader takes it (nearly always, at
no extra cost), else on a copy repaired line by line (`sources.repair`) whose refused rows go to quarantine.

The relation exposes the file's columns as they are, plus `_row` (1-based row number in the file) and `_src`
(the whole source row: a struct for Parquet/CSV, the line for NDJSON). `raw_sql` turns `_src` into the raw text
kept for quarantine; it is only evaluated for the rows that are quarantined (see `sources.logs.with_raw`), as
building JSON for every row cost most of the time of loading a file. CSV is read all-VARCHAR and NDJSON line by
line, so a malformed value or line becomes a quarantined row instead of failing the whole file.

`_row` is the row's 1-based position in the file: for Parquet the reader's own `file_row_number` plus one, for
text files `row_number() OVER ()` directly over the file reader (DuckDB documents that a window with an empty
OVER clause, and read_csv, preserve the file's row order as long as `preserve_insertion_order` is on: its
default, which `storage.database` does not change).
"""

from __future__ import annotations

import csv
import glob
import os
import zlib
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import TypeVar

import duckdb
import pyarrow as pa

from driftwatch.errors import SourceError, first_line
from driftwatch.sources.formats import (
    TEXT_FORMATS,
    checked_compression,
    content_compression,
    file_kind,
    open_binary,
)
from driftwatch.sources.repair import (
    CSV_DELIMITERS,
    ROWS_FORMAT,
    RejectedRow,
    header_delimiter,
    repair_csv,
    repair_ndjson,
)

T = TypeVar("T")

NDJSON_LINE = "_line"
SOURCE_ROW = "_src"
# Columns every reader adds beside the file's own; a file column of the same name would be ambiguous.
_ROW = "_dw_row_struct"  # the reader's table alias in `source_sql`
RESERVED_COLUMNS = frozenset({"_row", SOURCE_ROW, _ROW})
_READER_ROW_NUMBER = "file_row_number"  # DuckDB's Parquet reader numbers the rows of a file from 0


@dataclass(frozen=True)
class SourceFile:
    path: str
    format: str
    size: int
    mtime_ns: int
    compression: str | None = None  # 'gzip' or 'zstd' for a .gz/.zst text file


@dataclass(frozen=True)
class Readable:
    """What DuckDB reads for one source file: the file itself, or a repaired copy numbered as the file is.

    `fmt` and `path` go to `source_sql` / `sources.logs.normalise_query` as a file's format and path would;
    `rejected` are the rows refused while repairing, for the caller to quarantine with the file's other bad rows.
    """

    fmt: str
    path: str
    columns: dict[str, str]
    rejected: tuple[RejectedRow, ...] = ()
    # How DuckDB is to decompress `path` (`source_sql`): the content's compression for the file itself, as
    # DuckDB's own detection goes by `.gz`/`.zst` only (`.gzip`, `.zstd`, none); "auto" = by name.
    compression: str = "auto"


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
            fmt, compression = file_kind(path, configured_format)
        except SourceError as exc:
            problems.append(exc)
            continue
        stat = os.stat(path)
        found.append(SourceFile(path, fmt, stat.st_size, stat.st_mtime_ns, compression))
    return found, problems


def source_file(path: str, configured_format: str = "auto") -> SourceFile:
    """One named file (the reference): its format, compression, size and mtime; SourceError when missing."""
    fmt, compression = file_kind(path, configured_format)
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise SourceError(path, f"cannot be read: {exc.strerror}") from None
    return SourceFile(path, fmt, stat.st_size, stat.st_mtime_ns, compression)


def is_empty(f: SourceFile) -> bool:
    """True for a file with no bytes (or, compressed, none once decompressed): a file being written, or a day
    without traffic. It is recorded as read with 0 rows, and read again when it changes."""
    if f.size == 0:
        return True
    compression = content_compression(f.path)
    if compression is None:
        return False
    try:
        with open_binary(f.path, compression) as stream:
            return not stream.read(1)
    except (OSError, EOFError, ValueError, zlib.error):
        return False  # a broken compressed file: the reader says what is wrong with it


def read_source(
    cur: duckdb.DuckDBPyConnection, f: SourceFile, use: Callable[[Readable], T], first: Readable | None = None
) -> T:
    """`use(readable)` on the file as DuckDB reads it; for a CSV/NDJSON file that DuckDB's reader refuses
    (anywhere: in `DESCRIBE` or in `use`'s own queries), again on a repaired copy with the refused rows.

    `use` must be all or nothing (one transaction, or reads only): after a refusal it runs a second time. A clean
    file, read by DuckDB alone, costs nothing extra. Raises SourceError when the file cannot be read at all.
    `first`: `first_readable(f)`, when the caller found it already (it read the file ahead).
    """
    if first is None:
        first = first_readable(cur, f)
    if f.format not in TEXT_FORMATS:
        assert first is not None  # `first_readable` raises for such a file rather than give None
        return use(first)
    if first is not None:
        try:
            return use(first)
        except duckdb.Error as exc:
            # Only the file's reader refusing a row means the file needs repair (DuckDB's reader is all or
            # nothing). Anything else (a transaction conflict, a full disk, a bug in `use`'s SQL) is raised as
            # it is: read again, a good file would only be re-read slowly and the real error hidden.
            if not reader_refused(exc):
                raise
    codec = checked_compression(f.path, f.format)
    _refuse_binary(f, codec)
    try:
        repaired = (repair_csv if f.format == "csv" else repair_ndjson)(cur, f.path, codec)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        # A compressed file cut short (still being written?): retried next run.
        what = f"cannot be decompressed as {codec}" if codec else "cannot be read"
        raise SourceError(f.path, f"{what}: {first_line(exc)}") from None
    try:
        _refuse_reserved(f.path, repaired.columns)
        return use(Readable(repaired.fmt, repaired.path, repaired.columns, repaired.rejected))
    finally:
        os.unlink(repaired.path)


def first_readable(cur: duckdb.DuckDBPyConnection, f: SourceFile) -> Readable | None:
    """What `read_source` reads first: the file as DuckDB's reader takes it, or None for a CSV/NDJSON file that
    must be read from a repaired copy (DuckDB refused its start, or sniffed it badly). Raises SourceError for a
    file that cannot be read at all (a Parquet file DuckDB cannot describe, a bad compression)."""
    codec = checked_compression(f.path, f.format)  # by content, as `compare` reads it (`sources.formats`)
    if f.format not in TEXT_FORMATS:
        return Readable(f.format, f.path, describe_columns(cur, f.format, f.path))
    compression = codec or "none"
    try:
        columns = _describe(cur, f.format, f.path, compression)
    except duckdb.Error:
        return None  # DuckDB's reader refused the file's start (DESCRIBE only reads it); read it line by line
    if _sniffed_badly(f, columns, codec):
        return None
    return Readable(f.format, f.path, columns, compression=compression)


def stream_rows(
    cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object], batch_rows: int
) -> Iterator[pa.Table]:
    """The rows of a query over a source file (`sources.logs.normalise_query`), in file order, as Arrow tables
    of about `batch_rows` rows (the last one smaller), read as they are consumed: memory holds one batch.

    DuckDB's reader hands out smaller chunks (a Parquet row group, 122,880 rows) whatever size is asked, so
    they are gathered here: each batch costs its consumer a few statements and a scan of the stored ids, and
    80 small batches for 10M rows made that scan grow with the square of the file.

    Run it on a cursor of its own (`Database.side_cursor`): the batches are written through another one while
    this query is still reading. A reader refusing a row raises here, at the batch that holds it.
    """
    # A relation, not `execute(...)`: DuckDB streams a relation's reader, a DB-API result is copied first.
    reader = cur.sql(sql, params=params).to_arrow_reader(batch_rows)
    held: list[pa.RecordBatch] = []
    rows = 0
    try:
        while True:
            try:
                chunk = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowException, OSError) as exc:  # Arrow raises DuckDB's error as a plain OSError
                raise _as_duckdb_error(exc) from exc
            held.append(chunk)
            rows += chunk.num_rows
            if rows >= batch_rows:
                yield pa.Table.from_batches(held)
                held, rows = [], 0
        if rows:
            yield pa.Table.from_batches(held)
    finally:
        reader.close()


# DuckDB's error classes by the prefix of their message, as an Arrow reader passes DuckDB's error on.
_DUCKDB_ERRORS: dict[str, type[duckdb.Error]] = {
    "Invalid Input Error: ": duckdb.InvalidInputException,
    "IO Error: ": duckdb.IOException,
    "Conversion Error: ": duckdb.ConversionException,
    "Out of Memory Error: ": duckdb.OutOfMemoryException,
}


def _as_duckdb_error(exc: Exception) -> duckdb.Error:
    """The DuckDB error behind an Arrow reader's error (which wraps it as an `OSError`): a reader refusing a
    row mid-stream must reach `read_source` as the DuckDB error it is, to be repaired, not fail the file."""
    text = str(exc)
    for prefix, kind in _DUCKDB_ERRORS.items():
        if text.startswith(prefix):
            return kind(text)
    return duckdb.Error(text)


def reader_refused(exc: BaseException) -> bool:
    """True for an error DuckDB's CSV reader (which also reads NDJSON line by line) raises on a malformed or
    truncated file: a row it cannot parse (a bad field count, invalid UTF-8, a line over its limit, a stray
    carriage return or delimiter byte), a dialect it cannot sniff, or a compressed stream cut short."""
    text = str(exc)
    if isinstance(exc, duckdb.InvalidInputException):
        # Its messages name it: "CSV Error on Line: n", "The CSV Parser state machine reached an invalid state",
        # "Error when sniffing file".
        return "CSV" in text or "sniffing file" in text
    if isinstance(exc, duckdb.IOException):
        return "GZIP" in text.upper() or "ZSTD" in text.upper()
    return False


def _sniffed_badly(f: SourceFile, columns: dict[str, str], compression: str | None) -> bool:
    """A CSV whose columns are not its header's: DuckDB's sniffer, meeting a bad row in its sample, either
    gives up on the dialect and reads one column named like the whole header line (reading on would fail with
    "has no column"), or takes the row with the most fields for the header and skips every line above it (a
    file whose last row has one field too many read as 0 rows, silently). Either way the file is repaired."""
    if f.format != "csv":
        return False
    if len(columns) == 1 and any(d in next(iter(columns)) for d in CSV_DELIMITERS):
        return True
    fields = _header_fields(f, compression)
    return fields is not None and fields != len(columns)


_HEADER_PEEK_BYTES = 1 << 16


def _header_fields(f: SourceFile, compression: str | None) -> int | None:
    """How many fields the file's header (its first non-empty line) has, or None when that is not plain to
    see (no line break in the first 64 KiB, not UTF-8, unreadable): DuckDB's reading is then trusted."""
    try:
        with open_binary(f.path, compression) as stream:
            head = stream.read(_HEADER_PEEK_BYTES)
    except (OSError, EOFError, ValueError, zlib.error):
        return None
    lines = head.split(b"\n")
    if len(head) == _HEADER_PEEK_BYTES:
        lines.pop()  # may be cut short
    for line in lines:
        text = line.rstrip(b"\r")
        if not text:
            continue  # DuckDB skips empty lines before the header
        try:
            header = text.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return len(next(csv.reader([header], delimiter=header_delimiter(header))))
    return None


# Leading bytes of binary formats a text file is sometimes mistaken for, named in the error.
_MAGIC = {
    b"PAR1": "a Parquet file (name it .parquet)",
    b"PK\x03\x04": "a zip archive",
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
    b"\xff\xfe": "UTF-16 text (save it as UTF-8)",
    b"\xfe\xff": "UTF-16 text (save it as UTF-8)",
}


def _refuse_binary(f: SourceFile, compression: str | None) -> None:
    try:
        with open_binary(f.path, compression) as stream:
            head = stream.read(8)
    except (OSError, EOFError, ValueError, zlib.error) as exc:
        raise SourceError(f.path, f"cannot be decompressed as {compression}: {first_line(exc)}") from None
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise SourceError(f.path, f"is not {f.format} text: it starts like {what}")


_DUCKDB_COMPRESSIONS = ("auto", "none", "gzip", "zstd")


def source_sql(fmt: str, compression: str = "auto", columns: Collection[str] | None = None) -> str:
    """A SELECT over one file (path bound as $path) with `_row`, `_src` and the file's own columns; a text
    file decompressed as `compression` says (`Readable.compression`). `columns`: the file's own columns, when
    known (`describe_columns`), so that a Parquet file's rows can be numbered by the reader."""
    if compression not in _DUCKDB_COMPRESSIONS:
        raise SourceError("(reader)", f"unknown compression {compression!r}")
    codec = f", compression = '{compression}'"  # one of a fixed few words, never a user's text
    # `<alias> AS _src` is the row as a struct; building it only references the columns (no copy, no JSON). The
    # alias is a name no file uses: a file column named like the alias (`s`, as it was) shadows it, and `_src`
    # was that column alone, so a quarantined row's raw text was one value instead of the row.
    if fmt == "parquet":
        # The Parquet reader's own row number (a virtual column, in neither `s` nor `s.*`) keeps the query
        # parallel: `row_number() OVER ()` runs on one thread and made the whole normalising query single-
        # threaded (1M rows x 24 columns: 0.67 -> 0.31 s wall, docs/benchmarks.md "Parquet ingest"). A file
        # with a column of that name would shadow it: such a file is numbered by `row_number()`.
        own = columns is not None and not any(c.lower() == _READER_ROW_NUMBER for c in columns)
        row = f"{_READER_ROW_NUMBER} + 1" if own else "row_number() OVER ()"
        return f"SELECT {row} AS _row, {_ROW} AS {SOURCE_ROW}, {_ROW}.* FROM read_parquet($path) {_ROW}"
    if fmt == "csv":
        return (
            f"SELECT row_number() OVER () AS _row, {_ROW} AS {SOURCE_ROW}, {_ROW}.* "
            # Quotes fixed to the standard `"` (doubled to escape): sniffed, one stray quote could make the whole
            # header one column, and the file fail with a misleading "has no column" instead of being repaired.
            f"FROM read_csv($path, all_varchar = true, header = true, quote = '\"', escape = '\"'{codec}) {_ROW}"
        )
    if fmt == ROWS_FORMAT:
        # A repaired CSV (`sources.repair`): the row number and the row as a struct are stored, not computed.
        return f"SELECT _row, {SOURCE_ROW}, {SOURCE_ROW}.* FROM read_parquet($path)"
    if fmt == "ndjson":
        # One VARCHAR per line (record separator as delimiter, no quoting), so bad JSON stays a row.
        return (
            f"SELECT _row, _line AS {SOURCE_ROW}, _line AS {NDJSON_LINE} FROM ("
            "SELECT row_number() OVER () AS _row, line AS _line FROM read_csv($path, columns = {'line': 'VARCHAR'}, "
            f"header = false, delim = chr(30), quote = '', escape = '', auto_detect = false{codec})"
            f") WHERE _line IS NOT NULL AND _line <> '' AND ({_STARTS_UNTRIMMED} OR trim(_line) <> '')"
        )
    raise SourceError("(config)", f"unknown format {fmt!r}")


# A line whose first character `trim` keeps is not blank: `trim` (which copies the line) runs only for a line
# that starts with one of the characters it removes, the Unicode space separators (U+0020, U+00A0, U+1680,
# U+2000-U+200A, U+202F, U+205F, U+3000, found by trying every code point). `trim` of every 700-byte line was
# ~1 of the ~1.5 CPU-s of reading 1M NDJSON lines (docs/benchmarks.md, "Ingest: a typed fast path").
_STARTS_UNTRIMMED = "(ascii(_line) < 5760 AND ascii(_line) NOT IN (32, 160))"


def raw_sql(fmt: str) -> str:
    """The raw text of a row from its `_src`: the row as JSON (Parquet, CSV) or the line itself (NDJSON)."""
    return SOURCE_ROW if fmt == "ndjson" else f"to_json({SOURCE_ROW})"


def describe_columns(
    cur: duckdb.DuckDBPyConnection, fmt: str, path: str, compression: str = "auto"
) -> dict[str, str]:
    """Column name → DuckDB type of a file; raises SourceError naming the file when it cannot be read."""
    try:
        return _describe(cur, fmt, path, compression)
    except duckdb.Error as exc:
        raise SourceError(path, f"cannot read as {fmt}: {_unreadable(fmt, path, exc)}") from None


def _describe(
    cur: duckdb.DuckDBPyConnection, fmt: str, path: str, compression: str = "auto"
) -> dict[str, str]:
    rows = cur.execute(f"DESCRIBE {source_sql(fmt, compression)}", {"path": path}).fetchall()
    # The reader's own `_row` and `_src` come first; the file's columns follow, whatever their names.
    columns = {str(r[0]): str(r[1]) for r in rows[2:]}
    _refuse_reserved(path, columns)
    return columns


def _refuse_reserved(path: str, columns: dict[str, str]) -> None:
    # Matched in any case, as DuckDB matches names: a column `_DW_ROW_STRUCT` took the reader alias's place
    # (every quarantined row's raw text became that column's value), a feature `_ROW` was profiled as the row
    # numbers.
    clash = sorted(c for c in columns if c.lower() in RESERVED_COLUMNS)
    if clash:
        raise SourceError(
            path,
            f"has a column named {clash[0]!r}, a name driftwatch's reader keeps for itself "
            f"({', '.join(sorted(RESERVED_COLUMNS))}); rename that column",
        )


def _unreadable(fmt: str, path: str, exc: BaseException) -> str:
    """Why a file cannot be read: DuckDB's first line, and for Parquet what is wrong with the file's frame."""
    if fmt == "parquet":
        try:
            size = os.path.getsize(path)
            with open(path, "rb") as f:
                head = f.read(4)
                f.seek(max(size - 4, 0))
                tail = f.read(4)
        except OSError as err:
            return err.strerror or first_line(exc)
        if size == 0:
            return "the file is empty (0 bytes)"
        if head != b"PAR1":
            return f"not a Parquet file (it does not start with PAR1; first bytes {head!r})"
        if tail != b"PAR1":
            return f"the Parquet file is incomplete ({size:,} bytes, no PAR1 footer at the end: truncated?)"
    return first_line(exc)
