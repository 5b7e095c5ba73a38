"""Pushed batches of predictions (and labels): validated exactly like files, then ingested like a file.

The batch is written to a temporary NDJSON file and read by the same normalising query as a prediction file
(`sources.logs.normalise_query`), so a record is accepted or refused for exactly the reasons a file row would
be. A batch with any bad record is refused whole (422, one error per bad record) and nothing is stored; a good
batch goes through `pipeline.ingest.ingest_file` with the source `api:<batch id>`. Request ids make it
idempotent: re-sending a batch inserts nothing.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftwatch.api.errors import Conflict, Invalid
from driftwatch.config import MonitorConfig
from driftwatch.pipeline.ingest import ingest_file, prediction_layout
from driftwatch.pipeline.labels import ingest_label_file, label_batch_sql
from driftwatch.pipeline.reference import ensure_reference
from driftwatch.sources.files import SourceFile, describe_columns
from driftwatch.sources.logs import normalise_query
from driftwatch.storage.database import Database, utcnow
from driftwatch.storage.predictions import ensure_prediction_table
from driftwatch.worker import CycleRunner


@dataclass(frozen=True)
class PredictionPush:
    batch_id: str
    received: int
    inserted: int
    duplicate: int


@dataclass(frozen=True)
class LabelPush:
    batch_id: str
    received: int
    new: int
    replaced: int
    unchanged: int
    windows_queued: int


def parse_batch(body: bytes) -> list[Any]:
    """The records of a body: `{"records": [...]}` or a bare JSON list. Raises Invalid."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(f"the body is not valid JSON: {exc}") from None
    if isinstance(data, dict) and set(data) == {"records"}:
        data = data["records"]
    if not isinstance(data, list):
        raise Invalid('expected {"records": [...]} or a JSON list of records')
    if not data:
        raise Invalid("the batch has no records")
    return data


@contextmanager
def staged(records: list[Any]) -> Iterator[SourceFile]:
    """The records as a temporary NDJSON file, one record a line, removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="driftwatch-push-", suffix=".ndjson")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
        stat = os.stat(name)
        yield SourceFile(name, "ndjson", stat.st_size, stat.st_mtime_ns)
    finally:
        Path(name).unlink(missing_ok=True)


def _record_errors(records: list[Any], rows: list[tuple[Any, ...]], id_field: str) -> list[dict[str, Any]]:
    """[{index, request_id, reason}] from (_row, request_id, _reason) rows of the normalised batch."""
    errors = []
    for row_number, request_id, reason in rows:
        index = int(row_number) - 1
        if request_id is None and 0 <= index < len(records) and isinstance(records[index], dict):
            raw = records[index].get(id_field)
            request_id = raw if isinstance(raw, str) else None
        errors.append({"index": index, "request_id": request_id, "reason": str(reason)})
    return errors


def _reject_non_finite(records: list[Any]) -> None:
    try:
        json.dumps(records, allow_nan=False)
    except ValueError:
        raise Invalid("records may not hold NaN or Infinity (use null for a missing value)") from None


def push_predictions(
    db: Database, runner: CycleRunner, monitor: MonitorConfig, records: list[Any], wait: float | None = None
) -> PredictionPush:
    """Validate and ingest a batch of prediction records; raises Invalid (422) with per-record errors."""
    _reject_non_finite(records)
    batch_id = uuid.uuid4().hex
    # Under the monitor's lock: the reference profile (features, types) is built at most once, and a cycle
    # never sees half a batch.
    with runner.holding(monitor.name, wait), staged(records) as f:
        reference = ensure_reference(db, monitor)
        layout = prediction_layout(monitor, reference.features)
        with db.transaction() as tx:
            ensure_prediction_table(tx, monitor.name, layout.numeric, layout.categorical, layout.segments)
        cur = db.cursor()
        columns = describe_columns(cur, f.format, f.path)
        sql, params = normalise_query(f.format, f.path, columns, layout)
        bad = cur.execute(
            f"SELECT _row, request_id, _reason FROM ({sql}) WHERE _reason IS NOT NULL ORDER BY _row", params
        ).fetchall()
        if bad:
            errors = _record_errors(records, bad, monitor.predictions.id)
            raise Invalid(
                f"{len(errors)} of {len(records)} record(s) are invalid; nothing was stored", errors
            )
        read, inserted, duplicate, _quarantined = ingest_file(
            db, monitor, layout, f, source=f"api:{batch_id}"
        )
    return PredictionPush(batch_id, read, inserted, duplicate)


def push_labels(
    db: Database, runner: CycleRunner, monitor: MonitorConfig, records: list[Any], wait: float | None = None
) -> LabelPush:
    """Validate and upsert a batch of labels, the same way as a label file."""
    if monitor.labels is None:
        raise Conflict(
            f"monitor {monitor.name!r} has no `labels:` section (and `task:`) in its config, so labels "
            "cannot be matched or measured"
        )
    _reject_non_finite(records)
    batch_id = uuid.uuid4().hex
    with runner.holding(monitor.name, wait), staged(records) as f:
        cur = db.cursor()
        columns = describe_columns(cur, f.format, f.path)
        sql, params = label_batch_sql(f.format, f.path, columns, monitor)
        bad = cur.execute(
            f"SELECT _row, request_id, _reason FROM ({sql}) WHERE _reason IS NOT NULL ORDER BY _row",
            {**params, "now": utcnow()},
        ).fetchall()
        if bad:
            errors = _record_errors(records, bad, monitor.labels.id)
            raise Invalid(f"{len(errors)} of {len(records)} label(s) are invalid; nothing was stored", errors)
        counts = ingest_label_file(db, monitor, f, source=f"api:{batch_id}")
    return LabelPush(
        batch_id,
        len(records),
        counts.labels_new,
        counts.labels_replaced,
        counts.labels_unchanged,
        counts.windows_queued,
    )
