"""A Parquet file as a stream of Arrow record batches, for windows larger than memory (docs/scale.md).

`driftwatch compare --memory-budget` reads the current file batch by batch through the mergeable partials
(`stats.partials`) instead of whole. The reader never holds more than one batch of decoded rows plus the
reader's own buffers: no pre-buffering of the file (which would keep every compressed column chunk of a row
group in memory) and a bounded read buffer, so memory depends on the batch size, not on the file or its row
groups.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from driftwatch.errors import InputError, SourceError, first_line
from driftwatch.sources.formats import checked_compression
from driftwatch.sources.object_parquet import ObjectStoreOptions, is_object_url, object_files, open_object

if TYPE_CHECKING:
    import pyarrow as pa

READ_BUFFER_BYTES = 4 << 20
"""Bytes the Parquet reader buffers per column while it decodes pages (pyarrow's `buffer_size`)."""


@dataclass(frozen=True)
class ParquetShape:
    """What the batch size is planned from: the schema, the rows and the decoded bytes per row per column."""

    schema: pa.Schema
    rows: int
    row_groups: int
    bytes_per_row: dict[str, float]  # uncompressed bytes per row of each column (Parquet metadata)


def parquet_source(path: str | Path, store: ObjectStoreOptions | None = None) -> tuple[str | Path, object]:
    """What to name the file in errors, and what `pyarrow.parquet.ParquetFile` opens: a local path, or a
    random-access file over an object (``s3://``), which pyarrow reads by byte range (sources/object_parquet.py)."""
    if is_object_url(str(path)):
        return str(path), open_object(str(path), store)
    return Path(path), Path(path)


def parquet_shape(path: str | Path, role: str, store: ObjectStoreOptions | None = None) -> ParquetShape:
    """The file's schema, rows and per-column uncompressed bytes per row, from its footer alone."""
    import pyarrow.parquet as pq

    p, source = parquet_source(path, store)
    if isinstance(p, Path):
        checked_compression(str(p), "parquet")  # a gzip/zstd-wrapped file is refused with the reason
    try:
        with pq.ParquetFile(source, pre_buffer=False) as file:
            meta = file.metadata
            schema = file.schema_arrow
            sizes: dict[str, float] = {}
            for g in range(meta.num_row_groups):
                group = meta.row_group(g)
                for c in range(group.num_columns):
                    column = group.column(c)
                    top = column.path_in_schema.split(".")[0]
                    sizes[top] = sizes.get(top, 0.0) + float(column.total_uncompressed_size)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise SourceError(p, f"cannot read as parquet: {first_line(exc)}") from None
    rows = meta.num_rows
    per_row = {
        name: max(size / max(rows, 1), _decoded_floor(schema.field(name).type))
        for name, size in sizes.items()
        if name in schema.names
    }
    return ParquetShape(schema, rows, meta.num_row_groups, per_row)


def _decoded_floor(arrow_type: pa.DataType) -> float:
    """The least bytes per row a column takes once decoded. Parquet's "uncompressed" size is that of its
    encoded pages: a dictionary-encoded float column of few values reads 0.5 bytes a row there, 8 in memory."""
    import pyarrow.types as pat

    if pat.is_string(arrow_type) or pat.is_binary(arrow_type):
        return 12.0  # 4-byte offsets and a short text
    if pat.is_large_string(arrow_type) or pat.is_large_binary(arrow_type):
        return 16.0
    try:
        return max(float(arrow_type.bit_width) / 8, 1.0)
    except ValueError:  # not fixed width (lists, structs...): the metadata's size
        return 0.0


def parquet_batches(
    path: str | Path, columns: Sequence[str], batch_rows: int, store: ObjectStoreOptions | None = None
) -> Iterator[pa.RecordBatch]:
    """The file's `columns`, `batch_rows` rows at a time (the last batch may be shorter)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p, source = parquet_source(path, store)
    try:
        with pq.ParquetFile(source, pre_buffer=False, buffer_size=READ_BUFFER_BYTES) as file:
            for batch in file.iter_batches(batch_size=batch_rows, columns=list(columns), use_threads=True):
                yield batch
                # Decoded pages of the batch just handed out go back to the OS, not into the pool's cache.
                pa.default_memory_pool().release_unused()
    except (InputError, SourceError):
        raise
    except Exception as exc:
        raise SourceError(p, f"cannot read as parquet: {first_line(exc)}") from None


# ---------------------------------------------------------------------------------------------------------
# A Parquet dataset cut into row groups: the partitions of `compare --engine dask` (driftwatch.distributed)
# ---------------------------------------------------------------------------------------------------------

GLOB_CHARACTERS = frozenset("*?[")


def parquet_dataset_files(
    path: str | Path, role: str, store: ObjectStoreOptions | None = None
) -> list[Path] | list[str]:
    """The Parquet files of a dataset given as one file, a folder (its *.parquet files, recursively) or a
    glob pattern (``data/2026-*/*.parquet``), sorted by path so the partitions come in one order. In object
    storage (``s3://bucket/prefix/``, ``.../*.parquet``, one object) the objects' URLs, sorted by key."""
    text = str(path)
    if is_object_url(text):
        return object_files(text, role, store)
    if GLOB_CHARACTERS & set(text):
        anchor = Path(text)
        parts = anchor.parts
        first = next(i for i, part in enumerate(parts) if GLOB_CHARACTERS & set(part))
        base = Path(*parts[:first]) if first else Path(".")
        files = sorted(p for p in base.glob(str(Path(*parts[first:]))) if p.is_file())
        if not files:
            raise SourceError(text, f"no {role} files match the pattern")
        return files
    p = Path(text)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*.parquet") if f.is_file())
        if not files:
            raise SourceError(p, f"{role} folder holds no .parquet files")
        return files
    if not p.is_file():
        raise SourceError(p, f"{role} file not found")
    return [p]


def parquet_row_group(
    path: str | Path, row_group: int, columns: Sequence[str], store: ObjectStoreOptions | None = None
) -> pa.Table:
    """One row group of the file's `columns`, decoded (a partition of a distributed comparison). An object
    (``s3://``) is opened here, on the worker, from its URL and `store` (credentials: the worker's own)."""
    import pyarrow.parquet as pq

    p, source = parquet_source(path, store)
    try:
        with pq.ParquetFile(source, pre_buffer=False, buffer_size=READ_BUFFER_BYTES) as file:
            return file.read_row_group(row_group, columns=list(columns), use_threads=False)
    except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
        raise SourceError(p, f"cannot read row group {row_group} as parquet: {first_line(exc)}") from None
