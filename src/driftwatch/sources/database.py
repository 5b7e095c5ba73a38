"""Prediction logs in an SQL database (PostgreSQL; any ADBC or DB-API driver by configuration), pulled
incrementally by a watermark.

The watermark is the last pulled row's (timestamp, request id): a pull asks for the rows after it, ordered by
both, at most `batch_rows` at a time. Rows written late, with a timestamp up to `lookback` before the
watermark, are asked for again in each cycle's look-back pull; those already stored are skipped by request id
and the new ones queue their window for recomputation like any new row. The caller stores each pulled batch and
its new watermark in one DuckDB transaction (`pipeline.database_sources`), so a crash between pull and commit
pulls the same rows again: never skipped, never doubled.

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
    id: str


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
            return module.connect(uri, read_only=True)
        return module.connect(uri)
    except Exception as exc:  # every driver has its own error classes
        raise SourceError(label, f"cannot connect: {_scrub(first_line(exc), uri)}") from None


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


def pull_sql(options: DatabaseSourceOptions, ts_col: str, id_col: str, marks: list[str], late: bool) -> str:
    """The pull query. New rows: after the watermark (ts, id), ordered, at most `batch_rows`. Late rows
    (`late`): from `lookback` before the watermark up to it. Values are bound; identifiers are quoted."""
    base = (
        f"SELECT * FROM {quote(options.table)}"
        if options.table
        else f"SELECT * FROM ({options.query}) AS dw_src"
    )
    ts, rid = quote(ts_col), quote(id_col)
    if late:
        # marks: since, wm_ts, wm_ts, wm_id
        where = f"{ts} >= {marks[0]} AND ({ts} < {marks[1]} OR ({ts} = {marks[2]} AND {rid} <= {marks[3]}))"
        return f"SELECT * FROM ({base}) AS dw_rows WHERE {where}"
    # marks: wm_ts, wm_ts, wm_id — or none for the first pull
    where = f" WHERE {ts} > {marks[0]} OR ({ts} = {marks[1]} AND {rid} > {marks[2]})" if marks else ""
    return f"SELECT * FROM ({base}) AS dw_rows{where} ORDER BY {ts}, {rid} LIMIT {int(options.batch_rows)}"


def pull(
    conn: Any,
    options: DatabaseSourceOptions,
    ts_col: str,
    id_col: str,
    after: Watermark | None,
    late: bool = False,
) -> pa.Table:
    """One pull as an Arrow table: the next batch after `after`, or (`late`) the look-back rows before it."""
    module = importlib.import_module(type(conn).__module__.split(".")[0])
    if late:
        assert after is not None
        params: list[Any] = [after.ts - options.lookback, after.ts, after.ts, after.id]
    else:
        params = [] if after is None else [after.ts, after.ts, after.id]
    sql = pull_sql(options, ts_col, id_col, _placeholders(options.driver, module, len(params)), late)
    params = [_bindable(p) for p in params]
    cur = conn.cursor()
    try:
        cur.execute(sql, params) if params else cur.execute(sql)
        if hasattr(cur, "fetch_arrow_table"):
            table = cur.fetch_arrow_table()
        else:
            names = [d[0] for d in cur.description]
            table = pa.Table.from_pylist([dict(zip(names, r, strict=True)) for r in cur.fetchall()])
    except Exception as exc:
        raise SourceError(source_label(options), f"cannot pull: {first_line(exc)}") from None
    finally:
        cur.close()
    if isinstance(table, pa.RecordBatchReader):
        table = table.read_all()
    return _checked(table, options, ts_col, id_col)


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
    """The last row's (timestamp, id) of a batch pulled in (ts, id) order; None for an empty batch."""
    if not table.num_rows:
        return None
    ts = table.column(ts_col)[-1].as_py()
    rid = table.column(id_col)[-1].as_py()
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return Watermark(ts, str(rid))


def _scrub(text: str, uri: str) -> str:
    """A driver's message without the URI or its password, should the driver have echoed them."""
    text = text.replace(uri, "<uri>")
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)


__all__ = ["Watermark", "connect", "expand_uri", "last_watermark", "pull", "source_label"]
