"""A reference file's rows, read for the reference profile and the performance baseline.

The reference is read through the same normalising query as the logs (`sources.logs.normalise_query`), so its
values are typed and refused exactly like a log row's. For the profile the normalised rows go to a temp table of
the connection (`load_reference_rows`), are read back column by column, and the table is dropped
(`drop_reference_rows`); the performance baseline reads its truth and score in one query instead
(`reference_truth_and_score`).
"""

from __future__ import annotations

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from driftwatch.sources.columns import sample_sql
from driftwatch.sources.files import Readable
from driftwatch.sources.logs import LogLayout, normalise_query
from driftwatch.storage.database import first_row
from driftwatch.storage.schema import OUTPUT_COLUMN, PREDICTION_COLUMN, feature_column, quote_identifier

REFERENCE_TABLE = "_reference_rows"
_GOOD_ROWS = f"FROM {REFERENCE_TABLE} WHERE _reason IS NULL"


def column_sample(
    readable: Readable,
) -> tuple[str, dict[str, object], dict[str, tuple[str, str | None]]]:
    """The relation sampling a plain-columns reference, its parameters, and each column's expression with its
    storage type (Parquet only: CSV values are text to the rules), for `sources.columns.duckdb_column_facts`."""
    fmt = readable.fmt
    exprs = {
        name: (quote_identifier(name), sql_type if fmt == "parquet" else None)
        for name, sql_type in readable.columns.items()
    }
    return sample_sql(fmt, readable.compression), {"path": readable.path}, exprs


def load_reference_rows(
    cur: duckdb.DuckDBPyConnection, readable: Readable, layout: LogLayout, max_rows: int | None
) -> int:
    """The reference's normalised rows into the temp table (a repeatable reservoir sample of ``max_rows`` when
    set); returns the rows its reader refused."""
    sql, params = normalise_query(
        readable.fmt, readable.path, readable.columns, layout, compression=readable.compression
    )
    sample = f" USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE (42)" if max_rows else ""
    cur.execute(f"CREATE OR REPLACE TEMP TABLE {REFERENCE_TABLE} AS SELECT * FROM ({sql}){sample}", params)
    return len(readable.rejected)


def drop_reference_rows(cur: duckdb.DuckDBPyConnection) -> None:
    cur.execute(f"DROP TABLE IF EXISTS {REFERENCE_TABLE}")


def rejected_reference_rows(cur: duckdb.DuckDBPyConnection) -> int:
    """Loaded rows the normaliser refused (their `_reason` is set)."""
    row = first_row(cur.execute(f"SELECT count(*) FILTER (WHERE _reason IS NOT NULL) FROM {REFERENCE_TABLE}"))
    return int(row[0]) if row else 0


def reference_numeric_arrays(
    cur: duckdb.DuckDBPyConnection, features: tuple[str, ...]
) -> dict[str, npt.NDArray[np.float64]]:
    """The good rows' numeric feature columns as float64 arrays (missing = NaN), in one read."""
    if not features:
        return {}
    cols = ", ".join(f"coalesce({feature_column(n)}, 'NaN'::DOUBLE) AS {feature_column(n)}" for n in features)
    arrays = cur.execute(f"SELECT {cols} {_GOOD_ROWS}").fetchnumpy()
    return {n: np.asarray(arrays[f"f:{n}"], dtype=np.float64) for n in features}


def reference_category_counts(cur: duckdb.DuckDBPyConnection, feature: str) -> dict[str | None, int]:
    """Value → count (None: missing) of a categorical feature over the good rows."""
    return _value_counts(cur, feature_column(feature))


def reference_scores(cur: duckdb.DuckDBPyConnection) -> npt.NDArray[np.float64]:
    """The good rows' model scores (missing = NaN)."""
    column = quote_identifier(PREDICTION_COLUMN)
    scores = cur.execute(f"SELECT coalesce({column}, 'NaN'::DOUBLE) AS p {_GOOD_ROWS}").fetchnumpy()["p"]
    return np.asarray(scores, dtype=np.float64)


def reference_output_counts(cur: duckdb.DuckDBPyConnection) -> dict[str | None, int]:
    """Value → count (None: missing) of the model's decision over the good rows."""
    return _value_counts(cur, quote_identifier(OUTPUT_COLUMN))


def _value_counts(cur: duckdb.DuckDBPyConnection, column: str) -> dict[str | None, int]:
    rows = cur.execute(f"SELECT {column}, count(*) {_GOOD_ROWS} GROUP BY {column}").fetchall()
    return {(None if v is None else str(v)): int(c) for v, c in rows}


def reference_truth_and_score(
    cur: duckdb.DuckDBPyConnection,
    readable: Readable,
    layout: LogLayout,
    truth_sql: str,
    score_sql: str,
    params: dict[str, object],
) -> pa.Table:
    """Columns `truth` and `score` of the reference's good rows, through Arrow.

    ``layout`` reads the target as the `output` column and the score as its one extra numeric column;
    ``truth_sql`` and ``score_sql`` are expressions over `label`, `label_value`, `prediction` and `output`
    (`storage.label_truth.truth_and_score_sql`), as for a window's labelled predictions.
    """
    ((score_name, _),) = layout.extra_numeric.items()
    sql, source_params = normalise_query(
        readable.fmt, readable.path, readable.columns, layout, compression=readable.compression
    )
    table: pa.Table = cur.sql(
        f"SELECT {truth_sql} AS truth, {score_sql} AS score FROM (SELECT output AS label, "
        f"TRY_CAST(output AS DOUBLE) AS label_value, {quote_identifier(score_name)} AS prediction, "
        f"NULL::VARCHAR AS output FROM ({sql}) WHERE _reason IS NULL)",
        params={**source_params, **params},
    ).to_arrow_table()
    return table


def reference_loss_rows(
    cur: duckdb.DuckDBPyConnection,
    readable: Readable,
    layout: LogLayout,
    max_rows: int,
) -> pa.Table:
    """For a regression loss model (`pipeline.loss_estimation`): the reference's good rows with a numeric target
    and score, as columns `truth`, `score` and `x0`, `x1`, ... (the layout's numeric features as DOUBLE, then
    its categorical ones as text), a repeatable sample of at most ``max_rows`` rows.

    ``layout`` reads the target as the `output` column and the score as its one extra numeric column.
    """
    ((score_name, _),) = layout.extra_numeric.items()
    sql, params = normalise_query(
        readable.fmt, readable.path, readable.columns, layout, compression=readable.compression
    )
    cols = [f"CAST({feature_column(n)} AS DOUBLE) AS x{i}" for i, n in enumerate(layout.numeric)]
    cols += [
        f"CAST({feature_column(n)} AS VARCHAR) AS x{len(layout.numeric) + i}"
        for i, n in enumerate(layout.categorical)
    ]
    table: pa.Table = cur.sql(
        f"SELECT * FROM (SELECT TRY_CAST(output AS DOUBLE) AS truth, {quote_identifier(score_name)} AS score"
        f"{''.join(', ' + c for c in cols)} FROM ({sql}) WHERE _reason IS NULL "
        f"AND TRY_CAST(output AS DOUBLE) IS NOT NULL AND {quote_identifier(score_name)} IS NOT NULL) "
        f"USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE (42)",
        params=params,
    ).to_arrow_table()
    return table
