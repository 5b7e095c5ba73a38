"""Prediction logs and labels in an SQL database (PostgreSQL; any ADBC or DB-API driver by configuration),
pulled incrementally by a watermark; a reference read whole (`read_all`, `read_scalar` for its version).

The watermark is the last pulled row's (timestamp, request id): a pull asks for the rows after it, ordered by
both, at most `batch_rows` at a time (capped by the caller so that one pull is one ingest slice). Rows written late, with a timestamp up to `lookback` before the
watermark, are asked for again in each cycle's look-back pull; those already stored are skipped by request id
and the new ones queue their window for recomputation like any new row. The caller stores each pulled batch and
its new watermark in one DuckDB transaction (`pipeline.database_sources`), so a crash between pull and commit
pulls the same rows again: never skipped, never doubled.

The id keeps its type (an integer id is compared as an integer, not as text), and rows whose timestamp is NULL
are never pulled (they cannot be placed behind or after a watermark): `count_missing_timestamps` counts them for
the run's warning. Sessions run in UTC (PostgreSQL, DuckDB), so a naive TIMESTAMP column is compared with the
watermark as UTC whatever the process's or server's time zone.

Drivers (`driver:` in the config): ADBC drivers, which return Arrow directly, are preferred. Measured on 1M rows
of the default log schema (docs/benchmarks.md, "Sources"), the ADBC PostgreSQL driver fetched to Arrow in 4.5 s,
psycopg 3 (binary protocol) took 25 s through Python rows and 5.3 s just to COPY the CSV text out, so
`postgresql` uses ADBC. `sqlite`, `snowflake`, `bigquery`, `flightsql` map to the `adbc_driver_<name>` package;
`duckdb` uses DuckDB's own Python client on a DuckDB file; any other value is a Python module with a DB-API 2
`connect(uri)` (its cursor's `fetch_arrow_table()` is used when it has one, else `fetchall()`).

Secrets: the `uri` may hold `${NAME}` references, filled from the environment when connecting. Messages name
the source by driver and table, never by the URI (which may hold a password).
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from driftwatch.config.sources import DatabaseSourceOptions
from driftwatch.errors import SourceError, first_line

ADBC_DRIVERS = {
    "postgresql": "adbc_driver_postgresql.dbapi",
    "sqlite": "adbc_driver_sqlite.dbapi",
    "snowflake": "adbc_driver_snowflake.dbapi",
    "bigquery": "adbc_driver_bigquery.dbapi",
    "flightsql": "adbc_driver_flightsql.dbapi",
}
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Watermark:
    """The last stored row's (timestamp, request id); rows after it are new."""

    ts: datetime  # naive UTC
    id: str | int  # the id column's own type: an integer id is bound as an integer


def source_label(options: DatabaseSourceOptions) -> str:
    """How the source is named in messages, `ingested_files` and quarantine: driver and table, no URI."""
    return f"{options.driver}:{options.table or 'query'}"


def expand_uri(uri: str, env: dict[str, str] | None = None) -> str:
    """`${NAME}` → the environment variable's value; SourceError naming a missing variable (never a value)."""
    env = dict(os.environ) if env is None else env

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in env:
            raise SourceError("(database uri)", f"the environment variable {name} is not set")
        return env[name]

    return _ENV_REF.sub(value, uri)


def connect(options: DatabaseSourceOptions) -> Any:
    """A DB-API connection for the configured driver; SourceError when the driver or server is missing."""
    label = source_label(options)
    uri = expand_uri(options.uri)
    module_name = ADBC_DRIVERS.get(options.driver, options.driver)
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise SourceError(
            label, f"driver {options.driver!r} is not installed (python module {module_name})"
        ) from None
    try:
        if options.driver == "duckdb":
            conn = module.connect(uri, read_only=True)
        else:
            conn = module.connect(uri)
        _session_in_utc(options.driver, conn)
        return conn
    except Exception as exc:  # every driver has its own error classes
        raise SourceError(label, f"cannot connect: {_scrub(first_line(exc), uri)}") from None


def _session_in_utc(driver: str, conn: Any) -> None:
    """Why: comparing a naive TIMESTAMP column with the (aware, UTC) watermark converts through the session's
    time zone; left at the process's (DuckDB) or the server's (PostgreSQL), e.g. Europe/Paris, rows were skipped.
    DuckDB: GLOBAL, because each of its cursors is a session of its own."""
    statement = {"postgresql": "SET TIME ZONE 'UTC'", "duckdb": "SET GLOBAL TimeZone = 'UTC'"}.get(driver)
    if statement is None:
        return
    cur = conn.cursor()
    try:
        cur.execute(statement)
    finally:
        cur.close()


def quote(name: str) -> str:
    """An SQL identifier, quoted (standard double quotes); a dotted name is schema.table."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _placeholders(driver: str, module: Any, n: int) -> list[str]:
    if driver == "postgresql":
        return [f"${i}" for i in range(1, n + 1)]
    style = (
        getattr(module, "paramstyle", "qmark")
        if driver not in ADBC_DRIVERS and driver != "duckdb"
        else "qmark"
    )
    if style == "format" or style == "pyformat":
        return ["%s"] * n
    if style == "numeric":
        return [f":{i}" for i in range(1, n + 1)]
    if style == "named":
        return [f":p{i}" for i in range(1, n + 1)]
    return ["?"] * n


def pull_sql(
    options: DatabaseSourceOptions, ts_col: str, id_col: str, marks: list[str], late: bool, limit: int = 0
) -> str:
    """The pull query. New rows: after the watermark (ts, id), ordered, at most `batch_rows`. Late rows
    (`late`): from `lookback` before the watermark up to it. Values are bound; identifiers are quoted."""
    base = _base_sql(options)
    ts, rid = quote(ts_col), quote(id_col)
    if late:
        # marks: since, wm_ts, wm_ts, wm_id
        where = f"{ts} >= {marks[0]} AND ({ts} < {marks[1]} OR ({ts} = {marks[2]} AND {rid} <= {marks[3]}))"
        return f"SELECT * FROM ({base}) AS dw_rows WHERE {where}"
    # marks: wm_ts, wm_ts, wm_id — or none for the first pull. NULL timestamps are left out explicitly: they
    # sort last in PostgreSQL (the batch's last row would have no watermark) and never compare after one.
    after = f" AND ({ts} > {marks[0]} OR ({ts} = {marks[1]} AND {rid} > {marks[2]}))" if marks else ""
    where = f" WHERE {ts} IS NOT NULL{after}"
    return f"SELECT * FROM ({base}) AS dw_rows{where} ORDER BY {ts}, {rid} LIMIT {int(limit or options.batch_rows)}"


def _base_sql(options: DatabaseSourceOptions) -> str:
    if options.table:
        return f"SELECT * FROM {quote(options.table)}"
    return f"SELECT * FROM ({options.query}) AS dw_src"


def id_is_integer(conn: Any, options: DatabaseSourceOptions, id_col: str) -> bool:
    """Whether the id column has an integer type (read from a query that returns no row)."""
    cur = conn.cursor()
    try:
        cur.execute(f"SELECT {quote(id_col)} FROM ({_base_sql(options)}) AS dw_rows LIMIT 0")
        table = _fetch(cur)
    except Exception as exc:
        raise SourceError(
            source_label(options), f"cannot read the id column's type: {first_line(exc)}"
        ) from None
    finally:
        cur.close()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    return bool(table.num_columns) and pa.types.is_integer(table.schema.field(0).type)


def count_missing_timestamps(conn: Any, options: DatabaseSourceOptions, ts_col: str) -> int:
    """How many rows of the source have a NULL timestamp: they are never pulled, so the run warns about them."""
    sql = f"SELECT count(*) FROM ({_base_sql(options)}) AS dw_rows WHERE {quote(ts_col)} IS NULL"
    cur = conn.cursor()
    try:
        cur.execute(sql)
        row = cur.fetchone()
    except Exception as exc:
        raise SourceError(
            source_label(options), f"cannot count rows without a timestamp: {first_line(exc)}"
        ) from None
    finally:
        cur.close()
    return int(row[0]) if row else 0


def pull(
    conn: Any,
    options: DatabaseSourceOptions,
    ts_col: str,
    id_col: str,
    after: Watermark | None,
    late: bool = False,
    limit: int = 0,
) -> pa.Table:
    """One pull as an Arrow table: the next batch after `after` (at most `limit` rows, default `batch_rows`),
    or (`late`) the look-back rows before it."""
    module = importlib.import_module(type(conn).__module__.split(".")[0])
    if late:
        assert after is not None
        params: list[Any] = [after.ts - options.lookback, after.ts, after.ts, after.id]
    else:
        params = [] if after is None else [after.ts, after.ts, after.id]
    sql = pull_sql(options, ts_col, id_col, _placeholders(options.driver, module, len(params)), late, limit)
    params = [_bindable(p) for p in params]
    cur = conn.cursor()
    try:
        cur.execute(sql, params) if params else cur.execute(sql)
        table = _fetch(cur)
    except Exception as exc:
        raise SourceError(source_label(options), f"cannot pull: {first_line(exc)}") from None
    finally:
        cur.close()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    return _checked(table, options, ts_col, id_col)


def read_all(conn: Any, options: DatabaseSourceOptions) -> pa.Table:
    """The whole table or query as Arrow (a reference: read once per change, no watermark)."""
    cur = conn.cursor()
    try:
        cur.execute(_base_sql(options))
        table = _fetch(cur)
    except Exception as exc:
        raise SourceError(source_label(options), f"cannot read: {first_line(exc)}") from None
    finally:
        cur.close()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    # JSON extension types (PostgreSQL json/jsonb) as their text, as in a pull.
    for i, field in enumerate(table.schema):
        if isinstance(field.type, pa.ExtensionType):
            table = table.set_column(i, field.name, table.column(i).cast(field.type.storage_type))
    return table


def read_scalar(conn: Any, options: DatabaseSourceOptions, sql: str) -> object:
    """The first value of `sql`'s first row (a reference's `version` query), None when it returns no row."""
    cur = conn.cursor()
    try:
        cur.execute(sql)
        row = cur.fetchone()
    except Exception as exc:
        raise SourceError(source_label(options), f"cannot read the version: {first_line(exc)}") from None
    finally:
        cur.close()
    return None if row is None else row[0]


def _fetch(cur: Any) -> pa.Table | pa.RecordBatchReader:
    """The result as Arrow; for a plain DB-API cursor built from its rows, with the columns named by
    `cursor.description` (an idle pull has no rows, but still has its columns)."""
    if hasattr(cur, "fetch_arrow_table"):
        return cur.fetch_arrow_table()
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    if not rows:
        return pa.table({n: pa.array([], pa.null()) for n in names})
    return pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in rows])


def _bindable(value: Any) -> Any:
    """Watermarks are stored naive UTC; drivers bind an aware datetime as timestamptz unambiguously."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _checked(table: pa.Table, options: DatabaseSourceOptions, ts_col: str, id_col: str) -> pa.Table:
    """The pulled table, after checking what incremental pulling needs (a clear failure otherwise)."""
    label = source_label(options)
    for col in (ts_col, id_col):
        if col not in table.column_names:
            raise SourceError(label, f"has no column {col!r} (its columns: {', '.join(table.column_names)})")
    if table.num_rows and not pa.types.is_timestamp(table.schema.field(ts_col).type):
        raise SourceError(
            label, f"the watermark column {ts_col!r} is {table.schema.field(ts_col).type}, not a timestamp"
        )
    # JSON extension types (PostgreSQL json/jsonb) are their text: the reader parses them like a JSON column.
    for i, field in enumerate(table.schema):
        if isinstance(field.type, pa.ExtensionType):
            table = table.set_column(i, field.name, table.column(i).cast(field.type.storage_type))
    return table


def last_watermark(table: pa.Table, ts_col: str, id_col: str) -> Watermark | None:
    """The last row's (timestamp, id) of a batch pulled in (ts, id) order, the last with a timestamp Python can
    hold; None for a batch without one. An integer id stays an integer (compared as text, `integer > text` fails).

    Why "can hold": PostgreSQL's 'infinity' sorts after every time, so it ends the pull it is in, and the ADBC
    driver hands it over as a value outside Python's dates; taken as the watermark, it failed the source every
    cycle. Such a row is stored as any other (the normalising query quarantines its time as out of range) and the
    watermark stays before it: each later pull reads it again at its end and finds nothing past it.
    """
    stamps = table.column(ts_col)
    if stamps.null_count == len(stamps):
        return None
    # One row converted, not the batch: `to_pylist()` of 1M timestamps and ids took 2.5 s, more than the pull.
    held = pc.indices_nonzero(_holdable_mask(stamps))
    if len(held) == 0:
        return None
    last = held[-1].as_py()
    ts = stamps[last].as_py()
    rid = table.column(id_col)[last].as_py()
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return Watermark(ts, rid if isinstance(rid, int) and not isinstance(rid, bool) else str(rid))


def _datetime_range(unit: str) -> tuple[int, int]:
    """The first and last instants Python's `datetime` holds, in a timestamp unit since the Unix epoch."""
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    low = datetime(1, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    high = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return int(low.total_seconds()) * per_second, int(high.total_seconds() + 1) * per_second - 1


def _holdable_mask(stamps: pa.ChunkedArray) -> pa.Array:
    """Per row: a timestamp Python's `datetime` holds (NULL: no)."""
    low, high = _datetime_range(stamps.type.unit)
    values = pc.cast(stamps, pa.int64()).combine_chunks()
    return pc.fill_null(pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high)), False)


def _scrub(text: str, uri: str) -> str:
    """A driver's message without the URI or its password, should the driver have echoed them."""
    text = text.replace(uri, "<uri>")
    text = re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)
    # libpq keyword form (`host=db password=...`) and query strings (`?password=...`)
    return re.sub(r"(?i)(\bpassword\s*=\s*)('[^']*'|[^\s&;]+)", r"\1***", text)


__all__ = [
    "Watermark",
    "connect",
    "count_missing_timestamps",
    "expand_uri",
    "id_is_integer",
    "last_watermark",
    "pull",
    "read_all",
    "read_scalar",
    "source_label",
]
