"""File formats by extension: the one thing both ingest and `driftwatch compare` need to know about a path.

Kept apart from `sources.files` so that `compare`, which reads Parquet with pyarrow, does not import DuckDB
(about 75 ms of its start-up) just to look at a suffix.
"""

from __future__ import annotations

from pathlib import Path

from driftwatch.errors import SourceError

EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
}


def file_format(path: str, configured: str = "auto") -> str:
    """The reader for a path: the configured format, else by extension."""
    if configured != "auto":
        return configured
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise SourceError(
            path, f"unknown file type {suffix!r}; use .parquet, .csv, .ndjson or .jsonl, or set `format`"
        )
    return EXTENSIONS[suffix]
