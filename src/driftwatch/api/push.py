"""Pushed batches of predictions (and labels): validated exactly like files, stored without waiting for a cycle.

The batch is written to a temporary NDJSON file and read by the same normalising query as a prediction file
(`sources.logs.normalise_query`), so a record is accepted or refused for exactly the reasons a file row would
be. A batch with any bad record is refused whole (422, one error per bad record) and nothing is stored. A
prediction is identified by (request_id, model_version), which makes it idempotent: re-sending a batch inserts
nothing, while a shadow model's prediction of the same request (another version) is stored beside it.

A good prediction batch is committed before the 200 in one short transaction of its own
(`Database.append_transaction`): it takes neither the monitor's cycle lock nor the lock the cycle's writes
share, so a push never waits for a running cycle. It takes only the monitor's insert lock
(`Database.predictions_writer`), held by each insert into the monitor's table: pushes to one monitor, and a
cycle's file batch, store their rows one after the other (each a short transaction), which is what keeps the
dedup exact now that the table has no primary key. The rows
land in the predictions table at once; the windows they touch are noted in `pushed_windows` and queued by the
next cycle (storage/pushes.py says why not in `window_queue` directly). Only the first push after a start, or
after the reference file changed, checks the reference profile, and only when it must be (re)built does that
push wait for the monitor's lock. Labels are upserted in a transaction that takes turns with the cycle's own
writes (each short), not behind the whole cycle.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from driftwatch.api.errors import Conflict, Invalid
from driftwatch.config.monitors import FeatureSpec, MonitorConfig
from driftwatch.pipeline.ingest import prediction_layout
from driftwatch.pipeline.labels import ingest_label_file
from driftwatch.pipeline.object_sources import local_reference
from driftwatch.pipeline.reference import cached_profile, ensure_reference, infer_features, profile_id
from driftwatch.pipeline.registry import reference_version, registry_features
from driftwatch.pipeline.runner import CycleRunner
from driftwatch.sources.files import SourceFile, describe_columns
from driftwatch.sources.labels import label_batch_sql
from driftwatch.sources.logs import LogLayout, normalise_query
from driftwatch.storage.api_queries import invalid_batch_records
from driftwatch.storage.database import Database, is_conflict, utcnow
from driftwatch.storage.predictions import ensure_prediction_table
from driftwatch.storage.profiles import current_profile_id
from driftwatch.storage.pushes import (
    drop_staged,
    stage_batch,
    staged_problems,
    store_staged,
)

log = logging.getLogger("driftwatch.api.push")

# How often a push whose COMMIT DuckDB refused (optimistic concurrency: another writer met one of its rows) is
# run again; inserts into one monitor's table are serialised (`Database.predictions_writer`), so a run again
# finds any row the other writer stored and counts it as a duplicate.
CONFLICT_RETRIES = 5


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


def _refuse_constant(token: str) -> Any:
    raise Invalid(f"records may not hold NaN or Infinity (found {token}; use null for a missing value)")


_NON_FINITE = "records may not hold NaN or Infinity (use null for a missing value)"
_ENCODER = msgspec.json.Encoder()


class _Records(msgspec.Struct, forbid_unknown_fields=True):
    records: list[msgspec.Raw]


# Each record is kept as its raw JSON text (validated, not turned into Python objects): the push's NDJSON is
# those texts joined by newlines. About 3 ms for 10k records instead of ~45 ms to parse and re-encode.
_RAW_DECODER = msgspec.json.Decoder(list[msgspec.Raw] | _Records)


def parse_batch(body: bytes) -> list[Any]:
    """The records of a body: `{"records": [...]}` or a bare JSON list. Raises Invalid.

    The records come back as `msgspec.Raw` (each record's JSON text) when the body holds no line break;
    otherwise (a pretty-printed body: a record's text could span lines) as Python objects, re-encoded one per
    line by `staged`. A body msgspec refuses is parsed again by the json module only to say what is wrong.
    Numbers too large for a double (1e999) are refused after staging, by the value model's reasons.
    """
    try:
        if b"\n" in body or b"\r" in body:
            data: Any = _parse_slowly(body)
        else:
            try:
                decoded = _RAW_DECODER.decode(body)
            except (msgspec.DecodeError, msgspec.ValidationError):
                decoded = _parse_slowly(body)
            data = decoded.records if isinstance(decoded, _Records) else decoded
    except RecursionError:
        # Both parsers give up on thousands of nested brackets; that is the client's body, not a server error.
        raise Invalid("the body is nested too deeply to be a batch of records") from None
    if isinstance(data, dict) and set(data) == {"records"}:
        data = data["records"]
    if not isinstance(data, list):
        raise Invalid('expected {"records": [...]} or a JSON list of records')
    if not data:
        raise Invalid("the batch has no records")
    return data


def _parse_slowly(body: bytes) -> Any:
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(f"the body is not valid JSON: {exc}") from None
    try:
        json.dumps(data, allow_nan=False)
    except ValueError:
        raise Invalid(_NON_FINITE) from None
    return data


@contextmanager
def staged(records: list[Any]) -> Iterator[SourceFile]:
    """The records as a temporary NDJSON file, one record a line, removed afterwards."""
    try:
        if all(isinstance(r, msgspec.Raw) for r in records):
            lines = b"\n".join(records) + b"\n"
        else:
            lines = _ENCODER.encode_lines(records)
    except (msgspec.EncodeError, UnicodeEncodeError, ValueError, TypeError, OverflowError) as exc:
        raise Invalid(f"the records cannot be stored as JSON lines: {exc}") from None
    fd, name = tempfile.mkstemp(prefix="driftwatch-push-", suffix=".ndjson")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(lines)
        stat = os.stat(name)
        yield SourceFile(name, "ndjson", stat.st_size, stat.st_mtime_ns)
    finally:
        Path(name).unlink(missing_ok=True)


def _decoded(raw: msgspec.Raw) -> Any:
    try:
        return msgspec.json.decode(raw)
    except msgspec.MsgspecError:
        return None


def _record_errors(records: list[Any], rows: list[tuple[Any, ...]], id_field: str) -> list[dict[str, Any]]:
    """[{index, request_id, reason}] from (_row, request_id, _reason) rows of the normalised batch."""
    errors = []
    for row_number, request_id, reason in rows:
        index = int(row_number) - 1
        record = records[index] if 0 <= index < len(records) else None
        if isinstance(record, msgspec.Raw):
            record = _decoded(record)
        if request_id is None and isinstance(record, dict):
            raw = record.get(id_field)
            request_id = raw if isinstance(raw, str) else None
        errors.append({"index": index, "request_id": request_id, "reason": str(reason)})
    return errors


_LAYOUTS: dict[tuple[str, str], tuple[tuple[int, int], LogLayout]] = {}
_LAYOUTS_LOCK = threading.Lock()
# An mlflow:// reference: the layout is kept per registry version the reference names (its alias may move at
# any time). The registry is asked again at most this often, so a push does not pay a round trip each time.
REGISTRY_RECHECK_S = 30.0
_RESOLVED: dict[str, tuple[float, int]] = {}  # reference url → (monotonic time asked, version it named)


def _registry_version(monitor: MonitorConfig) -> int:
    ref = monitor.reference.registry
    assert ref is not None
    now = time.monotonic()
    with _LAYOUTS_LOCK:
        hit = _RESOLVED.get(ref.url)
    if hit is not None and now - hit[0] < REGISTRY_RECHECK_S:
        return hit[1]
    version = reference_version(monitor)  # SourceError: answered as registry_features would
    with _LAYOUTS_LOCK:
        _RESOLVED[ref.url] = (now, version)
    return version


def _reference_key(monitor: MonitorConfig) -> tuple[int, int]:
    """What the cached layout depends on: the reference file's (size, mtime), or (-2, the registry version)."""
    if monitor.reference.registry is not None and monitor.features is None:
        return (-2, _registry_version(monitor))
    try:
        stat = os.stat(monitor.reference.path)
    except OSError:
        return (-1, -1)  # ensure_reference reports the unreadable reference
    return (stat.st_size, stat.st_mtime_ns)


def push_layout(db: Database, runner: CycleRunner, monitor: MonitorConfig, wait: float | None) -> LogLayout:
    """The columns a pushed batch is read into, with the predictions table ready for them.

    Kept per monitor while the reference file is unchanged (an mlflow:// reference without configured features:
    while it names the same registry version, checked every REGISTRY_RECHECK_S). Otherwise the stored profile is checked without
    any lock; only when it must be built (a new monitor, a changed reference) does this take the monitor's
    lock (waiting `wait` seconds at most), so the profile is built once and never alongside a cycle's build.
    """
    monitor = local_reference(db, monitor, max_age_s=60.0)  # an s3:// reference: its local copy
    key = (str(db.path), monitor.name)
    ref_key = _reference_key(monitor)
    with _LAYOUTS_LOCK:
        hit = _LAYOUTS.get(key)
    if hit is not None and hit[0] == ref_key:
        return hit[1]
    if monitor.reference.registry is not None:  # an mlflow:// reference: the version it names now
        with runner.holding(monitor.name, wait):
            features = registry_features(db, monitor)
    else:
        features = _file_features(db, runner, monitor, wait)
    layout = prediction_layout(monitor, features)
    # With the serialised writers: a new column is DDL, which must not meet a push's append.
    with db.transaction() as tx:
        probabilities = tuple(c.name for c in layout.probabilities)
        ensure_prediction_table(
            tx, monitor.name, layout.numeric, layout.categorical, layout.segments, probabilities
        )
    with _LAYOUTS_LOCK:
        _LAYOUTS[key] = (ref_key, layout)
    return layout


def _file_features(
    db: Database, runner: CycleRunner, monitor: MonitorConfig, wait: float | None
) -> FeatureSpec:
    """The features of a file reference, with its profile stored (built under the monitor's lock if needed)."""
    cur = db.cursor()
    features = monitor.features
    if features is None:  # as ensure_reference infers them, without the exclusions it reports
        inferred = infer_features(cur, monitor)
        features = FeatureSpec(numeric=inferred.numeric, categorical=inferred.categorical)
    pid = profile_id(monitor, features)
    if current_profile_id(cur, monitor.name) == pid:
        cached_profile(db, monitor.name, pid)
    else:
        with runner.holding(monitor.name, wait):
            features = ensure_reference(db, monitor).features
    return features


def push_predictions(
    db: Database, runner: CycleRunner, monitor: MonitorConfig, records: list[Any], wait: float | None = None
) -> PredictionPush:
    """Validate and store a batch of prediction records; raises Invalid (422) with per-record errors.

    `wait` bounds only the rare wait for the monitor's lock in `push_layout`; storing never waits for a cycle.
    """
    batch_id = uuid.uuid4().hex
    layout = push_layout(db, runner, monitor, wait)
    cur = db.cursor()
    with staged(records) as f:
        columns = describe_columns(cur, f.format, f.path)
        sql, params = normalise_query(f.format, f.path, columns, layout)
        try:
            rows = stage_batch(cur, sql, params)
            # Non-finite numbers are among the problems: the value model refuses them (docs/values.md).
            bad = staged_problems(cur)
            if bad:
                errors = _record_errors(records, bad, monitor.predictions.id)
                raise Invalid(
                    f"{len(errors)} of {len(records)} record(s) are invalid; nothing was stored", errors
                )
            inserted = _store(db, monitor, layout, f"api:{batch_id}", f.size, rows)
        finally:
            drop_staged(cur)
    return PredictionPush(batch_id, rows, inserted, rows - inserted)


def _store(db: Database, monitor: MonitorConfig, layout: LogLayout, source: str, size: int, rows: int) -> int:
    """The staged batch committed in one transaction, run again when DuckDB refuses it for a clash."""
    for attempt in range(1, CONFLICT_RETRIES + 1):
        try:
            # The insert lock before BEGIN (`Database.predictions_writer`): waits only for another insert into
            # this monitor's table (a push, or one batch of a cycle's file), never for the whole cycle.
            with db.predictions_writer(monitor.name), db.append_transaction() as tx:
                return store_staged(
                    tx,
                    monitor.name,
                    layout.numeric,
                    layout.categorical,
                    layout.segments,
                    monitor.window,
                    source,
                    size,
                    rows,
                    utcnow(),
                )
        except Exception as exc:
            if not is_conflict(exc) or attempt == CONFLICT_RETRIES:
                raise
            log.info(
                "push to %s met a concurrent write (attempt %d); running it again", monitor.name, attempt
            )
    raise AssertionError("unreachable")


def push_labels(db: Database, monitor: MonitorConfig, records: list[Any]) -> LabelPush:
    """Validate and upsert a batch of labels, the same way as a label file."""
    if monitor.labels is None:
        raise Conflict(
            f"monitor {monitor.name!r} has no `labels:` section (and `task:`) in its config, so labels "
            "cannot be matched or measured"
        )
    batch_id = uuid.uuid4().hex
    # No monitor lock: the upsert is one transaction taking turns with the cycle's (short) writes, and the
    # performance queue it touches is emptied by the cycle only up to what it saw (`queued_at <= ...`).
    with staged(records) as f:
        cur = db.cursor()
        columns = describe_columns(cur, f.format, f.path)
        sql, params = label_batch_sql(f.format, f.path, columns, monitor)
        bad = invalid_batch_records(cur, sql, {**params, "now": utcnow()})
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
