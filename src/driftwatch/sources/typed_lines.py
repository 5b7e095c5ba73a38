"""NDJSON lines read by one typed parse each; only the lines it cannot vouch for go the per-field way.

The normalising query of `sources.logs` reads an NDJSON line as text: `json_valid`, `json_type`, one list-path
`json_extract_string` and one list-path `json_type` per line, then every number from its text (the value model
of `sources.values`). That keeps a bad line's text and gives every reason, but costs ~10 CPU-s per 1M lines of
22 features, where DuckDB parses the same lines into typed values for ~1.3 (docs/benchmarks.md, "Ingest: a
typed fast path for clean rows"). So each line is first parsed once by `from_json_strict` into a struct of the
fields the layout reads (numbers as DOUBLE, everything else as VARCHAR), and a row whose parse DuckDB can
vouch for is stored from it. A line is *typed* (vouched for) only when the typed values are the ones the
normalising query would give it and that query would give it no reason:

- the parse succeeded: valid JSON, an object, every field present, no key twice, a features object that is an
  object, and where a number is read a number, a boolean, or a text DuckDB's *strict* cast reads as a number
  ("2", "-1e3"; it refuses " 2 ", "1_000" and "+-3", the only texts where DuckDB's lenient cast and the value
  model part, so what it reads the value model reads as the same double);
- every number is finite or null (a NaN, a ±inf, and a string DuckDB reads as one such as "nan(1)" or
  "Infinity", go the per-field way, which names them or reads them by the value model);
- no text field starts with `{` or `[` (a nested value is refused or kept as its JSON text by the per-field
  path; a string that merely starts so goes that way too);
- the request id is not blank and the timestamp reads (ISO text or epoch number, as `sources.logs`) within the
  accepted range.

`from_json_strict` renders a JSON number read as VARCHAR exactly as `json_extract_string` does (both write the
parsed value: `1E5` -> `100000.0`), so texts are equal; numbers are the same double (both correctly rounded,
a boolean is 1 or 0 in both). Every other line of a batch (`Normalising.finish`) is read by the normalising
query itself, from a registered view of those lines, and the two parts are put back in file order:
tests/test_typed_lines.py checks both give the same rows and reasons for every kind of line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

import driftwatch.timestamps as timestamps
from driftwatch.sources.files import NDJSON_LINE, source_sql, stream_rows
from driftwatch.sources.logs import NO_SEGMENT_VALUE, NO_VERSION, LogLayout, normalise_query
from driftwatch.sources.parquet_rows import ARROW_VIEW, arrow_plan, numbered, numbered_table
from driftwatch.sources.values import category_number_sql, category_sql, epoch_sql, number_sql
from driftwatch.storage.database import registered
from driftwatch.storage.schema import feature_column, quote_identifier, segment_column

TYPED = "_typed"  # the fast query's flag: the row is stored from its typed parse
# Lines parsed first to decide whether the typed path pays (`normalising`).
SAMPLE_LINES = 10_000
UNTYPED_LINES = "_dw_untyped_lines"  # a view name on the finishing cursor, registered for one batch at a time
_DOUBLE, _TEXT = "DOUBLE", "VARCHAR"


@dataclass(frozen=True)
class ArrowRows:
    """A Parquet file read by pyarrow (`sources.parquet_rows`): its path, its schema when planned (`numbered`
    checks it), and the query over the file itself, used instead when pyarrow cannot read it (DuckDB's reader
    then says why). Or, with `table`, rows already in memory (a batch pulled from a database, whose columns
    `parquet_rows.table_columns` let through): read as they are, `path` only names them."""

    path: str
    schema: pa.Schema
    over_file: tuple[str, dict[str, object]] | None
    table: pa.Table | None = None


@dataclass
class Normalising:
    """How a file's rows are read: `sql`/`params` stream the batches, `finish` completes each one."""

    sql: str
    params: dict[str, object]
    layout: LogLayout
    typed: bool  # the fast query of this module (NDJSON); else the normalising query as it is
    # A Parquet file of one row group that `sql` reads as `sources.parquet_rows` registers it (None: `sql` reads
    # the file itself).
    arrow: ArrowRows | None = None

    @property
    def arrow_file(self) -> str | None:
        return None if self.arrow is None else self.arrow.path

    def stream(self, cur: duckdb.DuckDBPyConnection, batch_rows: int) -> Iterator[pa.Table]:
        """The batches of the query on `cur` (`sources.files.stream_rows`), the file registered first when
        pyarrow reads it."""
        if self.arrow is None:
            yield from stream_rows(cur, self.sql, self.params, batch_rows)
            return
        if self.arrow.table is not None:
            rows = numbered_table(self.arrow.table)
        else:
            try:
                rows = numbered(self.arrow.path, self.arrow.schema)
            except (OSError, pa.ArrowException):
                assert self.arrow.over_file is not None
                yield from stream_rows(cur, *self.arrow.over_file, batch_rows)
                return
        with registered(cur, ARROW_VIEW, rows):
            yield from stream_rows(cur, self.sql, self.params, batch_rows)

    def finish(self, cur: duckdb.DuckDBPyConnection, batch: pa.Table) -> pa.Table:
        """The batch as the normalising query gives it: the rows the typed parse could not vouch for read
        again by that query, from their lines, and put back among the others in file order."""
        if not self.typed:
            return batch
        typed = batch.column(TYPED)
        if pc.all(typed).as_py():  # the usual case: nothing to read again, no copy
            return batch.drop_columns([TYPED, NDJSON_LINE])
        fast = batch.filter(typed).drop_columns([TYPED, NDJSON_LINE])
        lines = batch.filter(pc.invert(typed)).select(["_row", NDJSON_LINE])
        sql, params = normalise_query("ndjson", "", {}, self.layout, lines_view=UNTYPED_LINES)
        with registered(cur, UNTYPED_LINES, lines):
            slow = cur.sql(sql, params=params).to_arrow_table()
        slow = slow.select(fast.schema.names).cast(fast.schema)
        return pa.concat_tables([fast, slow]).sort_by("_row")


def normalising(
    cur: duckdb.DuckDBPyConnection,
    fmt: str,
    path: str,
    columns: dict[str, str],
    layout: LogLayout,
    compression: str = "auto",
    sample_lines: int = SAMPLE_LINES,
) -> Normalising:
    """The typed fast query for an NDJSON file whose fields can be typed and whose first `sample_lines` lines
    are all vouched for (0: no sample); otherwise the normalising query (for a Parquet file of one row group,
    over the file as pyarrow reads it: `sources.parquet_rows`).

    Why the sample: a line the typed parse refuses costs far more than a clean one. `from_json_strict` raises
    (with the object in its message) and `try` then evaluates that line's whole vector of 2,048 lines one line
    at a time: a file with one such line in 100 cost ~13 CPU-s per 1M lines typed, more than the per-field
    query's ~10; one with a key missing from every line ~36. A file is usually all of a kind (a missing field,
    numbers sent as text, a layout that does not fit), so its first lines tell; rarer bad lines cost ~18 ms per
    vector holding one (docs/benchmarks.md, "Ingest: a typed fast path").
    """
    if fmt == "ndjson":
        fast = _TypedQuery(layout).build(path, compression)
        if fast is not None and _sample_typed(cur, fast[0], fast[1], sample_lines):
            return Normalising(fast[0], fast[1], layout, True)
    sql, params = normalise_query(fmt, path, columns, layout, compression=compression)
    schema = arrow_plan(cur, path, columns) if fmt == "parquet" else None
    if schema is not None:
        # One row group: read by pyarrow, normalised on every core (`sources.parquet_rows`).
        arrow_sql, arrow_params = normalise_query(fmt, path, columns, layout, arrow_rows=True)
        return Normalising(arrow_sql, arrow_params, layout, False, ArrowRows(path, schema, (sql, params)))
    return Normalising(sql, params, layout, False)


def normalising_table(name: str, table: pa.Table, columns: dict[str, str], layout: LogLayout) -> Normalising:
    """The normalising query over rows in memory, read as the same rows in a Parquet file would be (`columns`:
    `sources.parquet_rows.table_columns`, which must have let the table through); `name` stands for the file."""
    sql, params = normalise_query("parquet", name, columns, layout, arrow_rows=True)
    return Normalising(sql, params, layout, False, ArrowRows(name, table.schema, None, table))


def _sample_typed(cur: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object], lines: int) -> bool:
    """Whether the typed query vouches for every one of the file's first `lines` lines (True for 0)."""
    if lines <= 0:
        return True
    row = cur.execute(
        f"SELECT count(*) FILTER (WHERE NOT {TYPED}) FROM (SELECT {TYPED} FROM ({sql}) LIMIT {int(lines)})",
        params,
    ).fetchall()  # all of it: a result left unfinished would refuse the cursor's next query (`finish`)
    return bool(row) and row[0][0] == 0


@dataclass
class _TypedQuery:
    """The fast query's parts, filled per field: the struct to parse into, then the projections over it."""

    layout: LogLayout
    top: dict[str, str] = field(default_factory=dict)  # key -> DOUBLE/VARCHAR
    nested: dict[str, str] = field(default_factory=dict)  # key of the features object -> type
    conflict: bool = False  # one key read as a number and as text: no fast path
    fields: list[str] = field(default_factory=list)  # values out of the parsed struct `_d`
    numbers: list[str] = field(default_factory=list)  # values computed from those
    times: list[str] = field(default_factory=list)
    out: list[str] = field(default_factory=lambda: ["_row"])
    checks: list[str] = field(default_factory=lambda: ["_d IS NOT NULL"])
    params: dict[str, object] = field(default_factory=dict)

    def key(self, name: str, kind: str, nested: bool) -> str:
        keys = self.nested if nested else self.top
        if keys.setdefault(name, kind) != kind:
            self.conflict = True
        base = f"_d.{quote_identifier(self.layout.features_json or '')}" if nested else "_d"
        return f"{base}.{quote_identifier(name)}"

    def text(self, name: str, alias: str, nested: bool = False) -> None:
        self.fields.append(f"{self.key(name, _TEXT, nested)} AS {alias}")
        self.checks.append(f"NOT coalesce(left({alias}, 1) IN ('{{', '['), false)")

    def number(self, name: str, alias: str, output: str, nested: bool = False) -> None:
        self.fields.append(f"{self.key(name, _DOUBLE, nested)} AS {alias}")
        self.checks.append(f"({alias} IS NULL OR isfinite({alias}))")
        self.out.append(f"{alias} AS {output}")

    def category(self, name: str, alias: str, output: str, nested: bool = False, missing: str = "") -> None:
        self.text(name, alias, nested)
        self.numbers.append(f"{category_number_sql(alias)} AS {alias}_n")
        value = category_sql(alias, f"{alias}_n")
        self.out.append(f"coalesce({value}, '{missing}') AS {output}" if missing else f"{value} AS {output}")

    def add_fields(self) -> None:
        lay = self.layout
        if lay.id is not None:
            self.text(lay.id, "_id")
            self.checks.append("_id IS NOT NULL AND trim(_id) <> ''")
            self.out.append("_id AS request_id")
        if lay.timestamp is not None:
            self.add_timestamp(lay.timestamp)
        if lay.model_version is not None:
            self.text(lay.model_version, "_mv")
            self.out.append(f"coalesce(_mv, '{NO_SEGMENT_VALUE}') AS model_version")
        else:
            self.out.append(f"'{NO_VERSION}' AS model_version")
        if lay.prediction is not None:
            self.number(lay.prediction, "_pred", "prediction")
        if lay.output is not None:
            self.category(lay.output, "_out", "output")
        for i, seg in enumerate(lay.segments):
            self.category(seg, f"_seg{i}", segment_column(seg), missing=NO_SEGMENT_VALUE)
        for i, (name, source) in enumerate(lay.extra_numeric.items()):
            self.number(source, f"_x{i}", quote_identifier(name))
        self.add_features()

    def add_timestamp(self, name: str) -> None:
        # As `sources.logs` reads a time from NDJSON: ISO text, else a Unix epoch by magnitude.
        self.text(name, "_ts_text")
        self.numbers.append("TRY_CAST(_ts_text AS TIMESTAMPTZ)::TIMESTAMP AS _ts_iso")
        self.times.append(
            f"CASE WHEN _ts_iso IS NOT NULL THEN _ts_iso ELSE {epoch_sql(number_sql('_ts_text'))} END AS _ts"
        )
        self.params["earliest"], self.params["latest"] = timestamps.EARLIEST, timestamps.LATEST
        self.checks.append("_ts IS NOT NULL AND _ts >= $earliest AND _ts < $latest")
        self.out.append("_ts AS ts")

    def add_features(self) -> None:
        nested = self.layout.features_json is not None
        if nested:
            self.key(self.layout.features_json or "", "STRUCT", nested=False)
            self.checks.append(f"_d.{quote_identifier(self.layout.features_json or '')} IS NOT NULL")
        for i, name in enumerate(self.layout.numeric):
            self.number(name, f"_n{i}", feature_column(name), nested)
        for i, name in enumerate(self.layout.categorical):
            self.category(name, f"_c{i}", feature_column(name), nested)

    def structure(self) -> str | None:
        """The `from_json_strict` structure, or None when the keys cannot make one struct (a key read as a
        number and as text, or two keys DuckDB's struct fields would not tell apart: they ignore case)."""
        names = [*self.top, *self.nested]
        if self.conflict or not names or len({n.lower() for n in self.top}) < len(self.top):
            return None
        if len({n.lower() for n in self.nested}) < len(self.nested):
            return None
        shape: dict[str, object] = {k: t for k, t in self.top.items() if t != "STRUCT"}
        if self.layout.features_json is not None:
            shape[self.layout.features_json] = dict(self.nested)
        return json.dumps(shape)

    def build(self, path: str, compression: str) -> tuple[str, dict[str, object]] | None:
        if self.layout.probabilities:
            # Per-class probabilities have checks of their own (range, sum, output among the classes:
            # sources.probabilities) that this query does not make; such files go the per-field way.
            return None
        self.add_fields()
        struct = self.structure()
        if struct is None:
            return None
        self.params.update(path=path, struct=struct)
        parsed = (
            f"SELECT _row, {NDJSON_LINE}, try(from_json_strict({NDJSON_LINE}, $struct)) AS _d "
            f"FROM ({source_sql('ndjson', compression)})"
        )
        sql = f"({parsed})"
        for stage in (self.fields, self.numbers, self.times):
            if stage:
                sql = f"(SELECT *, {', '.join(stage)} FROM {sql})"
        checked = f"SELECT *, coalesce({' AND '.join(self.checks)}, false) AS {TYPED} FROM {sql}"
        return (
            f"SELECT {', '.join(self.out)}, NULL::VARCHAR AS _reason, NULL::VARCHAR AS _raw, {TYPED}, "
            f"CASE WHEN NOT {TYPED} THEN {NDJSON_LINE} END AS {NDJSON_LINE} FROM ({checked})",
            self.params,
        )
