"""File formats by extension: the one thing both ingest and `driftwatch compare` need to know about a path.

Kept apart from `sources.files` so that `compare`, which reads Parquet with pyarrow, does not import DuckDB
(about 75 ms of its start-up) just to look at a suffix.

A path names its format, under any compression suffix: `day.csv.gz` is CSV, `day.jsonl.zst` NDJSON
(`file_kind`). Whether a file is compressed is told by its first bytes (`content_compression`: gzip or zstd),
so a gzip file named `.csv` or `.data` (with the format configured) is read too. Ingest (`sources.files`) and
`driftwatch compare` (`sources.frames`) both use these two functions and nothing else, so both read a file
alike; ingest passes the compression to DuckDB explicitly (its own detection goes by `.gz`/`.zst` only).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from driftwatch.errors import SourceError

EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}
COMPRESSIONS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
# Leading bytes of each compression a file's content is checked for.
COMPRESSION_MAGIC = {"gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd"}
TEXT_FORMATS = ("csv", "ndjson")
ROWS_FORMAT = "rows"  # a CSV repaired line by line: Parquet with `_row` and `_src` (see `sources.repair`)


def file_kind(path: str, configured: str = "auto", hint: str = "set `format`") -> tuple[str, str | None]:
    """(format, compression) of a path: compression (`gzip`, `zstd` or None) from a `.gz`/`.zst` suffix, the
    format configured or else from the suffix before it. Raises SourceError naming the path when unknown.

    `driftwatch compare` and ingest both call this, so a file is read the same way by both. The suffix's
    compression is a name only: what is read is the content's (`content_compression`).
    """
    p = Path(path)
    compression = COMPRESSIONS.get(p.suffix.lower())
    inner = Path(p.stem) if compression else p
    if configured != "auto":
        fmt = configured
    else:
        suffix = inner.suffix.lower()
        if suffix not in EXTENSIONS:
            shown = suffix + p.suffix.lower() if compression else suffix
            raise SourceError(
                path,
                f"unknown file type {shown!r}; use .parquet, .csv, .ndjson or .jsonl (text formats also "
                f"compressed: .csv.gz, .ndjson.zst, …), or {hint}",
            )
        fmt = EXTENSIONS[suffix]
    if compression and fmt not in TEXT_FORMATS:
        raise SourceError(
            path,
            f"a {fmt} file cannot be read {compression}-compressed (Parquet compresses its own pages): "
            "decompress it",
        )
    return fmt, compression


def content_compression(path: str) -> str | None:
    """ "gzip", "zstd" or None (not compressed, or unreadable: the reader says why), from the file's first
    bytes."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return None
    return next((codec for codec, magic in COMPRESSION_MAGIC.items() if head.startswith(magic)), None)


def checked_compression(path: str, fmt: str) -> str | None:
    """The compression of a file to be read as `fmt` (`content_compression`); SourceError for a compressed file
    of a format that cannot be (Parquet compresses its own pages), or a file whose name says compressed and
    whose content is not (a plain file renamed, a download saved as an HTML error page)."""
    compression = content_compression(path)
    named = COMPRESSIONS.get(Path(path).suffix.lower())
    if named and compression is None and os.path.getsize(path) > 0:
        with open(path, "rb") as f:
            head = f.read(4)
        raise SourceError(
            path,
            f"cannot be decompressed as {named}: it does not start like {named} data (first bytes {head!r})",
        )
    if compression and fmt not in TEXT_FORMATS:
        raise SourceError(
            path, f"is {compression}-compressed, and a {fmt} file cannot be read so: decompress it"
        )
    return compression


def open_binary(path: str, compression: str | None) -> BinaryIO:
    """The file's bytes, decompressed (gzip from the standard library, zstd through pyarrow's codec)."""
    if compression is None:
        return open(path, "rb")
    if compression == "gzip":
        import gzip

        return gzip.open(path, "rb")  # type: ignore[return-value]  # typeshed: GzipFile is not a BinaryIO
    import pyarrow as pa

    return pa.input_stream(path, compression=compression)
