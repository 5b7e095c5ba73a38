"""A text file DuckDB's reader refused, read line by line: bad rows out with a reason, the rest in a clean copy.

DuckDB reads CSV and NDJSON fast but all or nothing: one short row, an unterminated quote, a stray `\\r`, a raw
0x1E byte (the NDJSON reader's delimiter), one invalid UTF-8 byte or one line over its 2 MiB line limit fails
the whole file. When that happens (`sources.files.read_source`), this module reads the file again in Python, in
bounded chunks, and writes a copy DuckDB can read, **numbered as the original**, so every good row keeps the row
number it has in the file and the normal query runs unchanged:

- NDJSON: the same lines, a refused line replaced by an empty one (empty lines are skipped but counted), `\\r\\n`
  turned into `\\n`, and a `\\r` that JSON reads as whitespace turned into a space. Rows are lines.
- CSV: a Parquet file (`ROWS_FORMAT`) with the row number `_row` and the row as a struct `_src` of text fields,
  the header's names as DuckDB gives them. Rows are records (a quoted field may span lines), counted as DuckDB
  counts them: the header and empty lines are not rows. A reason names the line where the record starts.

Refused rows are returned as `RejectedRow`s (row number, reason, raw text) for the quarantine. A file that cannot
be read even this way (binary data, a broken header) raises `SourceError` saying what is wrong with it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import duckdb

from driftwatch.errors import SourceError
from driftwatch.sources.formats import ROWS_FORMAT, open_binary

# DuckDB refuses a line (a CSV record) over 2 MiB (its max_line_size); anything longer is refused here with the
# reason, so the copy never trips it. A prediction log line of megabytes is not a prediction.
MAX_LINE_BYTES = 2_000_000
RAW_KEEP_CHARS = 10_000  # quarantine keeps this much of a refused line
CHUNK_BYTES = 8 * 2**20
BATCH_ROWS = 65_536

# C0 control characters that JSON allows nowhere unescaped (tab and carriage return are handled on their own).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CSV_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class RejectedRow:
    row: int  # the row number the file's reader gives it: the line (NDJSON), the record (CSV)
    reason: str
    raw: str


@dataclass(frozen=True)
class Repaired:
    fmt: str  # 'ndjson' or ROWS_FORMAT
    path: str  # the clean copy (deleted by the caller)
    columns: dict[str, str]
    rejected: tuple[RejectedRow, ...]


def _raw_text(data: bytes) -> str:
    text = data[: RAW_KEEP_CHARS * 4].decode("utf-8", "backslashreplace")
    if len(text) > RAW_KEEP_CHARS or len(data) > RAW_KEEP_CHARS * 4:
        return text[:RAW_KEEP_CHARS] + f"… ({len(data):,} bytes in all)"
    return text


def physical_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes, int]]:
    """(line number, bytes without the line break, full length) per line; a line over MAX_LINE_BYTES is cut to
    its first MAX_LINE_BYTES + 1 bytes (the rest is read past, never held), its full length still reported."""
    number = 0
    pending = bytearray()  # the start of a line that continues in the next chunk (at most MAX_LINE_BYTES + 1)
    over = 0  # bytes of that line dropped past the limit
    while True:
        chunk = stream.read(CHUNK_BYTES)
        if not chunk:
            break
        parts = chunk.split(b"\n")  # in C; the last part has no line break yet
        for i, piece in enumerate(parts):
            last = i == len(parts) - 1
            if pending or over or last:
                room = max(MAX_LINE_BYTES + 1 - len(pending), 0)
                length = len(pending) + over + len(piece)
                pending += piece[:room]
                over += max(len(piece) - room, 0)
                if last:
                    break
                line, pending, over = bytes(pending), bytearray(), 0
            else:
                line, length = piece[: MAX_LINE_BYTES + 1], len(piece)
            number += 1
            yield number, line[:-1] if line.endswith(b"\r") else line, length
    if pending or over:
        number += 1
        yield number, _strip_cr(bytes(pending)), len(pending) + over


def _strip_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def _too_long(length: int) -> str:
    return f"line of {length:,} bytes, over the limit of {MAX_LINE_BYTES:,} bytes for one line"


def _decode(line: bytes) -> tuple[str | None, str | None]:
    """(text, None), or (None, reason) for bytes that are not UTF-8."""
    try:
        return line.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, f"invalid UTF-8: byte 0x{line[exc.start]:02X} at byte {exc.start + 1} of the line"


_STAGED_PREFIX = "dw-repaired-"


def _staging_path(cur: duckdb.DuckDBPyConnection, suffix: str) -> str:
    """A new file beside DuckDB's spill files (`<database>.tmp`, data of this size goes there anyway); for an
    in-memory database, whose temp directory is `.tmp` in the current directory, in the system's temp folder.

    The name holds this process's id: a copy left by a process that was killed mid-read (the `finally` that
    deletes it never ran) is deleted by the next repair in the same folder, once that process is gone.
    """
    folder = None
    try:
        row = cur.execute(
            "SELECT current_setting('temp_directory'), (SELECT path FROM duckdb_databases() "
            "WHERE database_name = current_database())"
        ).fetchone()
        if row and row[0] and row[1]:
            folder = str(row[0])
    except duckdb.Error:
        folder = None
    if folder:
        os.makedirs(folder, exist_ok=True)
    _remove_orphans(folder or tempfile.gettempdir())
    fd, path = tempfile.mkstemp(prefix=f"{_STAGED_PREFIX}{os.getpid()}-", suffix=suffix, dir=folder)
    os.close(fd)
    return path


def _remove_orphans(folder: str) -> None:
    """Delete the repaired copies of processes that no longer run (killed between creating and deleting one)."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(_STAGED_PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(_STAGED_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or _running(int(pid)):
            continue
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass  # already gone, or not ours to delete


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, owned by someone else
    return True


def repair_ndjson(cur: duckdb.DuckDBPyConnection, path: str, compression: str | None) -> Repaired:
    """A clean copy of an NDJSON file with the same line numbers, and the lines refused."""
    rejected: list[RejectedRow] = []
    staged = _staging_path(cur, ".ndjson")
    try:
        with (
            open_binary(path, compression) as stream,
            open(staged, "w", encoding="utf-8", newline="\n") as out,
        ):
            for number, line, length in physical_lines(stream):
                text, reason = _clean_json_line(line, length)
                if reason is not None:
                    rejected.append(RejectedRow(number, reason, _raw_text(line)))
                    text = ""
                out.write(text)
                out.write("\n")
    except BaseException:
        os.unlink(staged)
        raise
    return Repaired("ndjson", staged, {"_line": "VARCHAR"}, tuple(rejected))  # as `describe_columns` gives


def _clean_json_line(line: bytes, length: int) -> tuple[str, str | None]:
    if length > MAX_LINE_BYTES:
        return "", _too_long(length)
    text, reason = _decode(line)
    if text is None:
        return "", reason
    bad = _CONTROL.search(text)
    if bad:
        return (
            "",
            f"control character 0x{ord(bad.group()):02X} at character {bad.start() + 1} (not allowed in JSON)",
        )
    if "\r" in text:
        # JSON reads a raw \r as whitespace between tokens and refuses it inside a string: Python's strict parser
        # tells which. As whitespace it can become a space, which DuckDB's line reader takes as data.
        try:
            json.loads(text)
        except ValueError as exc:
            return "", f"malformed JSON line: {exc}"
        text = text.replace("\r", " ")
    return text, None


def header_delimiter(header: str) -> str:
    """The delimiter a header line uses: the candidate seen most often outside quotes (a comma on a tie)."""
    outside = re.sub(r'"[^"]*"', "", header)
    return max(CSV_DELIMITERS, key=lambda d: (outside.count(d), d == ","))


def _header_columns(cur: duckdb.DuckDBPyConnection, header: str, delimiter: str) -> list[str]:
    """The header's column names as DuckDB's CSV reader names them (empty → column<i>, repeats → name_1, …)."""
    staged = _staging_path(cur, ".csv")
    try:
        with open(staged, "w", encoding="utf-8", newline="\n") as out:
            out.write(header + "\n")
        rows = cur.execute(
            "DESCRIBE SELECT * FROM read_csv($path, header = true, all_varchar = true, delim = $delim, "
            "quote = '\"', escape = '\"')",
            {"path": staged, "delim": delimiter},
        ).fetchall()
    finally:
        os.unlink(staged)
    return [str(r[0]) for r in rows]


def _ends_quoted(line: bytes, delimiter: bytes, quoted: bool) -> bool:
    """Whether a record is inside a quoted field at the end of `line`, given whether it was at its start.

    As DuckDB and RFC 4180 read CSV, a `"` opens a quoted field only at the start of a field (at the start of
    the record or right after a delimiter); inside one, `""` is a quote and a lone `"` closes it. A `"` within
    an unquoted field (`5'11"`) is text, and must not join the next lines to this record.
    """
    if b'"' not in line:
        return quoted
    pos, end = 0, len(line)
    while True:
        if quoted:
            close = line.find(b'"', pos)
            if close < 0:
                return True
            if line[close + 1 : close + 2] == b'"':
                pos = close + 2  # an escaped quote
                continue
            quoted = False
            pos = close + 1
        elif pos < end and line[pos : pos + 1] == b'"':
            quoted = True
            pos += 1
            continue
        # In an unquoted field, or past a closing quote: the next field starts after the next delimiter.
        nxt = line.find(delimiter, pos)
        if nxt < 0:
            return False
        pos = nxt + len(delimiter)


def _records(
    lines: Iterator[tuple[int, bytes, int]], delimiter: str
) -> Iterator[tuple[int, str | None, str | None, bytes]]:
    """(first line, record text or None, reason or None, raw bytes) per CSV record.

    A record is complete at the end of a line outside a quoted field (`_ends_quoted`); a record still open
    after MAX_LINE_BYTES or at the end of the file has an unterminated quote: its first line alone is refused
    and reading starts again at the next line, so one stray quote costs one row.
    """
    delim = delimiter.encode()
    buffered: list[tuple[int, bytes, int]] = []
    source = iter(lines)
    while True:
        if buffered:
            first = buffered.pop(0)
        else:
            nxt = next(source, None)
            if nxt is None:
                return
            first = nxt
        number, line, length = first
        if length > MAX_LINE_BYTES:
            yield number, None, _too_long(length), line
            continue
        if not line:
            yield number, "", None, line  # an empty line: not a row
            continue
        parts = [line]
        size = len(line)
        open_quote = _ends_quoted(line, delim, False)
        taken: list[tuple[int, bytes, int]] = []
        while open_quote and size <= MAX_LINE_BYTES:
            if buffered:
                more = buffered.pop(0)
            else:
                got = next(source, None)
                if got is None:
                    break
                more = got
            taken.append(more)
            parts.append(more[1])
            size += more[2] + 1
            open_quote = _ends_quoted(more[1], delim, True)
        if open_quote:
            buffered = taken + buffered
            yield number, None, "unterminated quote", line
            continue
        data = b"\n".join(parts)
        text, reason = _decode(data)
        yield number, text, reason, data


def repair_csv(cur: duckdb.DuckDBPyConnection, path: str, compression: str | None) -> Repaired:
    """The good records of a CSV file as a Parquet copy numbered as DuckDB numbers rows, and the refused ones."""
    rejected: list[RejectedRow] = []
    with open_binary(path, compression) as stream:
        lines = physical_lines(stream)
        delimiter, names = _csv_header(cur, lines, path)
        width = len(names)
        staged = _staging_path(cur, ".parquet")
        try:
            with _StagedRows(staged, names) as writer:
                row = 0
                for first_line, text, reason, raw in _records(lines, delimiter):
                    if text == "":
                        continue
                    row += 1
                    fields, reason = _csv_fields(text, reason, delimiter, width)
                    if fields is None:
                        rejected.append(RejectedRow(row, f"{reason} (line {first_line})", _raw_text(raw)))
                    else:
                        writer.add(row, fields)
        except BaseException:
            os.unlink(staged)
            raise
    return Repaired(ROWS_FORMAT, staged, dict.fromkeys(names, "VARCHAR"), tuple(rejected))


def _csv_header(
    cur: duckdb.DuckDBPyConnection, lines: Iterator[tuple[int, bytes, int]], path: str
) -> tuple[str, list[str]]:
    """(delimiter, column names) from the file's header line, or a SourceError saying why it is not a CSV."""
    head = next(lines, None)
    # DuckDB skips empty lines before the header (they are not rows either), so they are skipped here too.
    while head is not None and not head[1]:
        head = next(lines, None)
    if head is None:
        raise SourceError(path, "is empty: no header line")
    _, line, length = head
    if length > MAX_LINE_BYTES:
        raise SourceError(path, f"the header {_too_long(length)}: is this a CSV file?")
    header, reason = _decode(line)
    if header is None or _CONTROL.search(header):
        what = reason or "holds control characters"
        raise SourceError(path, f"the header line is not text ({what}): is this a CSV file?")
    delimiter = header_delimiter(header)
    return delimiter, _header_columns(cur, header, delimiter)


def _csv_fields(
    text: str | None, reason: str | None, delimiter: str, width: int
) -> tuple[list[str] | None, str | None]:
    """(the record's fields, None), or (None, why it is refused)."""
    if text is None or reason is not None:
        return None, reason
    if '"' not in text and "\r" not in text:
        fields = text.split(delimiter)  # no quotes: the csv module would split the same
    else:
        try:
            fields = next(csv.reader([text], delimiter=delimiter, strict=True))
        except csv.Error as exc:
            # Python's wording of this one differs between versions; say it plainly.
            if "new-line character" in str(exc):
                return None, "carriage return in an unquoted field"
            return None, f"not valid CSV: {exc}"
    if len(fields) != width:
        return None, f"row has {len(fields)} fields, the header has {width}"
    return fields, None


class _StagedRows:
    """Good records written to the Parquet copy in batches of BATCH_ROWS: `_row` (DuckDB's row number) and
    `_src`, a struct of text columns in which an empty field is NULL, as DuckDB reads it."""

    def __init__(self, staged: str, names: list[str]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._names = names
        self._struct = pa.struct([pa.field(n, pa.string()) for n in names])
        self._schema = pa.schema([pa.field("_row", pa.int64()), pa.field("_src", self._struct)])
        self._writer = pq.ParquetWriter(staged, self._schema, compression="none")
        self._row_numbers: list[int] = []
        self._rows: list[list[str]] = []

    def __enter__(self) -> _StagedRows:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if kind is None:
                self._flush()
        finally:
            self._writer.close()

    def add(self, row: int, fields: list[str]) -> None:
        self._row_numbers.append(row)
        self._rows.append(fields)
        if len(self._rows) >= BATCH_ROWS:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc

        # Column by column in C (zip, pyarrow).
        columns = list(zip(*self._rows, strict=True)) if self._rows else [() for _ in self._names]
        arrays = []
        for values in columns:
            text = pa.array(values, pa.string())
            arrays.append(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text))
        src = pa.StructArray.from_arrays(arrays, fields=list(self._struct))
        self._writer.write_table(
            pa.table({"_row": pa.array(self._row_numbers, pa.int64()), "_src": src}, self._schema)
        )
        self._row_numbers.clear()
        self._rows.clear()
