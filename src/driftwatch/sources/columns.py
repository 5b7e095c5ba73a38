"""Which columns of a dataset are features, when nobody listed them: one rule for the pipeline and `compare`.

A column is a feature unless it is one of these (checked in this order; the first that applies is the reason
shown to the user):

- **named in the config** for another role (request id, timestamp, model version, prediction, output,
  segment, target, ...), or a field of the default log schema (`request_id`, `timestamp`, `model_version`,
  `input_features`, `raw_prediction`, `business_output`, `environment`);
- **a label or model output by name**: `label`, `labels`, `target`, `y`, `y_true`, `ground_truth`,
  `prediction`, `predictions`, `predicted`, `y_pred` (any case);
- **a timestamp**: a date or timestamp type, or text whose every non-empty value is an ISO 8601 date or
  timestamp (`TIMESTAMP_PATTERN`);
- **an identifier**: text or integer values, at least `IDENTIFIER_MIN_VALUES` (50) of them non-empty, with at
  least `IDENTIFIER_MIN_UNIQUE_SHARE` (99 %) distinct. An integer column must also look like one: named `id`,
  `uuid`, `guid` or `key`, or ending in `_id`/`-id`/`.id`/` id` or `Id`/`ID` (`customer_id`, `customerId`), or
  dense (max − min + 1 ≤ 2 × distinct values, like a row number) — so that a near-unique integer measurement
  (an income in whole euros) stays a feature;
- **of a type no statistic reads** (lists, structs, binary, durations).

The facts behind the rules come from the reference (sampled, see `duckdb_column_facts`); `compare` computes
the same facts from its frames. Only the rules live here, so both paths decide alike.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from driftwatch.errors import SourceError
from driftwatch.sources.formats import ROWS_FORMAT
from driftwatch.sources.values import json_path

if TYPE_CHECKING:
    import duckdb

IDENTIFIER_MIN_VALUES = 50
IDENTIFIER_MIN_UNIQUE_SHARE = 0.99
# ISO 8601 dates and date-times (T or space; seconds, fractions and an offset optional), also with slashes.
# [0-9] and " ", not \d and \s: DuckDB's RE2 and Python's re read those alike only for ASCII.
TIMESTAMP_PATTERN = (
    r"[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)? ?(Z|z|UTC|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)
INTEGER_PATTERN = r"[+-]?[0-9]+"
LOG_SCHEMA_FIELDS = (
    "request_id",
    "timestamp",
    "model_version",
    "input_features",
    "raw_prediction",
    "business_output",
    "environment",
)
LABEL_NAMES = ("label", "labels", "target", "y", "y_true", "ground_truth")
OUTPUT_NAMES = ("prediction", "predictions", "predicted", "y_pred")
SAMPLE_ROWS = 100_000
"""Rows of the reference the facts are taken from (its first rows): enough to tell an id from a category."""

_ID_NAME = re.compile(r"(?i:id|uuid|guid|key)|.*[_\-. ](?i:id|uuid|guid|key)|.*[a-z0-9](?:Id|ID)")

Kind = Literal["numeric", "categorical", "timestamp", "unsupported"]


@dataclass(frozen=True)
class ColumnFacts:
    """What the rules need to know about one column (of the reference, or a sample of it)."""

    name: str
    kind: Kind  # by type; text whose every value is a number is "numeric"
    type_name: str = ""  # the storage type, for the "unsupported type" reason
    integer: bool = False  # integer type, or text whose every non-empty value is a whole number
    boolean: bool = False
    non_null: int = 0  # non-missing (and, for text, non-empty) values
    distinct: int = 0  # distinct non-missing values
    minimum: float | None = None  # of an integer column, for the density test
    maximum: float | None = None
    timestamp_text: bool = False  # text with at least one value, every one an ISO 8601 date/timestamp


@dataclass(frozen=True)
class Exclusion:
    """A column left out of the features, and why (shown in the run summary and `compare`)."""

    name: str
    reason: str

    def __str__(self) -> str:
        return f"{self.name} ({self.reason})"


@dataclass(frozen=True)
class InferredFeatures:
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    excluded: tuple[Exclusion, ...]


def _percent(share: float) -> str:
    # Floored to 0.1, so 99.96 % unique is not shown as "100 %".
    value = math.floor(share * 1000) / 10
    return f"{value:g} %"


def identifier_share(facts: ColumnFacts) -> float | None:
    """The distinct share when the column counts as an identifier (see the module docstring), else None."""
    if facts.boolean or facts.non_null < IDENTIFIER_MIN_VALUES:
        return None
    if facts.kind == "numeric" and not facts.integer:
        return None
    if facts.kind not in ("numeric", "categorical"):
        return None
    share = facts.distinct / facts.non_null
    if share < IDENTIFIER_MIN_UNIQUE_SHARE:
        return None
    if facts.kind == "numeric" and not _ID_NAME.fullmatch(facts.name):
        dense = (
            facts.minimum is not None
            and facts.maximum is not None
            and facts.maximum - facts.minimum + 1 <= 2 * facts.distinct
        )
        if not dense:
            return None
    return share


def exclusion_reason(facts: ColumnFacts, reserved: Mapping[str, str]) -> str | None:
    """Why this column is not a feature, or None when it is one. `reserved`: column → the config key naming
    it for another role."""
    if facts.name in reserved:
        return f"configured as {reserved[facts.name]}"
    if facts.kind == "timestamp" or facts.timestamp_text:
        return "timestamp"
    share = identifier_share(facts)
    if share is not None:
        return f"identifier: {_percent(share)} unique"
    lowered = facts.name.lower()
    if facts.name in LOG_SCHEMA_FIELDS:
        return "log schema field"
    if lowered in LABEL_NAMES:
        return "label/target by name"
    if lowered in OUTPUT_NAMES:
        return "model output by name"
    if facts.kind == "unsupported":
        return f"unsupported type {facts.type_name}" if facts.type_name else "unsupported type"
    return None


def infer_features(
    facts: Sequence[ColumnFacts],
    reserved: Mapping[str, str],
    listed: Sequence[str] | None = None,
    listed_by: str = "the features",
) -> InferredFeatures:
    """Numeric and categorical features among `facts`, and the columns left out with their reason.

    With `listed` (the config's `predictions.features` list, `compare --features`), exactly those columns are
    the features, in that order, typed by their facts; every other column is "not in `listed_by`".
    """
    numeric: list[str] = []
    categorical: list[str] = []
    excluded: list[Exclusion] = []
    by_name = {f.name: f for f in facts}
    if listed is not None:
        for name in listed:
            (numeric if by_name[name].kind == "numeric" else categorical).append(name)
        chosen = set(listed)
        excluded = [Exclusion(f.name, f"not in {listed_by}") for f in facts if f.name not in chosen]
        return InferredFeatures(tuple(numeric), tuple(categorical), tuple(excluded))
    for f in facts:
        reason = exclusion_reason(f, reserved)
        if reason is not None:
            excluded.append(Exclusion(f.name, reason))
        elif f.kind == "numeric":
            numeric.append(f.name)
        else:
            categorical.append(f.name)
    return InferredFeatures(tuple(numeric), tuple(categorical), tuple(excluded))


def describe_exclusions(excluded: Sequence[Exclusion]) -> str:
    """ "id (identifier: 100 % unique), timestamp (timestamp)": the one-line form for summaries."""
    return ", ".join(str(e) for e in excluded)


# ---------------------------------------------------------------------------------------------------------
# Facts from a file, read by DuckDB (the pipeline's reference)
# ---------------------------------------------------------------------------------------------------------

_NUMERIC_TYPES = {
    "DOUBLE",
    "FLOAT",
    "REAL",
    "DECIMAL",
    "BIGINT",
    "INTEGER",
    "SMALLINT",
    "TINYINT",
    "HUGEINT",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
    "UHUGEINT",
}
_INTEGER_TYPES = _NUMERIC_TYPES - {"DOUBLE", "FLOAT", "REAL", "DECIMAL"}
_TEXT_TYPES = {"VARCHAR", "TEXT", "STRING", "BOOLEAN", "ENUM", "UUID", "JSON"}
_TIME_TYPES = {"DATE", "TIMESTAMP", "TIMESTAMPTZ", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S", "DATETIME"}


def _duckdb_type_kind(sql_type: str | None) -> tuple[str, bool]:
    """(kind, integer) of a DuckDB column type; None = text (CSV, NDJSON, JSON keys), to be looked at."""
    if sql_type is None:
        return "text", False
    base = sql_type.upper().split("(")[0].strip()
    if base.startswith("TIMESTAMP WITH TIME ZONE") or base in _TIME_TYPES:
        return "timestamp", False
    if base in _NUMERIC_TYPES:
        return "numeric", base in _INTEGER_TYPES
    if base in _TEXT_TYPES:
        return "categorical", False
    return "unsupported", False


def sample_sql(fmt: str, compression: str = "auto") -> str:
    """A SELECT over the file ($path) whose LIMIT stops the read early: plain columns (CSV as text), or for
    NDJSON one `_line` per line. Not `sources.files.source_sql`: its row numbers (a window over the whole
    file) make DuckDB read all of it before any LIMIT applies. `compression`: as `Readable.compression`."""
    # One of a fixed few words (`sources.files.source_sql` checks the same), never a user's text.
    codec = f", compression = '{compression}'" if compression in ("none", "gzip", "zstd") else ""
    if fmt == "parquet":
        return "SELECT * FROM read_parquet($path)"
    if fmt == "csv":
        # The quote settings of `sources.files.source_sql`, so both read the same header and fields.
        return f"SELECT * FROM read_csv($path, all_varchar = true, header = true, quote = '\"', escape = '\"'{codec})"
    if fmt == ROWS_FORMAT:
        # A CSV repaired line by line (`sources.repair`): the rows' fields are the struct `_src`.
        return "SELECT _src.* FROM read_parquet($path)"
    # The same line reader as `sources.files.source_sql`, without the row numbers.
    return (
        "SELECT line AS _line FROM read_csv($path, columns = {'line': 'VARCHAR'}, header = false, "
        f"delim = chr(30), quote = '', escape = '', auto_detect = false{codec}) "
        "WHERE line IS NOT NULL AND trim(line) <> ''"
    )


def _skipped(kind: str, integer: bool) -> bool:
    # Typed floats need no facts (never identifiers), nor do typed timestamps and unsupported types.
    return kind in ("timestamp", "unsupported") or (kind == "numeric" and not integer)


def duckdb_column_facts(
    cur: duckdb.DuckDBPyConnection,
    relation: str,
    params: Mapping[str, object],
    columns: Mapping[str, tuple[str, str | None]],
) -> list[ColumnFacts]:
    """Facts of `columns` (name → (SQL expression over `relation`, DuckDB type or None for text)), from the
    first `SAMPLE_ROWS` rows of `relation` (a SELECT; `params` bound). One scan for every column."""
    aggregates: list[str] = []
    plan: list[tuple[str, str, bool, str]] = []
    for i, (name, (_, sql_type)) in enumerate(columns.items()):
        kind, integer = _duckdb_type_kind(sql_type)
        plan.append((name, kind, integer, sql_type or "VARCHAR"))
        v = f"_c{i}"
        if _skipped(kind, integer):
            continue
        nonempty = f"({v} IS NOT NULL AND trim({v}) <> '')"
        aggregates += [
            f"count(*) FILTER (WHERE {nonempty})",
            f"count(DISTINCT {v}) FILTER (WHERE {nonempty})",
            f"count(*) FILTER (WHERE {nonempty} AND TRY_CAST({v} AS DOUBLE) IS NULL)",
            f"count(*) FILTER (WHERE {nonempty} AND NOT regexp_full_match(trim({v}), $_int))",
            f"count(*) FILTER (WHERE {nonempty} AND NOT regexp_full_match(trim({v}), $_ts))",
            f"min(TRY_CAST({v} AS DOUBLE))",
            f"max(TRY_CAST({v} AS DOUBLE))",
            f"count(*) FILTER (WHERE {nonempty} AND lower(trim({v})) NOT IN ('true', 'false'))",
        ]
    values: list[Any] = []  # one row of DuckDB aggregates: counts (int) and bounds (float or None)
    if aggregates:
        selected = ", ".join(
            f"CAST({expr} AS VARCHAR) AS _c{i}"
            for i, (expr, sql_type) in enumerate(columns.values())
            if not _skipped(*_duckdb_type_kind(sql_type))
        )
        sql = f"SELECT {', '.join(aggregates)} FROM (SELECT {selected} FROM ({relation}) LIMIT {SAMPLE_ROWS})"
        row = cur.execute(sql, {**params, "_int": INTEGER_PATTERN, "_ts": TIMESTAMP_PATTERN}).fetchone()
        values = list(row or ())
    facts: list[ColumnFacts] = []
    at = 0
    for name, kind, integer, type_name in plan:
        if _skipped(kind, integer):
            facts.append(ColumnFacts(name, kind, type_name))  # type: ignore[arg-type]
            continue
        non_null, distinct, non_numeric, non_integer, non_timestamp, low, high, non_boolean = values[
            at : at + 8
        ]
        at += 8
        if kind == "text":
            # CSV/NDJSON text: numeric when every non-empty value parses as a number (and there is one).
            kind = "numeric" if non_null and not non_numeric else "categorical"
            integer = bool(non_null) and not non_integer
        boolean = type_name.upper() == "BOOLEAN" or (
            kind == "categorical" and bool(non_null) and not non_boolean
        )
        facts.append(
            ColumnFacts(
                name=name,
                kind=kind,  # type: ignore[arg-type]
                type_name=type_name,
                integer=integer,
                boolean=boolean,
                non_null=int(non_null or 0),
                distinct=int(distinct or 0),
                minimum=None if low is None else float(low),
                maximum=None if high is None else float(high),
                timestamp_text=kind == "categorical" and bool(non_null) and not non_timestamp,
            )
        )
    return facts


def json_key_facts(
    cur: duckdb.DuckDBPyConnection,
    fmt: str,
    path: str,
    columns: dict[str, str],
    features: str,
    shown: str,
    compression: str = "auto",
) -> list[ColumnFacts]:
    """Facts of the keys of a JSON-object features column, from its first 10,000 rows: a key is numeric
    when every value it has there is a JSON number (or null)."""
    # Imported here: `sources.logs` imports DuckDB, which `compare` (a user of this module's rules) avoids.
    from driftwatch.sources.logs import feature_object_query

    if features not in columns and fmt != "ndjson":
        raise SourceError(shown, f"has no column {features!r} (reference.features)")
    sql, params = feature_object_query(fmt, path, columns, features, compression)
    sample = f"SELECT * FROM ({sql}) LIMIT 10000"
    rows = cur.execute(
        # An empty key has no JSON path (and no name a config could give it): kept out of the path here,
        # refused below with the reason.
        "SELECT k, bool_and(CASE WHEN k <> '' THEN json_type(_fj, '$.\"' || replace(k, '\"', '\\\"') || '\"') "
        "END IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'NULL')) "
        f"FROM (SELECT _fj, unnest(json_keys(_fj)) AS k FROM ({sample})) "
        "GROUP BY k ORDER BY k",
        params,
    ).fetchall()
    if any(key == "" for key, _ in rows):
        raise SourceError(
            shown,
            f'{features} holds an empty feature name (the key ""), which no config can name; '
            "rename that key, or list the features under `features:`",
        )
    numeric_keys = {str(key) for key, is_numeric in rows if is_numeric}
    exprs: dict[str, tuple[str, str | None]] = {}
    for i, (key, _) in enumerate(rows):
        params[f"_k{i}"] = json_path(str(key))
        exprs[str(key)] = (f"json_extract_string(_fj, $_k{i})", None)
    facts = duckdb_column_facts(cur, sample, params, exprs)
    return [
        dataclasses.replace(f, kind="numeric" if f.name in numeric_keys else "categorical") for f in facts
    ]


def ndjson_columns(
    cur: duckdb.DuckDBPyConnection, path: str, compression: str = "auto"
) -> tuple[str, dict[str, object], dict[str, tuple[str, str | None]]]:
    """The top-level keys of an NDJSON file (from its first `SAMPLE_ROWS` lines), each as a text expression."""
    relation = (
        f"SELECT CASE WHEN json_valid(_line) AND json_type(_line) = 'OBJECT' "
        f"THEN _line::JSON END AS _doc FROM ({sample_sql('ndjson', compression)} LIMIT {SAMPLE_ROWS})"
    )
    params: dict[str, object] = {"path": path}
    keys = cur.execute(
        # In order of first appearance, as the file lists them (and compare shows them).
        "SELECT k FROM (SELECT row_number() OVER () AS n, k FROM "
        f"(SELECT unnest(json_keys(_doc)) AS k FROM ({relation}))) GROUP BY k ORDER BY min(n)",
        params,
    ).fetchall()
    exprs: dict[str, tuple[str, str | None]] = {}
    for i, (key,) in enumerate(keys):
        params[f"_k{i}"] = json_path(str(key))
        exprs[str(key)] = (f"json_extract_string(_doc, $_k{i})", None)
    return relation, params, exprs
