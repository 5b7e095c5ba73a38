"""Snapshots to object storage (issue 19, item 2): retention exports expiring rows to a real S3 server (moto, over
loopback HTTP) before deleting them, and the snapshot reads back as a `predictions` source, bit for bit."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from pathlib import Path

from conftest import FaultProxy, S3Server
from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.retention import RetentionSettings
from driftwatch.config.settings import Settings
from driftwatch.config.sources import ObjectStoreOptions
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.retention import expire_rows
from driftwatch.pipeline.snapshots import write_snapshot
from driftwatch.sources.snapshot_store import MANIFEST, ObjectSnapshotStore
from driftwatch.storage.database import Database

DEMO_END = datetime(2026, 11, 1)  # tests/_demo.py (naive UTC here)
CUTOFF = datetime(2026, 10, 16)  # DEMO_END - 16 days: 8 of the demo's 24 days expire
RESULTS = (
    "SELECT model_version, segment, window_start, feature, statistic, value FROM feature_stats "
    "WHERE window_start < ? ORDER BY ALL"
)
VERDICTS = (
    "SELECT model_version, segment, window_start, feature, rows, status, reason FROM feature_results "
    "WHERE window_start < ? ORDER BY ALL"
)
OLD = 'SELECT count(*) FROM "predictions:credit-default" WHERE ts < ?'


def _options(endpoint: str) -> ObjectStoreOptions:
    return ObjectStoreOptions(endpoint_url=endpoint, timeout_s=5.0, max_retries=0)


def _with_snapshots(plain: MonitorConfig, url: str, endpoint: str) -> MonitorConfig:
    retention = RetentionSettings(
        predictions=timedelta(days=16),
        label_horizon=timedelta(days=14),
        batch_rows=5000,
        snapshot=url,
        snapshot_store=_options(endpoint),
    )
    return dataclasses.replace(plain, retention=retention)


def _count(db: Database, sql: str, *params: object) -> int:
    row = db.cursor().execute(sql, list(params)).fetchone()
    assert row is not None
    return int(row[0])


def _keys(server: S3Server, bucket: str, prefix: str = "") -> list[str]:
    pages = server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def _finished_run(demo_settings: Settings, db: Database) -> MonitorConfig:
    plain = demo_settings.monitor("credit-default")
    run_cycle(db, plain, now=DEMO_END)
    return plain


def test_retention_snapshots_to_s3_then_reads_back_bit_for_bit(
    demo_settings: Settings, demo_db: Database, s3_server: S3Server, tmp_path: Path
) -> None:
    plain = _finished_run(demo_settings, demo_db)
    stats = demo_db.cursor().execute(RESULTS, [CUTOFF]).fetchall()
    verdicts = demo_db.cursor().execute(VERDICTS, [CUTOFF]).fetchall()
    assert stats and verdicts
    old = _count(demo_db, OLD, CUTOFF)
    assert old == 12_000
    bucket = s3_server.new_bucket()
    mon = _with_snapshots(plain, f"s3://{bucket}/snaps", s3_server.url)

    summary = run_cycle(demo_db, mon, now=DEMO_END)
    assert summary.retention.predictions_expired == old and not summary.warnings
    assert _count(demo_db, OLD, CUTOFF) == 0
    keys = _keys(s3_server, bucket)
    (snapshot_id,) = {k.split("/")[2] for k in keys}
    base = f"snaps/credit-default/{snapshot_id}/"
    assert keys == sorted(
        [base + MANIFEST] + [f"{base}day=2026-10-{d:02d}/version=v3.2/part-0.parquet" for d in range(8, 16)]
    )
    manifest = json.loads(s3_server.client().get_object(Bucket=bucket, Key=base + MANIFEST)["Body"].read())
    assert manifest["rows"] == old and len(manifest["files"]) == 8
    written = sum(f["bytes"] for f in manifest["files"])
    sizes = {o["Key"]: o["Size"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]}
    assert all(sizes[base + f["path"]] == f["bytes"] for f in manifest["files"])
    recorded = demo_db.cursor().execute("SELECT status, rows, bytes, path FROM snapshots").fetchall()
    assert recorded == [("applied", old, written, f"s3://{bucket}/{base.rstrip('/')}")]

    # Idempotent: nothing more to delete, nothing more written.
    again = expire_rows(demo_db, mon, DEMO_END)
    assert again.rows_expired == 0 and _keys(s3_server, bucket) == keys

    # Read back from S3 as the monitor's `predictions` source (only path and object_store change), in a new
    # database: the old windows' results are equal bit for bit.
    source = dataclasses.replace(
        plain.predictions,
        path=f"s3://{bucket}/{base}**/*.parquet",
        object_store=_options(s3_server.url),
    )
    with Database(tmp_path / "replay.duckdb") as db2:
        replayed = run_cycle(db2, dataclasses.replace(plain, predictions=source), now=DEMO_END)
        assert replayed.ingest.rows_inserted == old and replayed.ingest.files_read == 8
        assert db2.cursor().execute(RESULTS, [CUTOFF]).fetchall() == stats
        assert db2.cursor().execute(VERDICTS, [CUTOFF]).fetchall() == verdicts


def test_a_snapshot_without_its_manifest_is_removed_and_its_rows_kept_until_a_complete_one(
    demo_settings: Settings, demo_db: Database, s3_server: S3Server
) -> None:
    """As if killed after the data PUTs and before the manifest PUT: the objects are not a snapshot; the next
    pass removes them, marks the record abandoned, and deletes only rows a new, complete snapshot holds."""
    plain = _finished_run(demo_settings, demo_db)
    bucket = s3_server.new_bucket()
    mon = _with_snapshots(plain, f"s3://{bucket}/snaps", s3_server.url)
    store = ObjectSnapshotStore(f"s3://{bucket}/snaps", _options(s3_server.url))
    snap = write_snapshot(demo_db, mon, store, None, CUTOFF)
    assert snap is not None and snap.rows == 12_000
    prefix = f"snaps/credit-default/{snap.snapshot_id}/"
    s3_server.client().delete_object(Bucket=bucket, Key=prefix + MANIFEST)
    with demo_db.transaction() as tx:
        tx.execute("UPDATE snapshots SET status = 'writing' WHERE snapshot_id = ?", [snap.snapshot_id])
    assert len(_keys(s3_server, bucket, prefix)) == 8
    assert _count(demo_db, OLD, CUTOFF) == 12_000

    result = expire_rows(demo_db, mon, DEMO_END)
    assert _keys(s3_server, bucket, prefix) == []
    statuses = dict(demo_db.cursor().execute("SELECT snapshot_id, status FROM snapshots").fetchall())
    assert statuses.pop(snap.snapshot_id) == "abandoned"
    assert list(statuses.values()) == ["applied"]
    assert result.predictions_expired == 12_000 and _count(demo_db, OLD, CUTOFF) == 0


def test_an_unreachable_store_deletes_nothing_and_the_next_cycle_catches_up(
    demo_settings: Settings, demo_db: Database, s3_server: S3Server, fault_proxy: FaultProxy
) -> None:
    plain = _finished_run(demo_settings, demo_db)
    bucket = s3_server.new_bucket()
    mon = _with_snapshots(plain, f"s3://{bucket}/snaps", fault_proxy.url)
    fault_proxy.mode = "503"
    summary = run_cycle(demo_db, mon, now=DEMO_END)
    assert summary.retention.predictions_expired == 0
    assert _count(demo_db, OLD, CUTOFF) == 12_000
    (warning,) = summary.warnings
    assert "no snapshot written" in warning and bucket in warning
    status = (
        demo_db.cursor().execute("SELECT status, error FROM runs ORDER BY started_at DESC LIMIT 1").fetchall()
    )
    assert status[0][0] == "ok" and "no snapshot written" in str(status[0][1])
    assert _keys(s3_server, bucket) == []

    fault_proxy.mode = "pass"
    again = run_cycle(demo_db, mon, now=DEMO_END)
    assert again.retention.predictions_expired == 12_000 and not again.warnings
    assert _count(demo_db, OLD, CUTOFF) == 0
    statuses = [
        r[0] for r in demo_db.cursor().execute("SELECT status FROM snapshots ORDER BY created_at").fetchall()
    ]
    assert statuses == ["abandoned", "applied"]


def test_snapshot_command_exports_to_s3_without_deleting(
    demo_settings: Settings, s3_server: S3Server
) -> None:
    """`driftwatch snapshot` (a real process) to the monitor's `retention.snapshot` in a bucket."""
    import subprocess
    import sys

    import yaml

    with Database(demo_settings.storage) as db:
        run_cycle(db, demo_settings.monitor("credit-default"), now=DEMO_END)
        total = _count(db, 'SELECT count(*) FROM "predictions:credit-default"')
    bucket = s3_server.new_bucket()
    config = demo_settings.config_path
    data = yaml.safe_load(config.read_text())
    data["monitors"]["credit-default"]["retention"] = {
        "snapshot": {"path": f"s3://{bucket}/ondemand", "object_store": {"endpoint_url": s3_server.url}}
    }
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    done = subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", "snapshot", "--config", str(config)]
        + ["--from", "2026-10-20", "--to", "2026-10-22"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (
        "3,000 row(s) in 2 file(s)" in done.stdout
        and f"s3://{bucket}/ondemand/credit-default/" in done.stdout
    )
    keys = _keys(s3_server, bucket)
    assert [k.split("/", 3)[3] for k in keys] == [
        "day=2026-10-20/version=v3.2/part-0.parquet",
        "day=2026-10-21/version=v3.2/part-0.parquet",
        MANIFEST,
    ]
    with Database(demo_settings.storage) as db:
        assert _count(db, 'SELECT count(*) FROM "predictions:credit-default"') == total
        assert db.cursor().execute("SELECT status FROM snapshots").fetchall() == [("on_demand",)]
