"""Arrow tables written to local Parquet files: a database source's pulled batch spilled for its reader, and the
local copy of a reference kept in a database (`pipeline.spilled`, `pipeline.database_reference`).

pyarrow writes them, except a table holding a type pyarrow has no Parquet type for: PostgreSQL's `interval`
arrives as Arrow's month_day_nano_interval, and a labels or reference table with such a column failed its
source every cycle. DuckDB writes that table instead (Parquet's INTERVAL), and reads the column back as the
INTERVAL it reads from the same Arrow table in memory (what a batch of predictions kept in memory gets).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

_VIEW = "_dw_parquet_copy"


def write_parquet(
    table: pa.Table, path: str | Path, *, uncompressed: bool = False, row_group_rows: int | None = None
) -> None:
    """`table` to a Parquet file at `path` (replaced if present): pyarrow's writer, else DuckDB's (see above).

    `uncompressed`: no compression (a file written and read once, locally); `row_group_rows`: rows per row group
    (the writer's default when None)."""
    try:
        pq.write_table(
            table,
            str(path),
            compression="none" if uncompressed else "snappy",
            row_group_size=row_group_rows,
        )
    except pa.ArrowNotImplementedError:  # "Unhandled type for Arrow to Parquet schema conversion"
        options = ["FORMAT parquet", f"COMPRESSION {'uncompressed' if uncompressed else 'snappy'}"]
        if row_group_rows is not None:
            options.append(f"ROW_GROUP_SIZE {int(row_group_rows)}")
        target = str(path).replace("'", "''")  # COPY takes its file as a literal, not a bound parameter
        with duckdb.connect() as con:  # in memory, its own: nothing of the monitor's database is touched
            con.register(_VIEW, table)
            con.execute(f"COPY {_VIEW} TO '{target}' ({', '.join(options)})")
