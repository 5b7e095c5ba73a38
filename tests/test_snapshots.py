"""Snapshots before deletion (issue 19, item 2), on real DuckDB files and real Parquet folders."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from _demo import DEMO_END
from driftwatch.config.retention import RetentionSettings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.retention import expire_rows
from driftwatch.pipeline.snapshots import MANIFEST, settle_unfinished, write_snapshot
from driftwatch.sources.snapshot_store import LocalSnapshotStore
from driftwatch.storage.database import Database

CUTOFF = datetime(2026, 10, 16)
RESULTS = (
    "SELECT model_version, segment, window_start, feature, statistic, value FROM feature_stats "
    "WHERE window_start < ? ORDER BY ALL"
)
VERDICTS = (
    "SELECT model_version, segment, window_start, feature, rows, status, reason FROM feature_results "
    "WHERE window_start < ? ORDER BY ALL"
)


def _retention(snapshot: Path) -> RetentionSettings:
    return RetentionSettings(
        predictions=timedelta(days=16),
        label_horizon=timedelta(days=14),
        batch_rows=5000,
        snapshot=str(snapshot),
    )


def _count(db: Database, sql: str, *params: object) -> int:
    row = db.cursor().execute(sql, list(params)).fetchone()
    assert row is not None
    return int(row[0])


def test_expired_rows_are_snapshotted_then_deleted_and_read_back_bit_for_bit(
    demo_settings: Settings, demo_db: Database, tmp_path: Path
) -> None:
    plain = demo_settings.monitor("credit-default")
    mon = dataclasses.replace(plain, retention=_retention(tmp_path / "snap"))
    run_cycle(demo_db, plain, now=DEMO_END)
    stats = demo_db.cursor().execute(RESULTS, [CUTOFF]).fetchall()
    verdicts = demo_db.cursor().execute(VERDICTS, [CUTOFF]).fetchall()
    assert stats and verdicts
    old = _count(demo_db, 'SELECT count(*) FROM "predictions:credit-default" WHERE ts < ?', CUTOFF)

    summary = run_cycle(demo_db, mon, now=DEMO_END)
    assert summary.retention.predictions_expired == old
    folders = [p for p in (tmp_path / "snap" / "credit-default").iterdir()]
    assert len(folders) == 1 and not folders[0].name.startswith(".tmp-")
    manifest = json.loads((folders[0] / MANIFEST).read_text())
    assert manifest["rows"] == old
    days = sorted({f["path"].split("/")[0] for f in manifest["files"]})
    assert days == [f"day=2026-10-{d:02d}" for d in range(8, 16)]
    assert all(f["path"].split("/")[1] == "version=v3.2" for f in manifest["files"])
    assert demo_db.cursor().execute(
        "SELECT status, rows FROM snapshots WHERE monitor = 'credit-default'"
    ).fetchall() == [("applied", old)]
    # Visible in /metrics: rows expired, snapshot bytes, the oldest row kept.
    from _service import TestClient
    from driftwatch.api.app import create_app
    from driftwatch.config.server import ServerSettings

    client = TestClient(create_app(demo_settings, demo_db, ServerSettings(), token=None))
    text = client.get("/metrics").text
    runs = client.get("/api/runs").json()["items"]
    assert [r["rows_expired"] for r in runs] == [old, 0]  # newest first: the retention cycle, the plain one
    written = sum(f["bytes"] for f in manifest["files"])
    assert f'driftwatch_rows_expired_total{{monitor="credit-default"}} {float(old)}' in text
    assert f'driftwatch_snapshot_bytes_total{{monitor="credit-default"}} {float(written)}' in text
    oldest = summary.retention.oldest_kept
    assert oldest is not None and oldest >= CUTOFF
    from prometheus_client.utils import floatToGoString

    from driftwatch.durations import as_utc

    value = floatToGoString(as_utc(oldest).timestamp())
    assert f'driftwatch_oldest_prediction_timestamp_seconds{{monitor="credit-default"}} {value}' in text
    again = expire_rows(demo_db, mon, DEMO_END)
    assert again.rows_expired == 0 and len(list((tmp_path / "snap" / "credit-default").iterdir())) == 1

    # Read back as the monitor's `predictions` source (only the path changes), in a new database.
    source = dataclasses.replace(plain.predictions, path=str(folders[0] / "**" / "*.parquet"))
    replay = dataclasses.replace(plain, predictions=source)
    with Database(tmp_path / "replay.duckdb") as db2:
        run_cycle(db2, replay, now=DEMO_END)
        assert db2.cursor().execute(RESULTS, [CUTOFF]).fetchall() == stats
        assert db2.cursor().execute(VERDICTS, [CUTOFF]).fetchall() == verdicts


def test_rows_not_in_a_completed_snapshot_are_not_deleted(
    demo_settings: Settings, demo_db: Database, tmp_path: Path
) -> None:
    """A stopped process left a snapshot without its manifest: it is discarded, and its rows are kept until a
    completed snapshot holds them."""
    plain = demo_settings.monitor("credit-default")
    mon = dataclasses.replace(plain, retention=_retention(tmp_path / "snap"))
    run_cycle(demo_db, plain, now=DEMO_END)
    total = _count(demo_db, 'SELECT count(*) FROM "predictions:credit-default"')
    snap = write_snapshot(demo_db, mon, LocalSnapshotStore(tmp_path / "snap"), None, CUTOFF)
    assert snap is not None
    (Path(snap.path) / MANIFEST).unlink()  # as if killed between the rename and the manifest
    with demo_db.transaction() as tx:
        tx.execute("UPDATE snapshots SET status = 'writing' WHERE snapshot_id = ?", [snap.snapshot_id])
    assert _count(demo_db, 'SELECT count(*) FROM "predictions:credit-default"') == total
    result = expire_rows(demo_db, mon, DEMO_END)
    assert not Path(snap.path).exists()
    statuses = dict(demo_db.cursor().execute("SELECT snapshot_id, status FROM snapshots").fetchall())
    assert statuses.pop(snap.snapshot_id) == "abandoned"
    assert list(statuses.values()) == ["applied"]
    assert result.predictions_expired == snap.rows


def test_snapshot_command_exports_a_range_without_deleting(demo_settings: Settings, tmp_path: Path) -> None:
    with Database(demo_settings.storage) as db:
        run_cycle(db, demo_settings.monitor("credit-default"), now=DEMO_END)
        total = _count(db, 'SELECT count(*) FROM "predictions:credit-default"')
        in_range = _count(
            db,
            'SELECT count(*) FROM "predictions:credit-default" WHERE ts >= ? AND ts < ?',
            datetime(2026, 10, 20),
            datetime(2026, 10, 22),
        )
    out_dir = tmp_path / "exported"
    base = [sys.executable, "-m", "driftwatch.cli", "snapshot", "--config", str(demo_settings.config_path)]
    done = subprocess.run(
        [*base, "--from", "2026-10-20", "--to", "2026-10-22", "--out", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"{in_range:,} row(s)" in done.stdout
    (folder,) = list((out_dir / "credit-default").iterdir())
    with duckdb.connect() as con:
        rows = con.execute("SELECT count(*) FROM read_parquet(?)", [f"{folder}/**/*.parquet"]).fetchall()
    assert rows == [(in_range,)]
    with Database(demo_settings.storage) as db:
        assert _count(db, 'SELECT count(*) FROM "predictions:credit-default"') == total
        assert db.cursor().execute("SELECT status FROM snapshots").fetchall() == [("on_demand",)]
    bad = subprocess.run(
        [*base, "--from", "2026-10-22", "--to", "2026-10-20", "--out", str(out_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--to" in bad.stderr


@pytest.mark.parametrize("missing", ["--from", "--to"])
def test_snapshot_command_needs_both_ends(demo_settings: Settings, missing: str) -> None:
    args = {"--from": "2026-10-20", "--to": "2026-10-22"}
    args.pop(missing)
    done = subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", "snapshot", "--config", str(demo_settings.config_path)]
        + [x for kv in args.items() for x in kv],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and missing in done.stderr


def test_an_on_demand_snapshot_killed_before_its_status_is_never_used_for_a_deletion(
    demo_settings: Settings, demo_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`driftwatch snapshot` killed after writing its manifest but before its status became `on_demand`: the
    next pass settles it `on_demand` (its recorded purpose), not `complete`, so retention never relies on it."""
    import driftwatch.pipeline.snapshots as snapshots

    plain = demo_settings.monitor("credit-default")
    mon = dataclasses.replace(plain, retention=_retention(tmp_path / "snap"))
    run_cycle(demo_db, plain, now=DEMO_END)
    real_status = snapshots.set_snapshot_status

    class Killed(BaseException):
        pass

    def killed_at_on_demand(
        cur: duckdb.DuckDBPyConnection,
        snapshot_id: str,
        status: str,
        rows: int | None = None,
        size: int | None = None,
    ) -> None:
        if status == "on_demand":
            raise Killed  # the process dies between the manifest and the status
        real_status(cur, snapshot_id, status, rows, size)

    monkeypatch.setattr(snapshots, "set_snapshot_status", killed_at_on_demand)
    store = LocalSnapshotStore(tmp_path / "on-demand")
    with pytest.raises(Killed):
        write_snapshot(demo_db, mon, store, None, CUTOFF, status="on_demand")
    monkeypatch.setattr(snapshots, "set_snapshot_status", real_status)
    (folder,) = list((tmp_path / "on-demand" / "credit-default").iterdir())
    assert (folder / MANIFEST).exists()

    assert settle_unfinished(demo_db, mon) == []  # nothing a deletion may rely on
    assert demo_db.cursor().execute("SELECT status FROM snapshots").fetchall() == [("on_demand",)]
    assert (folder / MANIFEST).exists()  # the export is kept, as `driftwatch snapshot` meant
