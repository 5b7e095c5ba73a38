"""Delayed labels in the database: upserted by request id, with every replaced label kept in `label_history`.

A label is matched to its prediction only when read (a join on request_id), so a label that arrives before its
prediction simply waits in `labels` until the prediction lands; nothing has to be re-linked. A request scored
by several model versions (shadow traffic: a prediction is (request_id, model_version)) has one label, joined
to every version's prediction: a new label queues the window of each version that scored the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import pyarrow as pa

from driftwatch.sources.logs import NO_VERSION
from driftwatch.storage.database import first_row
from driftwatch.storage.predictions import window_bucket_sql
from driftwatch.storage.probabilities import probability_column
from driftwatch.storage.schema import feature_column, prediction_table, segment_column

CHANGES_TABLE = "_label_changes"
LABEL_BATCH = "_label_batch"  # one label file's normalised rows, inside the file's transaction


def stage_label_batch(tx: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object]) -> int:
    """Materialise a label file's normalising query (`sources.labels.label_batch_sql`) as `LABEL_BATCH`, so
    the upsert and the quarantine read the file once; returns its rows. Drop it with `drop_label_batch`."""
    tx.execute(f"CREATE OR REPLACE TEMP TABLE {LABEL_BATCH} AS {sql}", params)
    row = first_row(tx.execute(f"SELECT count(*) FROM {LABEL_BATCH}"))
    return int(row[0]) if row else 0


def drop_label_batch(tx: duckdb.DuckDBPyConnection) -> None:
    tx.execute(f"DROP TABLE {LABEL_BATCH}")


@dataclass(frozen=True)
class LabelCounts:
    """What one batch did to the stored labels."""

    new: int = 0  # request ids never labelled before
    replaced: int = 0  # a different (and not older) label replaced the stored one; the old one is in history
    unchanged: int = 0  # the same label again, an older one than stored, or superseded later in the same file
    windows_queued: int = 0  # (model_version, window) pairs whose predictions got a new label


def prediction_table_exists(cur: duckdb.DuckDBPyConnection, monitor: str) -> bool:
    row = first_row(
        cur.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [f"predictions:{monitor}"]
        )
    )
    return bool(row and row[0])


def upsert_label_batch(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    batch: str,
    source: str,
    now: datetime,
    timed: bool,
    window_width_us: int,
) -> LabelCounts:
    """Apply the good rows of a normalised label batch (`request_id`, `label`, `label_value`, `labelled_at`,
    `_row`, `_reason`); call inside the file's transaction.

    Within a batch the last row per id wins (the newest `labelled_at` first when the source has timestamps).
    A stored label is replaced when the new one differs in value (or, with timestamps, in time) and is not
    older: a stale re-delivery must not undo a correction. Unchanged labels write nothing, so re-reading a
    file is idempotent.
    """
    params = {"monitor": monitor, "timed": timed}
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE {CHANGES_TABLE} AS "
        "WITH latest AS ("
        "  SELECT request_id, label, label_value, labelled_at FROM ("
        f"    SELECT *, row_number() OVER (PARTITION BY request_id ORDER BY labelled_at DESC, _row DESC) AS _rank "
        f"    FROM {batch} WHERE _reason IS NULL"
        "  ) WHERE _rank = 1"
        ") "
        "SELECT n.*, CASE "
        "  WHEN o.request_id IS NULL THEN 'new' "
        "  WHEN $timed AND n.labelled_at < o.labelled_at THEN 'unchanged' "
        "  WHEN o.label IS DISTINCT FROM n.label OR ($timed AND o.labelled_at <> n.labelled_at) THEN 'replaced' "
        "  ELSE 'unchanged' END AS change "
        "FROM latest n LEFT JOIN labels o ON o.monitor = $monitor AND o.request_id = n.request_id",
        params,
    )
    cur.execute(
        "INSERT INTO label_history SELECT o.monitor, o.request_id, o.label, o.label_value, o.labelled_at, "
        "o.source, o.ingested_at, $now, $source "
        f"FROM labels o JOIN {CHANGES_TABLE} c ON o.request_id = c.request_id "
        "WHERE o.monitor = $monitor AND c.change = 'replaced'",
        {"monitor": monitor, "now": now, "source": source},
    )
    cur.execute(
        "INSERT INTO labels SELECT $monitor, request_id, label, label_value, labelled_at, $source, $now "
        f"FROM {CHANGES_TABLE} WHERE change IN ('new', 'replaced') "
        "ON CONFLICT (monitor, request_id) DO UPDATE SET label = excluded.label, "
        "label_value = excluded.label_value, labelled_at = excluded.labelled_at, source = excluded.source, "
        "ingested_at = excluded.ingested_at",
        {"monitor": monitor, "now": now, "source": source},
    )
    queued = 0
    if prediction_table_exists(cur, monitor):
        queued = queue_windows_of(
            cur, monitor, CHANGES_TABLE, "change IN ('new', 'replaced')", now, window_width_us
        )
    rows = cur.execute(f"SELECT change, count(*) FROM {CHANGES_TABLE} GROUP BY change").fetchall()
    counts = {str(k): int(v) for k, v in rows}
    total_good = first_row(cur.execute(f"SELECT count(*) FROM {batch} WHERE _reason IS NULL"))
    superseded = (int(total_good[0]) if total_good else 0) - sum(counts.values())
    cur.execute(f"DROP TABLE {CHANGES_TABLE}")
    return LabelCounts(
        new=counts.get("new", 0),
        replaced=counts.get("replaced", 0),
        unchanged=counts.get("unchanged", 0) + superseded,
        windows_queued=queued,
    )


def queue_windows_of(
    cur: duckdb.DuckDBPyConnection, monitor: str, ids_table: str, where: str, now: datetime, width: int
) -> int:
    """Queue for performance the (model_version, window) of every stored prediction whose id is in `ids_table`
    (rows matching `where`); returns how many windows that touched."""
    bucket = window_bucket_sql("p.ts")
    params = {"width_us": width}
    cur.execute(
        f"CREATE OR REPLACE TEMP TABLE _touched AS SELECT DISTINCT p.model_version, {bucket} AS window_start "
        f"FROM {ids_table} c JOIN {prediction_table(monitor)} p ON p.request_id = c.request_id WHERE {where}",
        params,
    )
    cur.execute(
        "INSERT INTO performance_queue SELECT $monitor, model_version, window_start, "
        "window_start + to_microseconds(CAST($width_us AS BIGINT)), $now, 'new labels' FROM _touched "
        "ON CONFLICT DO UPDATE SET queued_at = excluded.queued_at, reason = excluded.reason",
        {**params, "monitor": monitor, "now": now},
    )
    row = first_row(cur.execute("SELECT count(*) FROM _touched"))
    cur.execute("DROP TABLE _touched")
    return int(row[0]) if row else 0


def labels_without_prediction(cur: duckdb.DuckDBPyConnection, monitor: str) -> int:
    """Stored labels whose request id matches no stored prediction (yet, or ever)."""
    if not prediction_table_exists(cur, monitor):
        row = first_row(cur.execute("SELECT count(*) FROM labels WHERE monitor = ?", [monitor]))
    else:
        row = first_row(
            cur.execute(
                f"SELECT count(*) FROM labels l WHERE l.monitor = ? AND NOT EXISTS "
                f"(SELECT 1 FROM {prediction_table(monitor)} p WHERE p.request_id = l.request_id)",
                [monitor],
            )
        )
    return int(row[0]) if row else 0


def window_label_rows(
    cur: duckdb.DuckDBPyConnection,
    monitor: str,
    model_version: str,
    start: datetime,
    end: datetime,
    truth_sql: str,
    score_sql: str,
    sql_params: dict[str, object],
    segments: tuple[str, ...],
    features: tuple[str, ...] = (),
    probabilities: tuple[str, ...] = (),
) -> pa.Table:
    """The window's predictions with their labels (NULL when not labelled yet), through Arrow, in (request id,
    model version) order (a stable order keeps the seeded bootstrap reproducible). Each version's row is its
    own prediction of the request, joined to the request's one label.

    Columns: `ts`, `labelled_at`, `truth` and `score`, one `seg<i>` column per segment and one `x<i>` column
    per name in ``features`` (the stored feature column, for a regression loss model). `truth_sql` and
    `score_sql` are expressions over `label`, `label_value`, `prediction` and `output`.
    """
    params: dict[str, object] = {"start": start, "end": end, "monitor": monitor, **sql_params}
    where = "p.ts >= $start AND p.ts < $end"
    if model_version != NO_VERSION:
        where += " AND p.model_version = $version"
        params["version"] = model_version
    seg_cols = "".join(f", p.{segment_column(s)} AS seg{i}" for i, s in enumerate(segments))
    seg_names = "".join(f", seg{i}" for i in range(len(segments)))
    seg_cols += "".join(f", p.{feature_column(f)} AS x{i}" for i, f in enumerate(features))
    seg_names += "".join(f", x{i}" for i in range(len(features)))
    # A multiclass model's per-class probabilities, `q<i>` in the order of ``probabilities`` (class names).
    seg_cols += "".join(f", p.{probability_column(c)} AS q{i}" for i, c in enumerate(probabilities))
    seg_names += "".join(f", q{i}" for i in range(len(probabilities)))
    sql = (
        f"SELECT ts, labelled_at, {truth_sql} AS truth, {score_sql} AS score{seg_names} FROM ("
        "SELECT p.request_id, p.model_version, p.ts, p.prediction, p.output, l.label, l.label_value, "
        "l.labelled_at"
        f"{seg_cols} FROM {prediction_table(monitor)} p LEFT JOIN labels l ON l.monitor = $monitor "
        f"AND l.request_id = p.request_id WHERE {where}) ORDER BY request_id, model_version"
    )
    return cur.sql(sql, params=params).to_arrow_table()
