"""A file as an in-memory table for `driftwatch compare`: format and compression detected, log schema flattened.

- **Format**: given (`csv`, `parquet`, `ndjson`), or `auto`: by the suffix under any compression suffix
  (`.parquet`/`.pq`, `.csv`, `.ndjson`/`.jsonl`; `data.csv.gz` is CSV). A file whose suffix tells nothing
  needs the format named (`compare --input-format`).
- **Compression**: gzip and zstd, recognised by their magic bytes (so also without a `.gz`/`.zst` suffix) and
  decompressed in memory by pyarrow's codecs. Format and compression are found by `sources.formats`, as ingest
  finds them, so `compare` and `run` read the same files.
- **Log schema**: a prediction log keeps its features in one column (`input_features`, a JSON object per row
  as text, or a Parquet struct; NDJSON nests the object). That column is flattened into one column per key,
  so two days of logs, or a log and a plain-column reference, compare feature by feature.

Plain Parquet is read with pyarrow alone (compare's start-up does not pay for importing polars); CSV and NDJSON
with polars, whose type inference they rely on. NDJSON with bare `NaN`/`Infinity` tokens (Python's json writes
them; the ingest accepts them) is read as the ingest reads it (sources/json_tokens.py).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from driftwatch.errors import InputError, SourceError, first_line
from driftwatch.sources.formats import checked_compression, file_kind
from driftwatch.sources.json_tokens import standard_json, standard_json_text
from driftwatch.sources.object_parquet import ObjectStoreOptions, is_object_url

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

INPUT_FORMATS = ("auto", "csv", "parquet", "ndjson")
FEATURES_COLUMN = "input_features"


def input_format(path: Path, given: str = "auto") -> str:
    """The format to read `path` as: `given`, or by its suffix under a compression suffix (`file_kind`)."""
    if given not in INPUT_FORMATS:
        raise InputError(f"unknown input format {given!r}; expected one of {', '.join(INPUT_FORMATS)}")
    return file_kind(str(path), given, "name the format with --input-format csv|parquet|ndjson")[0]


def checked_path(path: str | Path, role: str, given: str = "auto") -> tuple[Path, str]:
    """The path, checked to exist, and its format: fails at once, before any file is read.
    An object URL (``s3://...``) is only checked to be read as Parquet: its objects are listed when read."""
    if is_object_url(str(path)):
        if given not in ("auto", "parquet"):
            raise SourceError(
                str(path), f"{role}: object storage is read as a Parquet dataset, not {given!r}"
            )
        return Path(str(path)), "parquet"
    p = Path(path)
    if not p.is_file():
        raise SourceError(p, f"{role} file not found")
    return p, input_format(p, given)


def read_frame(
    path: str | Path,
    role: str,
    given: str = "auto",
    features_column: str = FEATURES_COLUMN,
    store: ObjectStoreOptions | None = None,
) -> pa.Table | pl.DataFrame:
    """A file as an Arrow table (plain Parquet) or a polars frame (everything else), log schema flattened.
    An object URL (``s3://bucket/key.parquet``, ``s3://bucket/prefix/``, a glob) is read as a Parquet
    dataset: its objects' tables, in key order, as one table."""
    if is_object_url(str(path)):
        checked_path(str(path), role, given)
        table = read_object_dataset(str(path), role, store)
        if features_column not in table.column_names:
            return table
        import polars as pl

        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return flatten_features(frame, features_column, str(path))
    p, fmt = checked_path(path, role, given)
    try:
        codec = checked_compression(str(p), fmt)
        if fmt == "parquet" and codec is None:
            table = _read_parquet(p)
            if features_column not in table.column_names:
                return table
            import polars as pl

            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
        else:
            frame = _read_with_polars(p, fmt, codec)
    except (InputError, SourceError):
        raise
    except Exception as exc:  # pyarrow and polars raise many exception types for unreadable files
        raise SourceError(p, f"cannot read as {fmt}: {first_line(exc)}") from None
    return flatten_features(frame, features_column, p)


def read_object_dataset(url: str, role: str, store: ObjectStoreOptions | None) -> pa.Table:
    """The Parquet objects at `url` as one table (objects in key order, each read by byte range)."""
    import pyarrow as pa

    from driftwatch.sources.object_parquet import object_files, open_object

    tables = []
    object_names = object_files(url, role, store)
    for name in object_names:
        try:
            tables.append(_read_parquet(open_object(name, store)))
        except SourceError:
            raise
        except Exception as exc:  # pyarrow raises several types for an object that is not Parquet
            raise SourceError(name, f"cannot read as parquet: {first_line(exc)}") from None
    names = [set(t.column_names) for t in tables]
    for name, columns in zip(object_names, names, strict=True):
        if columns != names[0]:
            # Permissive promotion would fill a missing column with nulls: a dropped feature would read as
            # half missing and drifted. The streamed engine refuses it too.
            missing = sorted(names[0] - columns) or sorted(columns - names[0])
            what = "lacks" if names[0] - columns else "has columns the first object lacks:"
            raise SourceError(
                name,
                f"the {role} objects do not share their columns: this one {what} {', '.join(missing)} "
                f"(against {object_names[0]})",
            )
    try:
        # Columns matched by name (any order), an integer column widened to float where another object has
        # floats: what the streamed and Dask engines accept, as they read each object's columns by name.
        return pa.concat_tables(tables, promote_options="permissive")
    except Exception as exc:  # ArrowInvalid: the objects' schemas differ
        raise SourceError(url, f"the {role} objects do not share one schema: {first_line(exc)}") from None


def _read_parquet(path: Path | io.BytesIO | pa.NativeFile) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # ParquetFile, not read_table: the latter imports pyarrow.dataset, and with it pandas (~1 s).
    # Without pre-buffering, which keeps the whole compressed file in memory as long as the table.
    with pq.ParquetFile(path, pre_buffer=False) as file:
        table = file.read()
    # Hand the decoder's freed scratch memory back to the OS (~30 MB less peak at 1M rows).
    pa.default_memory_pool().release_unused()
    return table


def _read_with_polars(path: Path, fmt: str, codec: str | None) -> pl.DataFrame:
    import polars as pl

    source: Path | io.BytesIO = path
    if codec is not None:
        import pyarrow as pa

        with pa.input_stream(str(path), compression=codec) as stream:
            source = io.BytesIO(stream.read())
    if fmt == "parquet":
        frame = pl.from_arrow(_read_parquet(source))
        assert isinstance(frame, pl.DataFrame)
        return frame
    if fmt == "csv":
        return pl.read_csv(source, infer_schema_length=None)
    return _read_ndjson(source)


def _read_ndjson(source: Path | io.BytesIO) -> pl.DataFrame:
    """NDJSON as polars reads it; a file with bare `NaN`/`Infinity` tokens (Python's json writes them), which
    polars refuses and the ingest accepts, is read again with them rewritten (sources/json_tokens.py)."""
    import polars as pl

    try:
        return pl.read_ndjson(source, infer_schema_length=None)
    except Exception:  # polars raises ComputeError and others for text it cannot parse
        data = source.getvalue() if isinstance(source, io.BytesIO) else source.read_bytes()
        fixed = standard_json(data)
        if fixed == data:
            raise  # not those tokens: the caller names the file and polars' reason
        return pl.read_ndjson(io.BytesIO(fixed), infer_schema_length=None)


def flatten_features(frame: pl.DataFrame, column: str, path: Path | str = "(frame)") -> pl.DataFrame:
    """`frame` with its JSON-object (or struct) features column replaced by one column per key.

    Unchanged when it has no such column. A key that is also a column of its own is an error: which of the
    two is the feature cannot be guessed.
    """
    import polars as pl

    if column not in frame.columns:
        return frame
    values = frame[column]
    if values.dtype == pl.String:
        try:
            values = _json_decode(values)
        except Exception as exc:  # polars raises ComputeError and others for text that is not JSON
            raise SourceError(path, f"column {column!r} is not JSON: {first_line(exc)}") from None
    if not isinstance(values.dtype, pl.Struct):
        raise SourceError(path, f"column {column!r} holds {values.dtype}, not JSON objects of feature values")
    keys = [f.name for f in values.dtype.fields]
    clash = sorted(set(keys) & (set(frame.columns) - {column}))
    if clash:
        raise SourceError(path, f"feature {clash[0]!r} in {column!r} is also a column of its own")
    at = frame.columns.index(column)
    flat = values.struct.unnest()
    return pl.concat(
        [frame.select(frame.columns[:at]), flat, frame.select(frame.columns[at + 1 :])], how="horizontal"
    )


def _json_decode(values: pl.Series) -> pl.Series:
    """JSON texts decoded; texts with bare `NaN`/`Infinity` tokens are decoded as `_read_ndjson` reads them."""
    import polars as pl

    try:
        return values.str.json_decode(infer_schema_length=None)
    except Exception:  # polars raises ComputeError and others for text that is not JSON
        texts = values.to_list()
        fixed = pl.Series(
            values.name, [None if t is None else standard_json_text(t) for t in texts], pl.String
        )
        if fixed.equals(values):
            raise
        return fixed.str.json_decode(infer_schema_length=None)
