"""Ad-hoc comparison of two datasets with the same statistics and decisions as the scheduled pipeline.

`driftwatch.compare(reference, current)` accepts polars or pandas frames, Arrow tables or file paths
(.parquet, .csv, .ndjson/.jsonl) and returns a `CompareResult`; `driftwatch compare` prints it.

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

from driftwatch.errors import InputError, SourceError
from driftwatch.sources.formats import file_format

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

    from driftwatch.stats.decision import Thresholds, WindowDecision
    from driftwatch.stats.feature_drift import FeatureDrift

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


def _checked_path(path: str | Path, role: str) -> tuple[Path, str]:
    p = Path(path)
    if not p.is_file():
        raise SourceError(p, f"{role} file not found")
    return p, file_format(str(p))


def _read_path(path: str | Path, role: str) -> pa.Table | pl.DataFrame:
    """A Parquet file as an Arrow table; a CSV or NDJSON file as a polars frame (polars infers their types)."""
    p, fmt = _checked_path(path, role)
    try:
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            # ParquetFile, not read_table: the latter imports pyarrow.dataset, and with it pandas (~1 s).
            # Without pre-buffering, which keeps the whole compressed file in memory as long as the table.
            with pq.ParquetFile(p, pre_buffer=False) as file:
                table = file.read()
            # Hand the decoder's freed scratch memory back to the OS (~30 MB less peak at 1M rows).
            pa.default_memory_pool().release_unused()
            return table
        import polars as pl

        if fmt == "csv":
            return pl.read_csv(p, infer_schema_length=None)
        return pl.read_ndjson(p, infer_schema_length=None)
    except Exception as exc:  # pyarrow and polars raise many exception types for unreadable files
        raise SourceError(
            p, f"cannot read as {fmt}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None


def as_table(data: object, role: str) -> pa.Table | pl.DataFrame:
    """What `compare` works on: a path read (see `_read_path`), an Arrow table or a polars frame as is, a
    pandas frame converted to polars."""
    if isinstance(data, str | Path):
        return _read_path(data, role)
    module = type(data).__module__
    if module.startswith("pyarrow"):
        import pyarrow as pa

        if isinstance(data, pa.Table):
            return data
        if isinstance(data, pa.RecordBatch):
            return pa.Table.from_batches([data])
    return as_polars(data, role)


def as_polars(data: object, role: str) -> pl.DataFrame:
    """A polars frame from a path, polars/pandas frame or Arrow table."""
    import polars as pl

    if isinstance(data, pl.DataFrame):
        return data
    if isinstance(data, str | Path):
        return as_polars(_read_path(data, role), role)
    module = type(data).__module__
    if module.startswith("pyarrow"):
        frame = pl.from_arrow(data)  # type: ignore[arg-type]
        if isinstance(frame, pl.DataFrame):
            return frame
    if module.startswith("pandas"):
        return pl.from_pandas(data)  # type: ignore[arg-type]
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


def load_pair(reference: object, current: object) -> tuple[pa.Table | pl.DataFrame, pa.Table | pl.DataFrame]:
    """Both inputs as `as_table` gives them, read while `load_statistics` runs on another thread.

    Paths are checked first, so a missing file or unknown type fails at once.
    """
    for data, role in ((reference, "reference"), (current, "current")):
        if isinstance(data, str | Path):
            _checked_path(data, role)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftwatch-load") as pool:
        ready = pool.submit(load_statistics)
        tables = as_table(reference, "reference"), as_table(current, "current")
        ready.result()
    return tables


# ---------------------------------------------------------------------------------------------------------
# Columns: the same answers from an Arrow table and from a polars frame
# ---------------------------------------------------------------------------------------------------------


class _Columns(Protocol):
    columns: list[str]
    height: int

    def kind(self, name: str) -> str | None: ...

    def numeric_values(self, name: str, role: str) -> np.ndarray: ...

    def checked_numbers(self, name: str, role: str) -> tuple[np.ndarray, np.ndarray]: ...

    def value_counts(self, name: str, role: str) -> dict[str | None, int]: ...


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

    def value_counts(self, name: str, role: str) -> dict[str | None, int]:
        import polars as pl

        from driftwatch.sources.values import canonical_counts

        if name not in self.columns:
            raise InputError(f"{role} has no column {name!r}")
        counts = self.frame.select(pl.col(name).cast(pl.String).value_counts(sort=False)).unnest(name)
        return canonical_counts(counts.iter_rows())


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


class _ArrowColumns:
    """An Arrow table read without polars. Column types whose meaning polars defines beyond the plain ones
    (dictionaries, decimals, half floats, nested...) are handed to polars, one column at a time, so every
    column is typed, cast and counted exactly as when the whole table went through polars."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.columns = table.column_names
        self.height = table.num_rows

    def _type(self, name: str) -> str:
        import pyarrow.types as pat

        t = self.table.schema.field(name).type
        if pat.is_integer(t) or pat.is_float32(t) or pat.is_float64(t):
            return "numeric"
        if pat.is_boolean(t) or pat.is_string(t) or pat.is_large_string(t):
            return "categorical"
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

    def value_counts(self, name: str, role: str) -> dict[str | None, int]:

        if name not in self.columns:
            raise InputError(f"{role} has no column {name!r}")
        column = self.table.column(name)
        if self._type(name) != "categorical":
            return self._polars(name).value_counts(name, role)
        import pyarrow.compute as pc

        from driftwatch.sources.values import canonical_counts

        # Nulls are counted too, under None; booleans and texts take their identity (docs/values.md).
        return canonical_counts((e["values"], e["counts"]) for e in pc.value_counts(column).to_pylist())


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


def infer_kinds(
    reference: object, current: object, exclude: Sequence[str] = ()
) -> tuple[list[str], list[str]]:
    """Columns present in both tables, split into numeric and categorical by the reference's types."""
    ref, cur = _columns(reference), _columns(current)
    common = [c for c in ref.columns if c in cur.columns and c not in exclude]
    if not common:
        raise InputError("the two datasets have no columns in common")
    kinds = {c: ref.kind(c) for c in common}
    numeric = [c for c in common if kinds[c] == "numeric"]
    categorical = [c for c in common if kinds[c] == "categorical"]
    if not numeric and not categorical:
        raise InputError("no common numeric or categorical columns to compare")
    return numeric, categorical


# ---------------------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------------------


def _feature(
    ref: _Columns, cur: _Columns, name: str, is_numeric: bool, role: str, bins: int
) -> tuple[FeatureDrift, np.ndarray]:
    """One feature's statistics and the reference's bin counts (for the learned PSI bars)."""
    from driftwatch.stats.feature_drift import categorical_feature_stats, numeric_feature_stats
    from driftwatch.stats.profile import categorical_profile, numeric_profile

    if is_numeric:
        num_profile = numeric_profile(name, ref.numeric_values(name, "reference"), bins)
        drift = numeric_feature_stats(num_profile, cur.numeric_values(name, "current"))
        counts = num_profile.bin_counts
    else:
        cat_profile = categorical_profile(name, ref.value_counts(name, "reference"))
        drift = categorical_feature_stats(cat_profile, cur.value_counts(name, "current"))
        counts = cat_profile.bin_counts
    return (drift if role == "input" else dataclasses.replace(drift, role="output")), counts


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
) -> CompareResult:
    """Compare `current` with `reference`, feature by feature (PSI, exact KS, chi², JS, Hellinger, normalised
    Wasserstein, missing and unseen shares, status).

    Features default to the columns both datasets share: numeric by type, strings and booleans categorical.
    `prediction` (the model's score, numeric) and `output` (its decision, categorical) name columns judged as
    the model's output (role "output"): same statistics, but outside the input features' correction family
    and drift share. They default to the log schema's `raw_prediction` / `business_output` when both datasets
    have them.
    """
    ref_table, cur_table = load_pair(reference, current)
    from driftwatch.stats.decision import OUTPUT_FEATURE, PREDICTION_FEATURE
    from driftwatch.stats.decision import Thresholds as DefaultThresholds
    from driftwatch.stats.judgement import judge_window
    from driftwatch.stats.parallel import default_workers, map_features

    ref, cur = _columns(ref_table), _columns(cur_table)
    both = set(ref.columns) & set(cur.columns)
    if prediction is None and PREDICTION_FEATURE in both:
        prediction = PREDICTION_FEATURE
    if output is None and OUTPUT_FEATURE in both:
        output = OUTPUT_FEATURE
    outputs = [c for c in (prediction, output) if c is not None]
    if numeric is None and categorical is None:
        num_names, cat_names = infer_kinds(ref, cur, exclude=outputs)
    else:
        num_names, cat_names = list(numeric or []), list(categorical or [])
        both_roles = sorted(set(outputs) & {*num_names, *cat_names})
        if both_roles:
            raise InputError(f"column {both_roles[0]!r} is named as a feature and as the model's output")
    checked = [(n, f"feature {n!r}") for n in num_names] + (
        [(prediction, "prediction")] if prediction else []
    )
    ref, excluded_ref = without_refused_rows(ref, checked, "reference")
    cur, excluded_cur = without_refused_rows(cur, checked, "current")
    features = [
        *((n, True, "input") for n in num_names),
        *((n, False, "input") for n in cat_names),
        *(((prediction, True, "output"),) if prediction is not None else ()),
        *(((output, False, "output"),) if output is not None else ()),
    ]
    # On threads (numpy's sorts and the numba kernels release the GIL), results in feature order; an error is
    # the one a feature-by-feature loop would meet first.
    jobs = [
        functools.partial(_feature, ref, cur, name, is_num, role, bins) for name, is_num, role in features
    ]
    workers = min(default_workers(), MAX_WORKERS)
    done = map_features(jobs, max(ref.height, cur.height), workers=workers)
    stats: list[FeatureDrift] = [drift for drift, _ in done]
    # Each feature's reference bin counts, for the learned PSI bars.
    references: dict[str, np.ndarray] = {
        name: counts for (name, _, _), (_, counts) in zip(features, done, strict=True)
    }
    decision = judge_window(stats, references, thresholds or DefaultThresholds())
    return CompareResult(stats, decision, ref.height, cur.height, excluded_ref, excluded_cur)
