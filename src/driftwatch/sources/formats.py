"""File formats by extension: the one thing both ingest and `driftwatch compare` need to know about a path.

Kept apart from `sources.files` so that `compare`, which reads Parquet with pyarrow, does not import DuckDB
(about 75 ms of its start-up) just to look at a suffix.

A path names its format and, for text formats, its compression: `day.csv.gz` is CSV compressed with gzip,
`day.jsonl.zst` NDJSON compressed with zstd. `file_kind` gives both; `open_binary` opens the decompressed bytes.
DuckDB's readers decompress `.gz` and `.zst` themselves (their `compression = 'auto'` goes by the same suffixes).
"""

from __future__ import annotations

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
TEXT_FORMATS = ("csv", "ndjson")
ROWS_FORMAT = "rows"  # a CSV repaired line by line: Parquet with `_row` and `_src` (see `sources.repair`)


def file_kind(path: str, configured: str = "auto") -> tuple[str, str | None]:
    """(format, compression) of a path: compression (`gzip`, `zstd` or None) from a `.gz`/`.zst` suffix, the
    format configured or else from the suffix before it. Raises SourceError naming the path when unknown.

    `driftwatch compare` and ingest both call this, so a file is read the same way by both.
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
                "compressed: .csv.gz, .ndjson.zst, …), or set `format`",
            )
        fmt = EXTENSIONS[suffix]
    if compression and fmt not in TEXT_FORMATS:
        raise SourceError(
            path,
            f"a {fmt} file cannot be read {compression}-compressed (Parquet compresses its own pages): "
            "decompress it",
        )
    return fmt, compression


def file_format(path: str, configured: str = "auto") -> str:
    """The reader for a path: the configured format, else by extension (see `file_kind`)."""
    return file_kind(path, configured)[0]


def open_binary(path: str, compression: str | None) -> BinaryIO:
    """The file's bytes, decompressed (gzip from the standard library, zstd through pyarrow's codec)."""
    if compression is None:
        return open(path, "rb")
    if compression == "gzip":
        import gzip

        return gzip.open(path, "rb")  # type: ignore[return-value]
    import pyarrow as pa

    return pa.input_stream(path, compression=compression)  # type: ignore[return-value]
