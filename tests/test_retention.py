"""Retention (issue 19, item 1): expired raw prediction rows go, everything computed from them stays.

All on a real DuckDB file: the small demo project (24 days to 2026-11-01, labels 1-14 days late).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from _demo import DEMO_END
from driftwatch.cli import summary as cli_summary
from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.retention import RetentionSettings, minimum_prediction_retention
from driftwatch.config.settings import Settings
from driftwatch.errors import ConfigError
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.retention import expire_rows, prediction_cutoff
from driftwatch.pipeline.rollup import rollup_results
from driftwatch.storage.database import Database
from driftwatch.storage.windows import pending_windows, requeue_computed_windows

RETAIN = timedelta(days=16)  # >= 1d window + 14d label horizon, and leaves 8 of the 24 days to expire
HORIZON = timedelta(days=14)
CUTOFF = datetime(2026, 10, 16)  # 2026-11-01 - 16d, on a day boundary


def _with_retention(mon: MonitorConfig, batch_rows: int = 1000) -> MonitorConfig:
    settings = RetentionSettings(predictions=RETAIN, label_horizon=HORIZON, batch_rows=batch_rows)
    assert settings.predictions is not None
    assert settings.predictions >= minimum_prediction_retention(settings, mon.window, mon.labels is not None)
    return dataclasses.replace(mon, retention=settings)


def _count(db: Database, sql: str, *params: object) -> int:
    row = db.cursor().execute(sql, list(params)).fetchone()
    assert row is not None
    return int(row[0])


def _table_rows(db: Database) -> int:
    return _count(db, 'SELECT count(*) FROM "predictions:credit-default"')


def test_rollup_after_expiry_equals_rollup_before(demo_settings: Settings, demo_db: Database) -> None:
    mon = _with_retention(demo_settings.monitor("credit-default"))
    before_rows = _table_rows(demo_db) if demo_db.table_exists("predictions:credit-default") else 0
    assert before_rows == 0
    plain = demo_settings.monitor("credit-default")
    run_cycle(demo_db, plain, now=DEMO_END)  # everything computed, nothing deleted (retention off)
    weekly_before = rollup_results(demo_db, plain, timedelta(days=7))
    daily_before = rollup_results(demo_db, plain, timedelta(days=1))
    perf_before = demo_db.cursor().execute("SELECT * FROM performance_results ORDER BY ALL").fetchall()
    summaries_before = demo_db.cursor().execute("SELECT * FROM window_summaries ORDER BY ALL").fetchall()
    total = _table_rows(demo_db)
    old = _count(demo_db, 'SELECT count(*) FROM "predictions:credit-default" WHERE ts < ?', CUTOFF)
    assert 0 < old < total

    summary = run_cycle(demo_db, mon, now=DEMO_END)
    assert summary.retention.cutoff == CUTOFF
    assert summary.retention.predictions_expired == old
    assert _table_rows(demo_db) == total - old
    assert _count(demo_db, 'SELECT count(*) FROM "predictions:credit-default" WHERE ts < ?', CUTOFF) == 0
    assert summary.retention.oldest_kept is not None and summary.retention.oldest_kept >= CUTOFF
    # The run records it.
    assert _count(demo_db, "SELECT rows_expired FROM runs WHERE run_id = ?", summary.run_id) == old

    # What was computed from the deleted rows is all still there, unchanged, and the roll-ups equal.
    assert rollup_results(demo_db, mon, timedelta(days=7)) == weekly_before
    assert rollup_results(demo_db, mon, timedelta(days=1)) == daily_before
    assert (
        demo_db.cursor().execute("SELECT * FROM performance_results ORDER BY ALL").fetchall() == perf_before
    )
    assert (
        demo_db.cursor().execute("SELECT * FROM window_summaries ORDER BY ALL").fetchall() == summaries_before
    )

    # Idempotent: a second pass deletes nothing.
    again = expire_rows(demo_db, mon, DEMO_END)
    assert again.rows_expired == 0 and _table_rows(demo_db) == total - old


def test_rows_of_a_queued_window_are_kept_until_it_is_computed(
    demo_settings: Settings, demo_db: Database
) -> None:
    mon = _with_retention(demo_settings.monitor("credit-default"), batch_rows=700)
    run_cycle(demo_db, demo_settings.monitor("credit-default"), now=DEMO_END)
    total = _table_rows(demo_db)
    old = _count(demo_db, 'SELECT count(*) FROM "predictions:credit-default" WHERE ts < ?', CUTOFF)
    # A reference change queues every computed window again: none of their rows may go before they are redone.
    with demo_db.transaction() as tx:
        requeue_computed_windows(tx, mon.name, "reference changed", datetime(2026, 11, 1))
    # Nothing goes: the earliest old window is queued, and the watermark never passes a queued window.
    result = expire_rows(demo_db, mon, DEMO_END)
    assert result.predictions_expired == 0 and result.cutoff == datetime(2026, 10, 8)
    assert _table_rows(demo_db) == total
    # Once the first day is recomputed (it leaves the queues), its rows, and only those, may go.
    day = datetime(2026, 10, 8)
    with demo_db.transaction() as tx:
        tx.execute("DELETE FROM window_queue WHERE monitor = ? AND window_start = ?", [mon.name, day])
        tx.execute("DELETE FROM performance_queue WHERE monitor = ? AND window_start = ?", [mon.name, day])
    day_rows = _count(
        demo_db,
        'SELECT count(*) FROM "predictions:credit-default" WHERE ts >= ? AND ts < ?',
        day,
        day + timedelta(days=1),
    )
    result = expire_rows(demo_db, mon, DEMO_END)
    assert result.cutoff == day + timedelta(days=1)
    assert result.predictions_expired == day_rows > 700  # more than one batch
    assert _table_rows(demo_db) == total - day_rows
    # Once the cycle has computed the queued windows, the rest of the old rows go.
    summary = run_cycle(demo_db, mon, now=DEMO_END)
    assert summary.windows_computed > 0 and summary.retention.cutoff == CUTOFF
    assert summary.retention.predictions_expired == old - day_rows
    assert _table_rows(demo_db) == total - old


def test_expired_windows_are_never_recomputed_from_a_partial_set(
    demo_settings: Settings, demo_db: Database
) -> None:
    mon = _with_retention(demo_settings.monitor("credit-default"))
    run_cycle(demo_db, mon, now=DEMO_END)
    old_results = "SELECT * FROM feature_results WHERE window_start < ? ORDER BY ALL"
    results = demo_db.cursor().execute(old_results, [CUTOFF]).fetchall()
    assert results
    with demo_db.transaction() as tx:
        requeue_computed_windows(tx, mon.name, "reference changed", datetime(2026, 11, 1))
    starts = {w.start for w in pending_windows(demo_db.cursor(), mon.name, datetime(2026, 11, 1))}
    assert starts and min(starts) == CUTOFF
    # A late row for an expired day (its other rows are gone) is stored and queued, but never judged alone.
    with demo_db.transaction() as tx:
        tx.execute(
            "INSERT INTO window_queue VALUES (?, 'v3.2', ?, ?, ?, 'late row')",
            [mon.name, datetime(2026, 10, 10), datetime(2026, 10, 11), datetime(2026, 11, 1)],
        )
    summary = run_cycle(demo_db, mon, now=DEMO_END)
    assert summary.windows_computed == len(starts)
    assert summary.retention.late_windows_dropped == 2  # its drift and its performance queue entries
    assert demo_db.cursor().execute(old_results, [CUTOFF]).fetchall() == results


def test_retention_off_by_default_deletes_nothing(demo_settings: Settings, demo_db: Database) -> None:
    mon = demo_settings.monitor("credit-default")
    assert mon.retention == RetentionSettings() and not mon.retention.enabled
    assert prediction_cutoff(mon, DEMO_END) is None
    summary = run_cycle(demo_db, mon, now=DEMO_END)
    assert summary.retention.rows_expired == 0
    assert _table_rows(demo_db) == summary.ingest.rows_inserted


def test_summary_line_reports_expired_rows(
    demo_settings: Settings, demo_db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run_cycle(demo_db, _with_retention(demo_settings.monitor("credit-default")), now=DEMO_END)
    cli_summary.print_summary(summary, 500)
    text = capsys.readouterr().out
    assert f"retention: {summary.retention.rows_expired:,} row(s) expired" in text
    assert "oldest prediction kept 2026-10-16 00:00 UTC" in text


CONFIG = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions:
      path: data/p/*.parquet
      prediction: score
    reference:
      path: data/train.parquet
    task: binary_classification
    labels:
      path: data/labels/*.parquet
    window: 1d
{retention}"""


def _load(tmp_path: Path, retention: str, extra: str = "") -> Settings:
    path = tmp_path / "driftwatch.yml"
    path.write_text(CONFIG.format(retention=retention) + extra)
    return load_settings(path)


def test_retention_shorter_than_the_label_horizon_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, "    retention: {predictions: 20d}\n")
    text = str(err.value)
    assert "monitors.m.retention.predictions" in text and "driftwatch.yml" in text
    assert "label horizon (30d)" in text and "31d" in text and "20d" in text
    ok = _load(tmp_path, "    retention: {predictions: 90d, quarantine: 30d, labels: 180d}\n").monitor("m")
    assert ok.retention.predictions == timedelta(days=90) and ok.retention.labels == timedelta(days=180)
    short_horizon = _load(tmp_path, "    retention: {predictions: 20d, label_horizon: 14d}\n").monitor("m")
    assert short_horizon.retention.predictions == timedelta(days=20)


def test_snapshot_to_object_storage_is_read_with_its_object_store_options(tmp_path: Path) -> None:
    text = (
        "    retention:\n      predictions: 90d\n      snapshot:\n        path: s3://bucket/snaps/\n"
        "        object_store: {endpoint_url: 'http://127.0.0.1:9000', region: eu-west-1}\n"
    )
    retention = _load(tmp_path, text).monitor("m").retention
    assert retention.snapshot == "s3://bucket/snaps"
    assert retention.snapshot_store.endpoint_url == "http://127.0.0.1:9000"
    assert retention.snapshot_store.region == "eu-west-1"
    local = _load(tmp_path, "    retention: {predictions: 90d, snapshot: {path: snaps}}\n").monitor("m")
    assert local.retention.snapshot == str(tmp_path / "snaps")


def test_retention_shorter_than_the_alert_backfill_is_refused(tmp_path: Path) -> None:
    retention = "    retention: {predictions: 40d}\n"
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, retention, "alerting:\n  backfill: 60d\n")
    assert "alerting.backfill" in str(err.value) and "60d" in str(err.value)
    assert _load(tmp_path, retention, "alerting:\n  backfill: 30d\n").monitor("m").retention.enabled


@pytest.mark.parametrize(
    ("retention", "key"),
    [
        ("    retention: {predictions: soon}\n", "retention.predictions"),
        ("    retention: {labels: 10d}\n", "retention.labels"),
        ("    retention: {batch_rows: 0}\n", "retention.batch_rows"),
        ("    retention: {predictions: 90d, labels: 60d}\n", "retention.labels"),
        ("    retention: {keep: 1d}\n", "retention.keep"),
        ("    retention: {predictions: 90d, snapshot: 'ftp://host/snap'}\n", "retention.snapshot"),
        ("    retention: {predictions: 90d, snapshot: 's3://'}\n", "retention.snapshot"),
        (
            "    retention: {predictions: 90d, snapshot: {object_store: {region: eu}}}\n",
            "retention.snapshot.path",
        ),
        (
            "    retention: {predictions: 90d, snapshot: {path: 's3://b/p', object_store: {secret_key: x}}}\n",
            "retention.snapshot.object_store.secret_key",
        ),
        (
            "    retention: {predictions: 90d, snapshot: {path: snaps, object_store: {region: eu}}}\n",
            "retention.snapshot",
        ),
        (
            "    retention: {predictions: 90d, snapshot: {path: 's3://b/p', endpoint: x}}\n",
            "retention.snapshot.endpoint",
        ),
    ],
)
def test_bad_retention_values_name_their_key(tmp_path: Path, retention: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _load(tmp_path, retention)


RULES = """\
channels:
  log: {type: log, path: alerts.log}
route: {channels: [log]}
groups:
  - name: drift
    rules:
      - alert: LongPSI
        select: {monitor: "*", metric: psi, feature: "*"}
        condition: {op: ">", threshold: 0.25}
        for: 30
        keep_firing_for: 10
"""


def test_retention_shorter_than_the_rules_look_back_is_refused(tmp_path: Path) -> None:
    from driftwatch.cli.run import prepare_alerting

    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "long.yml").write_text(RULES)
    alerting = "alerting:\n  rules: rules\n  backfill: 7d\n"
    settings = _load(tmp_path, "    retention: {predictions: 35d}\n", alerting)
    with pytest.raises(ConfigError) as err:
        prepare_alerting(settings)
    text = str(err.value)
    assert "monitors.m.retention.predictions" in text and "40 windows" in text and "40d" in text
    assert prepare_alerting(_load(tmp_path, "    retention: {predictions: 40d}\n", alerting)) is not None


def test_deletion_runs_in_time_slices_of_about_batch_rows(
    demo_settings: Settings, demo_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each slice is its own transaction of about `batch_rows` rows (more only where rows share the slice's
    last timestamp); the last one takes what is left; the total is every expired row, and nothing newer."""
    import driftwatch.pipeline.retention as retention

    plain = demo_settings.monitor("credit-default")
    run_cycle(demo_db, plain, now=DEMO_END)
    old = _count(demo_db, 'SELECT count(*) FROM "predictions:credit-default" WHERE ts < ?', CUTOFF)
    kept = _table_rows(demo_db) - old
    ties = _count(
        demo_db, 'SELECT max(n) FROM (SELECT count(*) AS n FROM "predictions:credit-default" GROUP BY ts)'
    )
    sizes: list[int] = []
    real = retention.delete_expired_predictions

    def recorded(*args: object) -> int:
        n = real(*args)  # type: ignore[arg-type]
        sizes.append(n)
        return n

    monkeypatch.setattr(retention, "delete_expired_predictions", recorded)
    summary = expire_rows(demo_db, _with_retention(plain, batch_rows=700), DEMO_END)
    assert summary.predictions_expired == old == sum(sizes)
    assert _table_rows(demo_db) == kept
    assert len(sizes) == old // 700 + 1  # full slices, then the remainder
    # Rows sharing a timestamp go together: a slice may take up to `ties - 1` rows of the next one.
    assert all(700 - ties < n < 700 + ties for n in sizes[:-1]) and sizes[-1] < 700 + ties, (sizes, ties)
