"""Turn a raw log file into typed, validated rows: one SQL query per file, run inside DuckDB.

The query yields, per source row: `_row`, `_raw`, `request_id`, `ts` (naive UTC), `model_version`,
`prediction`, `output`, one column per segment and per feature (quoted by `storage.schema`), and `_reason`:
NULL for a good row, otherwise every problem found, joined by "; ". Good rows are inserted; the others go to
quarantine with that reason and their `_raw` text. Nothing is dropped silently. `_raw` is NULL for a good row:
the raw text (the row as JSON) is only built for rejected rows, so a clean file does not pay for it.

NDJSON fields are read with one list-path `json_extract_string(_doc, [...])` per line (plus one list-path
`json_type` when features sit in a nested object), not one call per field: each call parses the whole line, and
with ~25 fields the repeated parsing was most of the cost of loading an NDJSON file (1M lines: ~31 -> ~7 CPU-s).
The values and reasons are those of the per-field calls (tests/test_ingest_ndjson.py pins them).
A features field of a Parquet/CSV file (a JSON object as text or a struct; database and object-store pulls
arrive as Parquet) is read the same way: one list-path `json_type` and one list-path `json_extract_string` per
row over the object, 2 parses instead of 13 with 8 features (1M rows stored: 4.6 -> 3.3 CPU-s;
tests/test_ingest_features_column.py pins the values and reasons).

Values are never pasted into SQL: file paths and JSON paths are bound as named parameters; column names are
quoted identifiers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import driftwatch.timestamps as timestamps
from driftwatch.config.probabilities import ClassProbability
from driftwatch.errors import SourceError
from driftwatch.sources.files import NDJSON_LINE, SOURCE_ROW, raw_sql, source_sql
from driftwatch.sources.parquet_rows import arrow_source_sql
from driftwatch.sources.probabilities import add_probabilities
from driftwatch.sources.values import (
    category_number_sql,
    category_sql,
    epoch_sql,
    json_path,
    number_sql,
    numeric_sql,
)
from driftwatch.storage.schema import feature_column, quote_identifier, segment_column

_TIME_TYPES = ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "DATE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")
NO_VERSION = "*"
NO_SEGMENT_VALUE = "(none)"


@dataclass(frozen=True)
class LogLayout:
    """Which source fields to read and how to type them."""

    id: str | None
    timestamp: str | None
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    features_json: str | None = None  # the JSON/struct field holding features; None = plain columns
    model_version: str | None = None
    prediction: str | None = None
    output: str | None = None
    segments: tuple[str, ...] = ()
    extra_numeric: dict[str, str] = field(default_factory=dict)  # output name → source field (e.g. a target)
    probabilities: tuple[ClassProbability, ...] = ()  # per-class probability fields (sources.probabilities)


class _Query:
    """Builds the normalising query; collects bound parameters as it goes."""

    def __init__(self, fmt: str, path: str, columns: dict[str, str]) -> None:
        self.fmt = fmt
        self.columns = columns
        self.params: dict[str, object] = {"path": path}
        self.path = path
        # NDJSON: every field is read from one list-path call per row (see `doc_fields`), not one call per field.
        self.text_paths: dict[str, int] = {}  # JSON path → 1-based index in `_jv`
        self.type_paths: dict[str, int] = {}  # JSON path → 1-based index in `_jt`
        # Parquet/CSV features field: likewise one list-path call per row over the field's text `_fj`.
        self.object_text_paths: dict[str, int] = {}  # JSON path → 1-based index in `_fv`
        self.object_type_paths: dict[str, int] = {}  # JSON path → 1-based index in `_ft`

    def bind(self, value: object) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def has(self, name: str) -> bool:
        return self.fmt == "ndjson" or name in self.columns

    def require(self, name: str, role: str) -> None:
        if not self.has(name):
            known = ", ".join(self.columns) or "none"
            raise SourceError(self.path, f"has no column {name!r} ({role}); its columns are: {known}")

    def text(self, name: str) -> str:
        """The field as VARCHAR (NULL when absent or JSON null)."""
        if self.fmt == "ndjson":
            return self.doc_text(json_path(name))
        return f"CAST({quote_identifier(name)} AS VARCHAR)"

    def doc_text(self, path: str) -> str:
        """`json_extract_string(_doc, path)`, as an element of the row's one list-path extraction `_jv`."""
        index = self.text_paths.setdefault(path, len(self.text_paths) + 1)
        return f"_jv[{index}]"

    def doc_type(self, path: str) -> str:
        """`json_type(_doc, path)`, as an element of the row's one list-path `json_type` call `_jt`."""
        index = self.type_paths.setdefault(path, len(self.type_paths) + 1)
        return f"_jt[{index}]"

    def object_text(self, path: str) -> str:
        """`json_extract_string(_fj, path)`, as an element of the row's one list-path extraction `_fv`."""
        index = self.object_text_paths.setdefault(path, len(self.object_text_paths) + 1)
        return f"_fv[{index}]"

    def object_type(self, path: str) -> str:
        """`json_type(_fj, path)`, as an element of the row's one list-path `json_type` call `_ft`."""
        index = self.object_type_paths.setdefault(path, len(self.object_type_paths) + 1)
        return f"_ft[{index}]"

    def doc_fields(self) -> str:
        """The select list computing `_jv` and `_jt` from `_doc`: each parses the line once for all its paths.

        `json_extract_string(doc, [p1, p2, ...])` is element for element `[json_extract_string(doc, p1), ...]`
        (DuckDB's list-path form), but parses the document once instead of once per path: with ~25 fields, the
        per-field calls were most of the cost of loading an NDJSON file.
        """
        return self._list_fields("_doc", (("_jv", self.text_paths), ("_jt", self.type_paths)))

    def object_types(self) -> str:
        """`_ft`: the JSON types of the features field's text itself (element 1) and of the paths asked for by
        `object_type`, in one parse; NULL for a text that is not JSON (`try`: DuckDB's `json_type` raises)."""
        self.object_type_paths.setdefault("$", len(self.object_type_paths) + 1)
        order = sorted(self.object_type_paths, key=self.object_type_paths.__getitem__)
        return f"try(json_type(_fj_text, [{', '.join(self.bind(path) for path in order)}])) AS _ft"

    def object_texts(self) -> str:
        """The select list computing `_fv` from the features object `_fj`, as `doc_fields` does for an NDJSON
        line: one parse of the object per row for all features (not one per feature)."""
        return self._list_fields("_fj", (("_fv", self.object_text_paths),))

    def _list_fields(self, source: str, lists: tuple[tuple[str, dict[str, int]], ...]) -> str:
        fields = []
        for alias, paths in lists:
            if paths:
                name = "json_extract_string" if alias in ("_jv", "_fv") else "json_type"
                bound = ", ".join(self.bind(path) for path in paths)
                fields.append(f"{name}({source}, [{bound}]) AS {alias}")
        return "".join(", " + f for f in fields)

    def native(self, name: str) -> str:
        """The field as stored (typed for Parquet, VARCHAR for CSV and NDJSON)."""
        return quote_identifier(name) if self.fmt != "ndjson" else self.text(name)

    def json_object(self, name: str) -> str:
        """A features field as JSON text, whether it is a struct, a map or a JSON string."""
        if self.fmt == "ndjson":
            return f"json_extract(_doc, {self.bind(json_path(name))})::VARCHAR"
        kind = self.columns[name].upper()
        if kind.startswith("STRUCT") or kind.startswith("MAP"):
            return f"to_json({quote_identifier(name)})::VARCHAR"
        return f"CAST({quote_identifier(name)} AS VARCHAR)"


def _sql_text(value: str) -> str:
    """A constant string for the SQL text of reasons (our own fixed words and config names only)."""
    return "'" + value.replace("'", "''") + "'"


def with_raw(sql: str, fmt: str) -> str:
    """`sql` (yielding `_src` and the final `_reason`) with `_src` replaced by `_raw`: the row's raw text when the
    row is rejected, NULL otherwise. DuckDB evaluates a CASE branch only for the rows whose WHEN holds, so the
    JSON is built for the rejected rows alone (loading a 1M-row, 24-column Parquet file: 2.1 -> 0.7 CPU-s)."""
    return (
        f"SELECT * EXCLUDE ({SOURCE_ROW}), CASE WHEN _reason IS NOT NULL THEN {raw_sql(fmt)} END AS _raw "
        f"FROM ({sql})"
    )


_PARQUET_NUMBERS = (
    "DOUBLE",
    "FLOAT",
    "BIGINT",
    "INTEGER",
    "SMALLINT",
    "TINYINT",
    "UBIGINT",
    "UINTEGER",
    "HUGEINT",
    "DECIMAL",
)


def normalise_query(
    fmt: str,
    path: str,
    columns: dict[str, str],
    layout: LogLayout,
    *,
    keep_source: bool = False,
    compression: str = "auto",
    lines_view: str | None = None,
    arrow_rows: bool = False,
) -> tuple[str, dict[str, object]]:
    """The SQL (and its parameters) that reads one file into typed rows with a `_reason` column.

    With `keep_source` the rows carry `_src` (the source row) instead of `_raw`, for a caller that adds reasons
    of its own and then applies `with_raw` to its final query. With `lines_view` (NDJSON only) the lines are
    read from that registered relation of (`_row`, `_line`) instead of the file: the lines of a batch that
    `sources.typed_lines` could not vouch for, read here the one way that gives every reason. With `arrow_rows`
    (Parquet only) the rows are read from the file as `sources.parquet_rows` registers it, not by DuckDB's
    reader: the same columns, on every core for a file of one row group.
    """
    n = _Normaliser(fmt, path, columns, layout)
    n.add_id()
    n.add_timestamp()
    n.add_model_version()
    n.add_outputs()
    add_probabilities(n)
    n.add_segments_and_extras()
    n.add_features_field()
    n.add_numeric_features()
    n.add_categorical_features()
    sql = n.select(compression, lines_view, arrow_rows)
    if lines_view is not None or arrow_rows:
        n.q.params.pop(
            "path"
        )  # the rows come from the view, not the file (DuckDB refuses an unused parameter)
    return (sql if keep_source else with_raw(sql, fmt)), n.q.params


class _Normaliser:
    """The parts of the normalising query, filled in named steps (one per kind of field) by `normalise_query`.

    Stage 1 reads texts and natives from the source row; stage 2 the numbers read from those texts
    (docs/values.md); stage 3 a numeric column's value from its number: each a projection over the one before,
    reading its columns as plain columns (one computation each per row). `out` is the final select list and
    `reasons` the CASE expressions whose non-NULL values make up `_reason`.
    """

    def __init__(self, fmt: str, path: str, columns: dict[str, str], layout: LogLayout) -> None:
        self.fmt = fmt
        self.columns = columns
        self.layout = layout
        self.q = _Query(fmt, path, columns)
        self.stage1: list[str] = []
        self.stage2: list[str] = []
        self.stage3: list[str] = []
        self.out: list[str] = ["_row", SOURCE_ROW]
        self.reasons: list[str] = []
        # The features' JSON/struct field as a JSON path ('' when features are plain columns).
        self.features_path = json_path(layout.features_json) if layout.features_json is not None else ""
        self.features_text = ""  # Parquet/CSV: the features field as JSON text (`add_features_field`)
        # Parquet/CSV features field: the struct each row's object is parsed into at once (`typed_features`).
        self.feature_types: dict[str, str] = {}

    # --- the value kinds --------------------------------------------------------------------------------------

    def finite(self, label: str, alias: str) -> None:
        # NaN is missing; ±inf (and a literal beyond a double, read as ±inf) is refused with its row: stored,
        # it would break every later mean, bin edge and score (docs/values.md).
        self.out.append(
            f"CASE WHEN isnan({alias}_v) OR isinf({alias}_v) THEN NULL ELSE {alias}_v END AS {alias}"
        )
        self.reasons.append(
            f"CASE WHEN isinf({alias}_v) THEN {_sql_text(label)} || ': ' || "
            f"coalesce('''' || left({alias}_t, 60) || '''', CAST({alias}_v AS VARCHAR)) || "
            "' is not a finite number' END"
        )

    def category(self, alias: str, expr_text: str) -> None:
        # A category's text and the number it holds (if any): `category_sql` gives its identity from both.
        self.stage1.append(f"{expr_text} AS {alias}_t")
        self.stage2.append(f"{category_number_sql(alias + '_t')} AS {alias}_n")

    def numeric(self, expr_text: str, label: str, alias: str, typed: str | None = None) -> None:
        """A number read from its text; `typed`: its value from the typed parse, taken on rows it vouches for
        (`_fok`, whose texts are then NULL)."""
        self.stage1.append(f"{expr_text} AS {alias}_t")
        self.stage2.append(f"{number_sql(alias + '_t')} AS {alias}_n")
        value = numeric_sql(alias + "_t", alias + "_n")
        if typed is not None:
            value = f"CASE WHEN _fok THEN {typed} ELSE {value} END"
        self.stage3.append(f"{value} AS {alias}_v")
        self.finite(label, alias)
        self.reasons.append(
            f"CASE WHEN {alias}_t IS NOT NULL AND trim({alias}_t) <> '' AND {alias}_v IS NULL THEN "
            f"{_sql_text(label)} || ': ''' || left({alias}_t, 60) || ''' is not a number' END"
        )

    def numeric_field(self, name: str, label: str, alias: str) -> None:
        """A numeric source field: a Parquet number as it is, anything else read from its text."""
        self.q.require(name, label)
        if self.fmt == "parquet" and self.columns[name].upper() in _PARQUET_NUMBERS:
            self.stage1.append(f"CAST({quote_identifier(name)} AS DOUBLE) AS {alias}_v")
            self.stage1.append(f"NULL::VARCHAR AS {alias}_t")
            self.finite(label, alias)
        else:
            self.numeric(self.q.text(name), label, alias)

    def rename_last(self, alias: str, name: str) -> None:
        """The last output column, `... AS alias`, renamed to `name`."""
        self.out[-1] = self.out[-1].replace(f" AS {alias}", f" AS {name}")

    # --- the fields, in output order --------------------------------------------------------------------------

    def add_id(self) -> None:
        if self.layout.id is None:
            return
        self.q.require(self.layout.id, "request id")
        self.stage1.append(f"{self.q.text(self.layout.id)} AS _id")
        self.out.append("_id AS request_id")
        self.reasons.append("CASE WHEN _id IS NULL OR trim(_id) = '' THEN 'missing request_id' END")

    def add_timestamp(self) -> None:
        name = self.layout.timestamp
        if name is None:
            return
        self.q.require(name, "timestamp")
        col_type = self.columns.get(name, "VARCHAR").upper()
        if self.fmt != "ndjson" and col_type in _TIME_TYPES:
            self.stage1.append(f"CAST({quote_identifier(name)} AS TIMESTAMPTZ)::TIMESTAMP AS _ts")
            self.stage1.append("NULL::VARCHAR AS _ts_text")
        else:
            # A time as text (ISO 8601), or a Unix epoch as a number or numeric text (docs/values.md).
            self.stage1.append(f"{self.q.text(name)} AS _ts_text")
            self.stage1.append("TRY_CAST(_ts_text AS TIMESTAMPTZ)::TIMESTAMP AS _ts_iso")
            # Only a text that is no ISO time is read as a number (a failing cast costs ~70 ns a row).
            self.stage2.append(
                f"CASE WHEN _ts_iso IS NOT NULL THEN _ts_iso ELSE {epoch_sql(number_sql('_ts_text'))} END AS _ts"
            )
        self.out.append("_ts AS ts")
        # Outside the accepted range (a year 1 or 9999 sentinel: `driftwatch.timestamps`), a row would make a
        # window thousands of years from the others: refused here, where files and pushes alike pass.
        earliest, latest = self.q.bind(timestamps.EARLIEST), self.q.bind(timestamps.LATEST)
        self.reasons.append(
            "CASE WHEN _ts IS NULL AND _ts_text IS NULL THEN 'missing timestamp' "
            "WHEN _ts IS NULL THEN 'unparseable timestamp ''' || left(_ts_text, 60) || '''' "
            f"WHEN _ts < {earliest} OR _ts >= {latest} THEN 'timestamp ' || strftime(_ts, '%Y-%m-%dT%H:%M:%S') "
            f"|| {_sql_text(' UTC is outside the accepted range of times (' + timestamps.RANGE_TEXT + ')')} END"
        )

    def add_model_version(self) -> None:
        if self.layout.model_version is not None:
            self.q.require(self.layout.model_version, "model version")
            self.out.append(
                f"coalesce({self.q.text(self.layout.model_version)}, '{NO_SEGMENT_VALUE}') AS model_version"
            )
        else:
            self.out.append(f"'{NO_VERSION}' AS model_version")

    def add_outputs(self) -> None:
        """The model's score (`prediction`) and decision (`output`)."""
        if self.layout.prediction is not None:
            self.numeric_field(self.layout.prediction, "prediction", "_pred")
            self.rename_last("_pred", "prediction")
        if self.layout.output is not None:
            self.q.require(self.layout.output, "output")
            self.category("_out", self.q.text(self.layout.output))
            self.out.append(f"{category_sql('_out_t', '_out_n')} AS output")

    def add_segments_and_extras(self) -> None:
        for i, seg in enumerate(self.layout.segments):
            self.q.require(seg, "segment")
            self.category(f"_seg{i}", self.q.text(seg))
            value = category_sql(f"_seg{i}_t", f"_seg{i}_n")
            self.out.append(f"coalesce({value}, '{NO_SEGMENT_VALUE}') AS {segment_column(seg)}")
        for i, (name, source) in enumerate(self.layout.extra_numeric.items()):
            self.numeric_field(source, name, f"_x{i}")
            self.rename_last(f"_x{i}", quote_identifier(name))

    def add_features_field(self) -> None:
        """Features from a JSON/struct field: whether each row's field is an object (else the row is refused)."""
        field_name = self.layout.features_json
        if field_name is None:
            return
        self.q.require(field_name, "features")
        if self.fmt == "ndjson":
            # Read straight from the line: the field's JSON type is its `json_type`, and a feature is the path
            # field.feature, taken only when the field is an object. Same values as extracting the field as JSON
            # text and reading that again (below), without building and re-parsing that text for every row.
            self.stage1.append(f"{self.q.doc_type(self.features_path)} AS _fj_type")
            self.reasons.append(
                f"CASE WHEN _fj_type IS NULL THEN {_sql_text(field_name + ' is missing')} "
                f"WHEN _fj_type <> 'OBJECT' THEN {_sql_text(field_name + ' is not a JSON object')} END"
            )
            return
        # `_fj_text`, `_fj` (the text when it is an object) and the features read from it (`_fv`, `_ft`) are
        # computed in projections of their own below stage 1 (`select`), each once per row.
        self.features_text = self.q.json_object(field_name)
        self.reasons.append(
            f"CASE WHEN _fok THEN NULL WHEN _fj_text IS NULL THEN {_sql_text(field_name + ' is missing')} "
            f"WHEN _fj IS NULL THEN {_sql_text(field_name + ' is not a JSON object')} END"
        )

    def feature_text(self, name: str) -> str:
        """A feature's value as text: from the features field, or from its own column."""
        if self.layout.features_json is not None and self.fmt == "ndjson":
            path = self.features_path + json_path(name)[1:]
            return f"CASE WHEN _fj_type = 'OBJECT' THEN {self.q.doc_text(path)} END"
        if self.layout.features_json is not None:
            typed = self.typed_feature(name, "VARCHAR")
            return f"CASE WHEN _fok THEN {typed} ELSE {self.q.object_text(json_path(name))} END"
        self.q.require(name, "feature")
        return self.q.text(name)

    def add_numeric_features(self) -> None:
        for i, name in enumerate(self.layout.numeric):
            alias = f"_n{i}"
            if self.layout.features_json is None:
                self.numeric_field(name, f"feature {name!r}", alias)
            elif self.fmt != "ndjson":
                text = self.q.object_text(json_path(name))
                self.numeric(text, f"feature {name!r}", alias, typed=self.typed_feature(name, "DOUBLE"))
            else:
                self.numeric(self.feature_text(name), f"feature {name!r}", alias)
            self.rename_last(alias, feature_column(name))

    def add_categorical_features(self) -> None:
        for i, name in enumerate(self.layout.categorical):
            alias = f"_c{i}"
            if self.layout.features_json is not None:
                self.add_nested_category(name, alias)
            else:
                self.category(alias, self.feature_text(name))
                self.out.append(f"{category_sql(alias + '_t', alias + '_n')} AS {feature_column(name)}")

    def typed_feature(self, name: str, kind: str) -> str:
        """The feature `name` of the typed parse `_ff` of a Parquet/CSV features field, read as `kind`."""
        if self.feature_types.setdefault(name, kind) != kind:
            self.feature_types[name] = ""  # read as a number and as a category: no typed parse
        return f"_ff.{quote_identifier(name)}"

    def typed_features(self) -> tuple[str, str]:
        """`_ff`, each row's features object parsed once into a struct (numbers DOUBLE, categories VARCHAR), and
        `_fok`: whether that parse vouches for the row's features, which are then read from it and not from
        their texts (the same rules and reasons as an NDJSON line's typed parse, `sources.typed_lines`: the
        object parsed, every feature present once, numbers finite or null, no category starting with `{` or
        `[`). Otherwise (`_fok` false) the features are read as before, from the object's texts. No typed parse
        when two features' names differ only in case (a struct's fields ignore it)."""
        names = list(self.feature_types)
        if len({n.lower() for n in names}) < len(names) or "" in self.feature_types.values():
            return "NULL AS _ff", "false AS _fok"
        shape = self.q.bind(json.dumps(self.feature_types))
        checks = ["_ff IS NOT NULL"]
        for name, kind in self.feature_types.items():
            value = f"_ff.{quote_identifier(name)}"
            if kind == "DOUBLE":
                checks.append(f"({value} IS NULL OR isfinite({value}))")
            else:
                checks.append(f"NOT coalesce(left({value}, 1) IN ('{{', '['), false)")
        ok = f"coalesce({' AND '.join(checks)}, false) AS _fok"
        return f"try(from_json_strict(_fj_text, {shape})) AS _ff", ok

    def add_nested_category(self, name: str, alias: str) -> None:
        """A categorical feature of the features field: a nested object or array there is refused."""
        if self.fmt == "ndjson":
            kind = self.q.doc_type(self.features_path + json_path(name)[1:])
            self.stage1.append(f"CASE WHEN _fj_type = 'OBJECT' THEN {kind} END AS {alias}_type")
        else:
            self.stage1.append(f"{self.q.object_type(json_path(name))} AS {alias}_type")
        self.category(alias, self.feature_text(name))
        self.reasons.append(
            f"CASE WHEN {alias}_type IN ('OBJECT', 'ARRAY') THEN "
            f"{_sql_text(f'feature {name!r} is a nested value, expected a category')} END"
        )
        self.out.append(
            f"CASE WHEN {alias}_type IN ('OBJECT', 'ARRAY') THEN NULL "
            f"ELSE {category_sql(alias + '_t', alias + '_n')} END AS {feature_column(name)}"
        )

    # --- the query ----------------------------------------------------------------------------------------

    def select(self, compression: str, lines_view: str | None = None, arrow_rows: bool = False) -> str:
        """The whole query: the output columns and `_reason` over the stages over the source rows."""
        reasons = self.reasons
        reason = "nullif(concat_ws('; ', " + ", ".join(reasons) + "), '')" if reasons else "NULL::VARCHAR"
        if self.fmt == "ndjson":
            # A line that is not JSON has no fields; listing each as missing would only bury the real reason.
            reason = f"CASE WHEN _doc IS NULL THEN 'malformed JSON line' ELSE {reason} END"
            line = NDJSON_LINE
            doc = f"CASE WHEN json_valid({line}) AND json_type({line}) = 'OBJECT' THEN {line} END"
            # `_jv`/`_jt` in a projection of their own, so each is computed once per row and then only indexed.
            lines = source_sql(self.fmt, compression) if lines_view is None else lines_sql(lines_view)
            src = f"SELECT *{self.q.doc_fields()} FROM (SELECT _row, {SOURCE_ROW}, {doc} AS _doc FROM ({lines}))"
        elif arrow_rows:
            src = self.features_source(arrow_source_sql(self.columns, SOURCE_ROW))
        else:
            src = self.features_source(source_sql(self.fmt, compression, self.columns))
        # Stage 1 expressions may refer to earlier aliases (DuckDB resolves lateral column aliases).
        layers = _layers(src, self.stage1, self.stage2, self.stage3)
        return f"SELECT {', '.join(self.out)}, {reason} AS _reason FROM {layers}"

    def features_source(self, src: str) -> str:
        """`src` with the features field's `_fj_text`, `_fj` and `_fv`/`_ft` (one list-path call each), when the
        features sit in a JSON/struct field of a Parquet or CSV file (or a database source's rows).

        Why: per-feature `json_extract_string(_fj, path)` and `json_type(_fj, path)` parse the object again for
        every feature; with 8 features that was 13 parses of each row's object (`json_valid`, `json_type`, the
        cast to JSON, 10 per-feature calls), now 2 (docs/benchmarks.md, "The store cost of ingest"). The
        list-path form gives the same values element for element.
        """
        if not self.features_text:
            return src
        # Two parses of each row's object: its own type and the categories' types in one `json_type` (`_ft`),
        # then every feature's text in one `json_extract_string` (`_fv`) of the rows that hold an object.
        # First the typed parse (`typed_features`): the rows it vouches for skip the two parses below, which
        # give NULL for them (`_ft` is NULL, so `_fj` and `_fv` are).
        parsed, ok = self.typed_features()
        types = f"CASE WHEN NOT _fok THEN {self.q.object_types().removesuffix(' AS _ft')} END AS _ft"
        fj = f"CASE WHEN _ft[{self.q.object_type_paths['$']}] = 'OBJECT' THEN _fj_text END"
        return (
            f"SELECT *{self.q.object_texts()} FROM (SELECT *, {fj} AS _fj FROM "
            f"(SELECT *, {types} FROM (SELECT *, {ok} FROM (SELECT *, {parsed} FROM "
            f"(SELECT *, {self.features_text} AS _fj_text FROM ({src}))))))"
        )


def lines_sql(view: str) -> str:
    """NDJSON lines from a registered relation of (`_row`, `_line`), shaped as `source_sql('ndjson')` gives
    them; `view` is a fixed name chosen by the caller (`sources.typed_lines`), never a user's text."""
    return f"SELECT _row, {NDJSON_LINE} AS {SOURCE_ROW}, {NDJSON_LINE} FROM {quote_identifier(view)}"


def _layers(src: str, *stages: list[str]) -> str:
    """`(SELECT *, <stage> FROM ...)` around `src` for each non-empty stage, innermost first."""
    sql = f"({src})"
    for stage in stages:
        if stage:
            sql = f"(SELECT *, {', '.join(stage)} FROM {sql})"
    return sql


def feature_object_query(
    fmt: str, path: str, columns: dict[str, str], features_json: str, compression: str = "auto"
) -> tuple[str, dict[str, object]]:
    """SQL yielding `_fj` (JSON, NULL when not an object) per row: for sampling keys when inferring features."""
    q = _Query(fmt, path, columns)
    q.require(features_json, "features")
    if fmt == "ndjson":
        line = NDJSON_LINE
        src = (
            f"SELECT CASE WHEN json_valid({line}) AND json_type({line}) = 'OBJECT' THEN {line} END AS _doc "
            f"FROM ({source_sql(fmt, compression)})"
        )
    else:
        src = source_sql(fmt, compression)
    text = q.json_object(features_json)
    sql = (
        f"SELECT CASE WHEN json_valid(_t) AND json_type(_t) = 'OBJECT' THEN _t::JSON END AS _fj "
        f"FROM (SELECT {text} AS _t FROM ({src}))"
    )
    return sql, q.params
