"""Ad-hoc comparison of two datasets with the same statistics and decisions as the scheduled pipeline.

`driftwatch.compare(reference, current)` accepts polars or pandas frames, Arrow tables or file paths
(.parquet, .csv, .ndjson/.jsonl, also gzip- or zstd-compressed; read by `sources.frames`, which also flattens
a prediction log's `input_features` column) and returns a `CompareResult`; `driftwatch compare` prints it.
Without feature lists the features are inferred by `sources.columns`' rules (identifiers, timestamps, labels
and outputs left out; `CompareResult.excluded` says which and why).

Start-up is most of a `driftwatch compare` process, so this module imports little up front. Parquet files are
read with pyarrow (a fraction of polars' import time); CSV and NDJSON with polars, whose type inference they
rely on. The statistics (numba, scipy.special) are imported, and their cached numba kernels loaded, on a
second thread while the files are read: that work holds the GIL, the Parquet reader mostly does not. The
features are then computed on a small thread pool (numpy's sorts and the numba kernels release the GIL).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from driftwatch.errors import InputError
from driftwatch.sources.columns import (
    ColumnFacts,
    Exclusion,
    InferredFeatures,
    infer_features,
)
from driftwatch.sources.frames import FEATURES_COLUMN, checked_path, flatten_features, read_frame
from driftwatch.sources.object_parquet import ObjectStoreOptions
from driftwatch.sources.text_facts import MANY_DISTINCT, arrow_text_facts, text_facts, value_count_pairs

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from driftwatch.stats.decision import Thresholds, WindowDecision
    from driftwatch.stats.feature_drift import FeatureDrift
    from driftwatch.stats.profile import FeatureProfile

# The JSON fields of a feature, in order; statistics a kind does not have are null.
FEATURE_FIELDS = (
    "name",
    "kind",
    "psi",
    "ks_statistic",
    "ks_pvalue",
    "missing_share_reference",
    "missing_share_current",
    "unseen_share",
    "status",
    "reason",
    "rows_reference",
    "rows_current",
    "role",
)

MAX_WORKERS = 4
"""Features computed at once, at most (fewer on fewer cores): each holds a few copies of its column, about
65 MB at 1M rows, beside both whole datasets."""


@dataclass(frozen=True)
class CompareResult:
    features: Sequence[FeatureDrift]
    decision: WindowDecision
    rows_reference: int
    rows_current: int
    excluded: Sequence[Exclusion] = ()  # common columns not inferred as features, and why
    # Rows left out as the pipeline quarantines them (a numeric value not a number or not finite), per side:
    # reason → rows. Excluded rows are in neither rows_reference/rows_current nor any statistic.
    excluded_reference: Mapping[str, int] = dataclasses.field(default_factory=dict)
    excluded_current: Mapping[str, int] = dataclasses.field(default_factory=dict)

    @property
    def drift(self) -> bool:
        return any(f.status == "drift" for f in self.decision.features)

    def feature_rows(self) -> list[dict[str, Any]]:
        rows = []
        for fs, fd in zip(self.features, self.decision.features, strict=True):
            row: dict[str, Any] = {"name": fs.name, "kind": fs.kind}
            for key, value in fs.stats.items():
                row[key] = None if value is None or np.isnan(value) else float(value)
            row["status"] = fd.status
            row["reason"] = fd.reason
            if fd.pvalue_adjusted is not None and not np.isnan(fd.pvalue_adjusted):
                row["pvalue_adjusted"] = float(fd.pvalue_adjusted)
            row["rows_reference"] = self.rows_reference
            row["rows_current"] = fs.rows
            row["role"] = fs.role
            if (
                fs.wasserstein_bound is not None
            ):  # computed from partials (--memory-budget): W1 is an estimate
                row["wasserstein_exact"] = False
                row["wasserstein_norm_bound"] = float(fs.wasserstein_bound)
            rows.append(row)
        return rows

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for row in self.feature_rows():
            ordered = {k: row.get(k) for k in FEATURE_FIELDS}
            ordered.update({k: v for k, v in row.items() if k not in ordered})
            rows.append(ordered)
        return {
            "features": rows,
            "drift": self.drift,
            "drift_share": self.decision.drift_share,
            "dataset_status": self.decision.status,
            "excluded": [{"name": e.name, "reason": e.reason} for e in self.excluded],
            "rows_excluded": {
                "reference": dict(self.excluded_reference),
                "current": dict(self.excluded_current),
            },
        }

    def to_polars(self) -> pl.DataFrame:
        """One row per feature with the same fields as the JSON output."""
        import polars as pl

        return pl.DataFrame(self.to_dict()["features"], infer_schema_length=None)


# ---------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------


def as_table(
    data: object,
    role: str,
    input_format: str = "auto",
    features_column: str = FEATURES_COLUMN,
    store: ObjectStoreOptions | None = None,
) -> pa.Table | pl.DataFrame:
    """What `compare` works on: a path read by `sources.frames.read_frame` (an ``s3://`` URL through `store`),
    an Arrow table or a polars frame as is, a pandas frame converted to polars; a log schema's features column
    flattened in each case."""
    if isinstance(data, str | Path):
        return read_frame(data, role, input_format, features_column, store)
    module = type(data).__module__
    if module.startswith("pyarrow"):
        import pyarrow as pa

        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        if isinstance(table, pa.Table):
            if features_column not in table.column_names:
                return table
            return flatten_features(as_polars(table, role), features_column, role)
    return flatten_features(as_polars(data, role), features_column, role)


def _from_pandas(data: Any) -> pl.DataFrame:
    """`pl.from_pandas`, with timezone-aware columns handed over as UTC wall times and marked UTC again.

    Why: polars (and pyarrow) read such a column through `Series.values`, which pandas 3.1 deprecates for
    DatetimeTZDtype with a warning (an error under warnings-as-errors, and a different array in pandas 4).
    """
    import polars as pl

    # DatetimeTZDtype (and only it) carries a `tz`; reading the attribute spares importing pandas here.
    aware = [c for c in data.columns if getattr(data[c].dtype, "tz", None) is not None]
    if not aware:
        return pl.from_pandas(data)
    naive = data.copy(deep=False)
    for column in aware:
        naive[column] = data[column].dt.tz_convert(None)  # the same instants, as naive UTC
    frame = pl.from_pandas(naive)
    return frame.with_columns(pl.col(str(c)).dt.replace_time_zone("UTC") for c in aware)


def as_polars(data: object, role: str) -> pl.DataFrame:
    """A polars frame from a path, polars/pandas frame or Arrow table."""
    import polars as pl

    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, str | Path):
        return as_polars(read_frame(data, role), role)
    module = type(data).__module__
    if module.startswith("pyarrow"):
        frame = pl.from_arrow(data)
        if isinstance(frame, pl.DataFrame):
            return frame
    if module.startswith("pandas"):
        return _from_pandas(data)
    raise InputError(
        f"{role}: expected a path, a polars or pandas DataFrame or an Arrow table, got {type(data).__name__}"
    )


_statistics_ready = False
_statistics_lock = threading.Lock()


def load_statistics() -> None:
    """Import the statistics and load their numba kernels from the on-disk cache; once per process.

    In a fresh process this is about a second of work that holds the GIL (importing numba and scipy.special,
    and numba's set-up on its first cached kernel), which `load_pair` overlaps with reading the files.
    The tiny comparison below goes through the same checked functions as a real one.
    """
    global _statistics_ready
    with _statistics_lock:
        if _statistics_ready:
            return
        from driftwatch.stats.feature_drift import categorical_feature_stats, numeric_feature_stats
        from driftwatch.stats.judgement import judge_window  # noqa: F401  (imported now, while files are read)
        from driftwatch.stats.profile import categorical_profile, numeric_profile

        values = _read_only(np.linspace(0.0, 1.0, 16))
        numeric_feature_stats(numeric_profile("warm-up", values), values)
        categorical_feature_stats(categorical_profile("warm-up", {"a": 2, None: 1}), {"a": 1, "b": 1})
        _statistics_ready = True


def start_loading_statistics() -> None:
    """Begin `load_statistics` on a daemon thread now; `load_pair`'s own call then waits for it (one lock).

    For the `driftwatch compare` process, which knows what it will do before typer has parsed its arguments
    (about 0.1 s). A failure here is left for `load_pair`'s call to raise again where it can be reported.
    """

    def load_quietly() -> None:
        try:
            load_statistics()
        except Exception:  # noqa: S110  (load_pair calls load_statistics again and reports the error)
            pass

    threading.Thread(target=load_quietly, name="driftwatch-load-early", daemon=True).start()


def load_pair(
    reference: object,
    current: object,
    input_format: str | tuple[str, str] = "auto",
    features_column: str = FEATURES_COLUMN,
    store: ObjectStoreOptions | None = None,
) -> tuple[pa.Table | pl.DataFrame, pa.Table | pl.DataFrame]:
    """Both inputs as `as_table` gives them, read while `load_statistics` runs on another thread.

    `input_format`: one format for both paths, or (reference's, current's). Paths are checked first, so a
    missing file or unknown type fails at once.
    """
    formats = (input_format, input_format) if isinstance(input_format, str) else input_format
    pairs = ((reference, "reference", formats[0]), (current, "current", formats[1]))
    for data, role, fmt in pairs:
        if isinstance(data, str | Path):
            checked_path(data, role, fmt)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-load") as pool:
        ready = pool.submit(load_statistics)
        tables = tuple(as_table(data, role, fmt, features_column, store) for data, role, fmt in pairs)
        ready.result()
    return tables[0], tables[1]


# ---------------------------------------------------------------------------------------------------------
# Columns: the same answers from an Arrow table and from a polars frame
# ---------------------------------------------------------------------------------------------------------


class _Columns(Protocol):
    columns: list[str]
    height: int

    def kind(self, name: str) -> str | None: ...

    def numeric_values(self, name: str, role: str) -> np.ndarray: ...

    def checked_numbers(self, name: str, role: str) -> tuple[np.ndarray, np.ndarray]: ...

    def may_refuse(self, name: str, role: str) -> bool: ...

    def value_counts(self, name: str, role: str) -> dict[str | None, int]: ...

    def facts(self, name: str) -> ColumnFacts: ...


def _read_only(values: np.ndarray) -> np.ndarray:
    # One memory layout for every source (polars hands out read-only views, a copy is writable), so the numba
    # kernels see one array type and load one cached specialisation.
    values.flags.writeable = False
    return values


class _PolarsColumns:
    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame
        self.columns = frame.columns
        self.height = frame.height
        # Category counts, kept: a reference column's facts read them, and then its profile does.
        self._counts: dict[str, dict[str | None, int]] = {}

    def kind(self, name: str) -> str | None:
        import polars as pl

        dtype = self.frame.schema[name]
        if dtype.is_numeric() and dtype != pl.Boolean:
            return "numeric"
        if dtype in (pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum):
            return "categorical"
        return None

    def numeric_values(self, name: str, role: str) -> np.ndarray:
        return self.checked_numbers(name, role)[0]

    def checked_numbers(self, name: str, role: str) -> tuple[np.ndarray, np.ndarray]:
        """The column as float64 (missing = NaN) and the rows the pipeline would quarantine for it: a value that
        is not a number or not finite (docs/values.md). Texts, booleans and categories are read as texts."""
        import polars as pl

        if name not in self.columns:
            raise InputError(f"{role} has no column {name!r}")
        series = self.frame[name]
        if series.dtype.is_numeric() and series.dtype != pl.Boolean:
            values = series.cast(pl.Float64).fill_null(np.nan).to_numpy()
            return _read_only(values), np.isinf(values)
        from driftwatch.sources.values import parse_numeric

        try:
            texts = series.cast(pl.String)
        except Exception:
            raise InputError(f"{role} column {name!r} is not numeric") from None
        parsed = {t: parse_numeric(t) for t in texts.unique().drop_nulls().to_list()}
        numbers = texts.replace_strict(
            list(parsed),
            [np.nan if v is None else v for v in parsed.values()],
            default=np.nan,
            return_dtype=pl.Float64,
        )
        # A blank text is missing, as in the pipeline (only a non-blank non-number is refused).
        not_number = [t for t, v in parsed.items() if v is None and t.strip(" ") != ""]
        if not_number and all(v is None for v in parsed.values()):
            # No value at all is a number: the column is of another type, not a column with a few bad rows.
            raise InputError(f"{role} column {name!r} is not numeric (e.g. {not_number[0][:60]!r})")
        values = numbers.to_numpy()
        bad = texts.is_in(not_number).fill_null(False).to_numpy() | np.isinf(values)
        return _read_only(values), bad

    def may_refuse(self, name: str, role: str) -> bool:
        """Whether `checked_numbers` may refuse a row of the column (here: always looked at)."""
        return True

    def value_counts(self, name: str, role: str) -> dict[str | None, int]:
        import polars as pl

        from driftwatch.sources.values import canonical_counts

        if name not in self.columns:
            raise InputError(f"{role} has no column {name!r}")
        if name in self._counts:
            return self._counts[name]
        counts = self.frame.select(pl.col(name).cast(pl.String).value_counts(sort=False)).unnest(name)
        self._counts[name] = canonical_counts(counts.iter_rows())
        return self._counts[name]

    def facts(self, name: str) -> ColumnFacts:
        """What `sources.columns` needs to decide whether the column is a feature (see `_ArrowColumns.facts`
        for the same from Arrow)."""
        import polars as pl

        dtype = self.frame.schema[name]
        column = self.frame[name]
        kind = self.kind(name)
        if kind is None:
            temporal = dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime)
            return ColumnFacts(name, "timestamp" if temporal else "unsupported", str(dtype))
        if dtype == pl.Boolean:
            return ColumnFacts(name, "categorical", str(dtype), boolean=True)
        if kind == "numeric":
            if not dtype.is_integer():
                return ColumnFacts(name, "numeric", str(dtype))
            valid = column.drop_nulls()
            low, high = valid.min(), valid.max()
            return ColumnFacts(
                name,
                "numeric",
                str(dtype),
                integer=True,
                non_null=valid.len(),
                distinct=valid.n_unique(),
                minimum=None if low is None else float(low),  # type: ignore[arg-type]
                maximum=None if high is None else float(high),  # type: ignore[arg-type]
            )
        if dtype == pl.String and name not in self._counts:
            texts = column.to_arrow(compat_level=pl.CompatLevel.oldest())  # large_string
            return _text_column_facts(name, str(dtype), texts, self._counts)
        return text_facts(name, str(dtype), self.value_counts(name, "reference"))


_ARROW_NUMPY = {
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "float": np.float32,
    "double": np.float64,
}


def _arrow_float64(column: pa.ChunkedArray) -> np.ndarray:
    """An integer or float Arrow column as one float64 array, nulls as NaN (what polars' cast gives).

    Read from the Arrow buffers directly: pyarrow's own `to_numpy` imports pandas (about a second) on its
    first call. A primitive array is a validity bitmap (LSB first, absent without nulls) and a data buffer,
    both starting `offset` values in.
    """
    import pyarrow as pa

    if column.num_chunks == 1 and column.type == pa.float64() and not column.null_count and len(column):
        chunk = column.chunk(0)  # the common case needs no copy: a read-only view of Arrow's buffer
        return np.frombuffer(chunk.buffers()[1], dtype=np.float64, count=len(chunk), offset=chunk.offset * 8)
    out = np.empty(len(column), dtype=np.float64)
    start = 0
    for chunk in column.chunks:
        size = len(chunk)
        if size == 0:
            continue
        dtype = np.dtype(_ARROW_NUMPY[str(chunk.type)])
        validity, data = chunk.buffers()
        view = out[start : start + size]
        view[:] = np.frombuffer(data, dtype=dtype, count=size, offset=chunk.offset * dtype.itemsize)
        if chunk.null_count:
            bits = np.unpackbits(
                np.frombuffer(validity, dtype=np.uint8), count=chunk.offset + size, bitorder="little"
            )
            view[bits[chunk.offset :] == 0] = np.nan
        start += size
    return out


def _may_be_infinite(chunk: pa.Array) -> bool:
    """Whether a chunk of an integer or float column may hold ±inf (a stored value under a null counts)."""
    dtype = np.dtype(_ARROW_NUMPY[str(chunk.type)])
    if dtype.kind != "f" or len(chunk) == 0:
        return False
    data = chunk.buffers()[1]
    values = np.frombuffer(data, dtype=dtype, count=len(chunk), offset=chunk.offset * dtype.itemsize)
    return bool(np.isinf(values).any())


def _dictionary_counts(column: pa.ChunkedArray) -> dict[str | None, int]:
    """Category counts of a dictionary-encoded text column from its indices, without decoding a row.

    Per chunk, one `np.bincount` of the integer indices (read from the Arrow buffers, nulls left out), then
    one lookup per dictionary entry: a few dozen strings instead of a string per row (and instead of the
    column's round trip through polars, which this replaces and agrees with). A null index and an index to a
    null dictionary entry are both missing (None); repeated dictionary entries add up.
    """
    counts: dict[str | None, int] = {}
    for chunk in column.chunks:
        if len(chunk) == 0:
            continue
        indices = chunk.indices
        dtype = np.dtype(_ARROW_NUMPY[str(indices.type)])
        validity, data = indices.buffers()
        codes = np.frombuffer(data, dtype=dtype, count=len(indices), offset=indices.offset * dtype.itemsize)
        if indices.null_count:
            bits = np.unpackbits(
                np.frombuffer(validity, dtype=np.uint8),
                count=indices.offset + len(indices),
                bitorder="little",
            )
            codes = codes[bits[indices.offset :] == 1]
            counts[None] = counts.get(None, 0) + indices.null_count
        per_entry = np.bincount(codes.astype(np.intp, copy=False), minlength=len(chunk.dictionary))
        for value, count in zip(chunk.dictionary.to_pylist(), per_entry.tolist(), strict=True):
            if count:
                counts[value] = counts.get(value, 0) + count
    return counts


class _ArrowColumns:
    """An Arrow table read without polars. Column types whose meaning polars defines beyond the plain ones
    (decimals, half floats, nested, dictionaries of non-text values...) are handed to polars, one column at a
    time, so every column is typed, cast and counted exactly as when the whole table went through polars.
    Dictionary-encoded text is counted here, from its indices (`_dictionary_counts`)."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.columns = table.column_names
        self.height = table.num_rows
        self._counts: dict[str, dict[str | None, int]] = {}  # as in _PolarsColumns

    def _type(self, name: str) -> str:
        import pyarrow.types as pat

        t = self.table.schema.field(name).type
        if pat.is_integer(t) or pat.is_float32(t) or pat.is_float64(t):
            return "numeric"
        if pat.is_boolean(t) or pat.is_string(t) or pat.is_large_string(t):
            return "categorical"
        if pat.is_dictionary(t) and (pat.is_string(t.value_type) or pat.is_large_string(t.value_type)):
            return "dictionary"  # text categories, counted from the indices (polars: Categorical)
        if pat.is_timestamp(t) or pat.is_date(t) or pat.is_time(t) or pat.is_duration(t):
            return "other"
        return "polars"

    def _polars(self, name: str, *, empty: bool = False) -> _PolarsColumns:
        import polars as pl

        column = self.table.select([name])
        frame = pl.from_arrow(column.slice(0, 0) if empty else column)
        assert isinstance(frame, pl.DataFrame)
        return _PolarsColumns(frame)

    def kind(self, name: str) -> str | None:
        kind = self._type(name)
        if kind == "polars":
            return self._polars(name, empty=True).kind(name)
        if kind == "dictionary":
            return "categorical"
        return None if kind == "other" else kind

    def numeric_values(self, name: str, role: str) -> np.ndarray:
        return self.checked_numbers(name, role)[0]

    def checked_numbers(self, name: str, role: str) -> tuple[np.ndarray, np.ndarray]:
        if name not in self.columns:
            raise InputError(f"{role} has no column {name!r}")
        if self._type(name) != "numeric":
            return self._polars(name).checked_numbers(name, role)
        values = _read_only(_arrow_float64(self.table.column(name)))
        return values, np.isinf(values)

    def may_refuse(self, name: str, role: str) -> bool:
        """As `_PolarsColumns.may_refuse`. Most numeric columns have no value to refuse, which is found without
        making the float64 copy the feature makes later: an integer is always a finite number, and a float
        column without an infinite value among its stored values (those under a null included) has none."""
        if name not in self.columns:
            raise InputError(f"{role} has no column {name!r}")
        if self._type(name) != "numeric":
            return True
        return any(_may_be_infinite(chunk) for chunk in self.table.column(name).chunks)

    def value_counts(self, name: str, role: str) -> dict[str | None, int]:

        if name not in self.columns:
            raise InputError(f"{role} has no column {name!r}")
        if name in self._counts:
            return self._counts[name]
        column = self.table.column(name)
        from driftwatch.sources.values import canonical_counts

        if self._type(name) == "dictionary":  # identities of the few dictionary entries, not of every row
            return self._counts.setdefault(name, canonical_counts(_dictionary_counts(column).items()))
        if self._type(name) != "categorical":
            return self._counts.setdefault(name, self._polars(name).value_counts(name, role))
        # Nulls are counted too, under None; booleans and texts take their identity (docs/values.md).
        counts = canonical_counts(value_count_pairs(_arrow_value_counts(column)))
        self._counts[name] = counts
        return counts

    def facts(self, name: str) -> ColumnFacts:
        """As `_PolarsColumns.facts`, with pyarrow.compute."""
        import pyarrow.compute as pc
        import pyarrow.types as pat

        kind = self._type(name)
        column = self.table.column(name)
        t = column.type
        if kind == "polars":
            return self._polars(name).facts(name)
        if kind == "other":
            temporal = pat.is_timestamp(t) or pat.is_date(t)
            return ColumnFacts(name, "timestamp" if temporal else "unsupported", str(t))
        if pat.is_boolean(t):
            return ColumnFacts(name, "categorical", str(t), boolean=True)
        if kind == "numeric":
            if not pat.is_integer(t):
                return ColumnFacts(name, "numeric", str(t))
            ends = pc.min_max(column).as_py()
            return ColumnFacts(
                name,
                "numeric",
                str(t),
                integer=True,
                non_null=len(column) - column.null_count,
                distinct=pc.count_distinct(column).as_py(),
                minimum=None if ends["min"] is None else float(ends["min"]),
                maximum=None if ends["max"] is None else float(ends["max"]),
            )
        if kind == "categorical" and name not in self._counts:  # text (booleans are answered above)
            return _text_column_facts(name, str(t), column, self._counts)
        return text_facts(name, str(t), self.value_counts(name, "reference"))


def _text_column_facts(
    name: str, type_name: str, column: pa.ChunkedArray | pa.Array, kept: dict[str, dict[str | None, int]]
) -> ColumnFacts:
    """A text column's facts from Arrow's value counts: from its category counts, kept in `kept` for its
    profile, when it has few distinct values; by `arrow_text_facts` when it has many (an identifier, most
    likely: no Python object per value, and nothing kept; a many-valued feature is counted again)."""
    from driftwatch.sources.values import canonical_counts

    value_counts = _arrow_value_counts(column)
    if len(value_counts) > MANY_DISTINCT:
        return arrow_text_facts(name, type_name, value_counts)
    kept[name] = canonical_counts(value_count_pairs(value_counts))
    return text_facts(name, type_name, kept[name])


def _arrow_value_counts(column: pa.ChunkedArray | pa.Array) -> pa.StructArray:
    import pyarrow.compute as pc

    return pc.value_counts(column)


def _columns(data: object) -> _Columns:
    if isinstance(data, _PolarsColumns | _ArrowColumns):
        return data
    if type(data).__module__.startswith("pyarrow"):
        table: Any = data
        if len(set(table.column_names)) == len(table.column_names):  # else polars says what is wrong
            return _ArrowColumns(table)
    return _PolarsColumns(as_polars(data, "input"))


def without_refused_rows(
    columns: _Columns, numeric: Sequence[tuple[str, str]], role: str
) -> tuple[_Columns, dict[str, int]]:
    """`columns` without the rows the pipeline's ingest would quarantine, and why: a value of a numeric column
    (`numeric`: name and label pairs) that is not a number or not finite (docs/values.md). The same rows
    then feed every feature, as a quarantined row feeds none in the pipeline."""
    refused: np.ndarray | None = None
    reasons: dict[str, int] = {}
    for name, label in numeric:
        if not columns.may_refuse(name, role):
            continue
        _, bad = columns.checked_numbers(name, role)
        count = int(np.count_nonzero(bad))
        if count:
            reasons[f"{label}: not a number or not finite"] = count
            refused = bad if refused is None else refused | bad
    if refused is None:
        return columns, reasons
    keep = ~refused
    if isinstance(columns, _ArrowColumns):
        import pyarrow as pa

        return _ArrowColumns(columns.table.filter(pa.array(keep))), reasons
    import polars as pl

    assert isinstance(columns, _PolarsColumns)
    return _PolarsColumns(columns.frame.filter(pl.Series(keep))), reasons


def _preview(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "") if names else "none"


def inferred_features(
    reference: object,
    current: object,
    outputs: Sequence[str] = (),
    features: Sequence[str] | None = None,
) -> InferredFeatures:
    """The features of a comparison, by the reference's column facts (rules: `sources.columns`).

    Candidates are the columns both tables have, minus `outputs` (judged as the model's output). With
    `features` exactly those are the features (each must be in both tables), numeric or categorical by the
    reference's type.
    """
    ref, cur = _columns(reference), _columns(current)
    if features is not None:
        for name in features:
            for cols, role in ((ref, "reference"), (cur, "current")):
                if name not in cols.columns:
                    raise InputError(f"{role} has no column {name!r} (named in --features)")
    common = [c for c in ref.columns if c in cur.columns and c not in outputs]
    if not common:
        raise InputError(
            "the two datasets have no columns in common (reference: "
            f"{_preview(ref.columns)}; current: {_preview(cur.columns)}). Give both files the same feature "
            "columns, or, for prediction logs keeping their features in a JSON column other than "
            f"{FEATURES_COLUMN!r}, name it with --features-column"
        )
    facts = [ref.facts(c) for c in common]
    inferred = infer_features(facts, {}, features, "--features")
    if not inferred.numeric and not inferred.categorical:
        left_out = "; ".join(str(e) for e in inferred.excluded)
        raise InputError(
            f"no common numeric or categorical columns to compare (left out: {left_out or 'none'}); "
            "name the features with --features"
        )
    return inferred


# ---------------------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------------------


def _feature(
    ref: _Columns, cur: _Columns, name: str, is_numeric: bool, role: str, bins: int
) -> tuple[FeatureDrift, np.ndarray, str | None]:
    """One feature's statistics, the reference's bin counts (for the learned PSI bars) and, for a categorical
    over the category cap, the note saying so."""
    from driftwatch.stats.feature_drift import categorical_feature_stats, numeric_feature_stats
    from driftwatch.stats.profile import NumericProfile

    profile, note = reference_profile(ref, name, is_numeric, bins)
    if isinstance(profile, NumericProfile):
        drift = numeric_feature_stats(profile, cur.numeric_values(name, "current"))
    else:
        drift = categorical_feature_stats(profile, cur.value_counts(name, "current"))
    return with_role(drift, role), profile.bin_counts, note


def with_role(drift: FeatureDrift, role: str) -> FeatureDrift:
    return drift if role == "input" else dataclasses.replace(drift, role="output")


def reference_profile(
    ref: _Columns, name: str, is_numeric: bool, bins: int
) -> tuple[FeatureProfile, str | None]:
    """One feature's reference profile and, for a categorical over the category cap, the note saying so."""
    from driftwatch.stats.profile import categorical_profile, category_cap_note, numeric_profile

    if is_numeric:
        return numeric_profile(name, ref.numeric_values(name, "reference"), bins), None
    reference_counts = ref.value_counts(name, "reference")
    profile = categorical_profile(name, reference_counts)
    return profile, category_cap_note(profile, sum(v is not None for v in reference_counts))


@dataclass(frozen=True)
class CompareOptions:
    """What a comparison judges and how: the options every engine of `driftwatch compare` takes (in memory,
    `streaming.compare_streaming`, `distributed.compare_dask`), named once. See `compare` for each."""

    numeric: Sequence[str] | None = None
    categorical: Sequence[str] | None = None
    bins: int = 10
    thresholds: Thresholds | None = None
    prediction: str | None = None
    output: str | None = None
    features: Sequence[str] | None = None
    input_format: str | tuple[str, str] = "auto"
    features_column: str = FEATURES_COLUMN
    # An S3-compatible server for ``s3://`` inputs (``http://host:9000``); None = AWS_ENDPOINT_URL, else AWS.
    # Only this string travels to Dask workers: each reads its credentials from its own environment.
    endpoint_url: str | None = None

    @property
    def store(self) -> ObjectStoreOptions:
        """How ``s3://`` inputs are reached (sources/object_parquet.py): the endpoint given, else the one the
        environment names (read on each access)."""
        from driftwatch.sources.object_parquet import endpoint_from_env

        return ObjectStoreOptions(endpoint_url=self.endpoint_url or endpoint_from_env())

    @property
    def formats(self) -> tuple[str, str]:
        """The reference's and the current's input formats."""
        fmt = self.input_format
        return (fmt, fmt) if isinstance(fmt, str) else fmt

    def plan(self, ref: _Columns, cur: _Columns) -> ComparisonPlan:
        """The features to judge in these columns (`comparison_plan`)."""
        return comparison_plan(
            ref,
            cur,
            numeric=self.numeric,
            categorical=self.categorical,
            features=self.features,
            prediction=self.prediction,
            output=self.output,
        )


def compare(
    reference: object,
    current: object,
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    bins: int = 10,
    thresholds: Thresholds | None = None,
    prediction: str | None = None,
    output: str | None = None,
    features: Sequence[str] | None = None,
    input_format: str | tuple[str, str] = "auto",
    features_column: str = FEATURES_COLUMN,
    endpoint_url: str | None = None,
) -> CompareResult:
    """Compare `current` with `reference`, feature by feature (PSI, exact KS, chi², JS, Hellinger, normalised
    Wasserstein, missing and unseen shares, status).

    Features are `features` (numeric or categorical by the reference's type), or `numeric` and
    `categorical` as given, or by default inferred from the columns both datasets share: numeric by type,
    strings and booleans categorical, with identifiers, timestamps, labels and outputs left out
    (`CompareResult.excluded`; rules in `sources.columns`). Paths are read as `input_format` (one for both,
    or the reference's and the current's; "auto" = by suffix), compressed or not; a prediction log's
    `features_column` (JSON objects or a struct) is flattened into one column per key.
    `prediction` (the model's score, numeric) and `output` (its decision, categorical) name columns judged as
    the model's output (role "output"): same statistics, but outside the input features' correction family
    and drift share. They default to the log schema's `raw_prediction` / `business_output` when both datasets
    have them.
    A path may be an object URL: ``s3://bucket/key.parquet``, ``s3://bucket/prefix/`` or a glob, read as a
    Parquet dataset from AWS or the S3-compatible server at `endpoint_url` (default: ``AWS_ENDPOINT_URL``);
    credentials from the environment only (sources/object_parquet.py).
    """
    options = CompareOptions(
        numeric,
        categorical,
        bins,
        thresholds,
        prediction,
        output,
        features,
        input_format,
        features_column,
        endpoint_url,
    )
    return compare_in_memory(reference, current, options)


def compare_in_memory(reference: object, current: object, options: CompareOptions) -> CompareResult:
    """`compare` with its options in one object (what `driftwatch.compare` hands each engine)."""
    ref_table, cur_table = load_pair(
        reference, current, options.input_format, options.features_column, options.store
    )
    from driftwatch.stats.parallel import default_workers, map_features

    ref, cur = _columns(ref_table), _columns(cur_table)
    plan = options.plan(ref, cur)
    bins = options.bins
    ref, excluded_ref = without_refused_rows(ref, plan.checked, "reference")
    cur, excluded_cur = without_refused_rows(cur, plan.checked, "current")
    # On threads (numpy's sorts and the numba kernels release the GIL), results in feature order; an error is
    # the one a feature-by-feature loop would meet first.
    jobs = [
        functools.partial(_feature, ref, cur, name, is_num, role, bins)
        for name, is_num, role in plan.to_judge
    ]
    workers = min(default_workers(), MAX_WORKERS)
    done = map_features(jobs, max(ref.height, cur.height), workers=workers)
    return judged_result(
        plan,
        done,
        options.thresholds,
        (ref.height, cur.height),
        (excluded_ref, excluded_cur),
    )


@dataclass(frozen=True)
class ComparisonPlan:
    """What a comparison judges: (name, numeric?, role) per feature in order, the numeric columns whose refused
    rows are left out (name, label), and the common columns left out and why."""

    to_judge: Sequence[tuple[str, bool, str]]
    checked: Sequence[tuple[str, str]]
    excluded: Sequence[Exclusion]


def comparison_plan(
    ref: _Columns,
    cur: _Columns,
    *,
    numeric: Sequence[str] | None,
    categorical: Sequence[str] | None,
    features: Sequence[str] | None,
    prediction: str | None,
    output: str | None,
) -> ComparisonPlan:
    """The features to judge, from the options and the columns (see `compare`); `cur` needs only its columns."""
    from driftwatch.stats.decision import OUTPUT_FEATURE, PREDICTION_FEATURE

    both = set(ref.columns) & set(cur.columns)
    if prediction is None and PREDICTION_FEATURE in both:
        prediction = PREDICTION_FEATURE
    if output is None and OUTPUT_FEATURE in both:
        output = OUTPUT_FEATURE
    outputs = [c for c in (prediction, output) if c is not None]
    excluded: Sequence[Exclusion] = ()
    if features is not None and (numeric is not None or categorical is not None):
        raise InputError("name the features either with `features` or with `numeric`/`categorical`, not both")
    both_roles = sorted(set(outputs) & {*(features or ()), *(numeric or ()), *(categorical or ())})
    if both_roles:
        raise InputError(f"column {both_roles[0]!r} is named as a feature and as the model's output")
    if numeric is None and categorical is None:
        inferred = inferred_features(ref, cur, outputs, features)
        num_names, cat_names = list(inferred.numeric), list(inferred.categorical)
        excluded = inferred.excluded
    else:
        num_names, cat_names = list(numeric or []), list(categorical or [])
    checked = [(n, f"feature {n!r}") for n in num_names] + (
        [(prediction, "prediction")] if prediction else []
    )
    to_judge = [
        *((n, True, "input") for n in num_names),
        *((n, False, "input") for n in cat_names),
        *(((prediction, True, "output"),) if prediction is not None else ()),
        *(((output, False, "output"),) if output is not None else ()),
    ]
    return ComparisonPlan(to_judge, checked, excluded)


def judged_result(
    plan: ComparisonPlan,
    done: Sequence[tuple[FeatureDrift, np.ndarray, str | None]],
    thresholds: Thresholds | None,
    rows: tuple[int, int],
    refused: tuple[Mapping[str, int], Mapping[str, int]],
) -> CompareResult:
    """The comparison's result from each feature's (statistics, reference bin counts, category-cap note)."""
    from driftwatch.stats.decision import Thresholds as DefaultThresholds
    from driftwatch.stats.judgement import judge_window

    stats: list[FeatureDrift] = [drift for drift, _, _ in done]
    # Each feature's reference bin counts, for the learned PSI bars.
    references: dict[str, np.ndarray] = {
        name: counts for (name, _, _), (_, counts, _) in zip(plan.to_judge, done, strict=True)
    }
    decision = judge_window(stats, references, thresholds or DefaultThresholds())
    decision = _with_cap_notes(decision, [note for _, _, note in done])
    return CompareResult(stats, decision, rows[0], rows[1], plan.excluded, refused[0], refused[1])


def _with_cap_notes(decision: WindowDecision, notes: Sequence[str | None]) -> WindowDecision:
    """The decision with each capped categorical's note added to its reason."""
    if not any(notes):
        return decision
    features = tuple(
        fd if note is None else dataclasses.replace(fd, reason=f"{fd.reason}; {note}")
        for fd, note in zip(decision.features, notes, strict=True)
    )
    return dataclasses.replace(decision, features=features)
