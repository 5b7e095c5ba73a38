"""A prediction is identified by (request_id, model_version) (issue 16, item 1): shadow predictions (the same
request scored by another model version) are kept, re-sent rows are still skipped, the predictions table has
no primary key, and a database created with the old `request_id` primary key is rebuilt keeping every row."""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from _service import MONITOR, TOKEN, TestClient, labels_for, make_project, next_day_records
from driftwatch.api.app import create_app
from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import FeatureSpec
from driftwatch.config.server import ServerSettings
from driftwatch.config.settings import Settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.ingest import ingest_predictions
from driftwatch.storage.database import Database
from driftwatch.storage.labels import labels_without_prediction

AUTH = {"Authorization": f"Bearer {TOKEN}"}
FEATURES = FeatureSpec(numeric=("age",), categorical=("region",))
CONFIG = """\
storage: dw.duckdb
monitors:
  m:
    predictions:
      path: logs/*
      model_version: model_version
      prediction: score
    reference:
      path: train.parquet
    features:
      numeric: [age]
      categorical: [region]
    min_rows: 1
"""
# The DDL the code before issue 16 created a predictions table with (storage/predictions.py, verbatim).
OLD_DDL = (
    "request_id VARCHAR PRIMARY KEY, ts TIMESTAMP NOT NULL, model_version VARCHAR NOT NULL, "
    "prediction DOUBLE, output VARCHAR"
)


def _record(
    rid: str, version: str, score: float, age: float = 30.0, ts: str = "2026-03-01T10:00:00Z"
) -> dict:
    return {
        "request_id": rid,
        "timestamp": ts,
        "model_version": version,
        "score": score,
        "input_features": {"age": age, "region": "north"},
    }


def _write(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    pl.DataFrame({"age": [20.0 + i for i in range(50)], "region": ["north", "south"] * 25}).write_parquet(
        tmp_path / "train.parquet"
    )
    (tmp_path / "driftwatch.yml").write_text(CONFIG)
    return tmp_path


def _stored(db: Database, table: str = "predictions:m") -> list[tuple[Any, ...]]:
    return (
        db.cursor()
        .execute(f'SELECT request_id, model_version, prediction, "f:age" FROM "{table}" ORDER BY 1, 2')
        .fetchall()
    )


def _keys(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT constraint_type, constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')",
        [table],
    ).fetchall()


def test_shadow_rows_from_files_are_kept_and_re_sent_rows_are_not(project: Path) -> None:
    _write(
        project / "logs" / "a.ndjson",
        [
            _record("r1", "v1", 0.1),
            _record("r1", "v2", 0.9),  # the shadow model's prediction of the same request
            _record("r2", "v1", 0.2),
            _record("r2", "v1", 0.7, age=99.0),  # the same pair again in the batch: the first row wins
        ],
    )
    settings = load_settings(project / "driftwatch.yml")
    mon = settings.monitor("m")
    with Database(settings.storage) as db:
        first = ingest_predictions(db, mon, FEATURES)
        assert (first.rows_read, first.rows_inserted, first.rows_duplicate) == (4, 3, 1)
        assert _stored(db) == [("r1", "v1", 0.1, 30.0), ("r1", "v2", 0.9, 30.0), ("r2", "v1", 0.2, 30.0)]
        # Both versions' windows are queued.
        queued = db.cursor().execute("SELECT model_version FROM window_queue ORDER BY 1").fetchall()
        assert queued == [("v1",), ("v2",)]
        # A second file: one re-sent pair (skipped), one new shadow row (kept).
        _write(project / "logs" / "b.ndjson", [_record("r1", "v2", 0.5), _record("r2", "v2", 0.8)])
        second = ingest_predictions(db, mon, FEATURES)
        assert (second.rows_inserted, second.rows_duplicate) == (1, 1)
        # Both files read again from the start (touched, as after a crash): nothing added.
        for name in ("a.ndjson", "b.ndjson"):
            os.utime(project / "logs" / name, ns=(1, 2))
        third = ingest_predictions(db, mon, FEATURES)
        assert (third.files_read, third.rows_inserted, third.rows_duplicate) == (2, 0, 6)
        assert _stored(db) == [
            ("r1", "v1", 0.1, 30.0),
            ("r1", "v2", 0.9, 30.0),
            ("r2", "v1", 0.2, 30.0),
            ("r2", "v2", 0.8, 30.0),
        ]
        assert _keys(db.cursor(), "predictions:m") == []  # no primary key, no ART index to maintain
        assert db.cursor().execute(
            "SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'predictions:m'"
        ).fetchall() == [(0,)]


def _to_old_form(path: Path, table: str) -> None:
    """Rebuild `table` as the code before issue 16 had it: the old DDL, then its feature and segment columns
    added one by one (as `ensure_prediction_table` did), every row copied in its stored order."""
    with duckdb.connect(str(path)) as con:
        columns = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index",
            [table],
        ).fetchall()
        old = f'"{table}:old"'
        con.execute("BEGIN")
        con.execute(f"CREATE TABLE {old} ({OLD_DDL})")
        for name, data_type in columns[5:]:
            con.execute(f'ALTER TABLE {old} ADD COLUMN "{name}" {data_type}')
        con.execute(f'INSERT INTO {old} SELECT * FROM "{table}"')
        con.execute(f'DROP TABLE "{table}"')
        con.execute(f'ALTER TABLE {old} RENAME TO "{table}"')
        con.execute("COMMIT")
        assert _keys(con, table) == [("PRIMARY KEY", ["request_id"])]


def _snapshot(path: Path, table: str) -> tuple[list[tuple[Any, ...]], str]:
    """The table's columns (name, type, nullable, in order) and every row in stored order, as text."""
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE table_name = ? "
            "ORDER BY column_index",
            [table],
        ).fetchall()
        rows = repr(con.execute(f'SELECT * FROM "{table}"').fetchall())
    return columns, rows


def test_a_database_with_the_old_primary_key_is_rebuilt_keeping_every_row(
    demo_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = demo_settings.monitor("credit-default")
    table = "predictions:credit-default"
    path = Path(demo_settings.storage)
    with Database(path, demo_settings.database) as db:
        run_cycle(db, monitor, now=datetime(2026, 11, 1, tzinfo=UTC))
        stored = db.cursor().execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]
    assert stored > 20_000
    _to_old_form(path, table)
    columns, rows = _snapshot(path, table)
    assert ("request_id", "VARCHAR", False) in columns and len(columns) > 10

    caplog.set_level(logging.INFO, logger="driftwatch.storage")
    with Database(path, demo_settings.database) as db:  # the new code opens the old file
        assert _keys(db.cursor(), table) == []
        assert db.cursor().execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '%predictions:%'"
        ).fetchall() == [(1,)]  # no rebuild table left behind
    assert _snapshot(path, table) == (columns, rows)  # columns, types, NOT NULLs, rows and their order
    rebuilt = [r.getMessage() for r in caplog.records if "rebuilt" in r.getMessage()]
    assert len(rebuilt) == 1 and f": {stored} rows in" in rebuilt[0], rebuilt

    caplog.clear()
    with Database(path, demo_settings.database) as db:
        assert not [r for r in caplog.records if "rebuilt" in r.getMessage()]  # opened again: nothing to do
        # Every file read again: every row is a duplicate, none added.
        db.cursor().execute("DELETE FROM ingested_files WHERE kind = 'predictions'")
        summary = ingest_predictions(db, monitor, monitor.features or FEATURES)
        assert summary.rows_inserted == 0 and not summary.failed_files
        # every stored row is met again as a duplicate (the demo's files repeat some ids: more than stored)
        assert summary.rows_duplicate >= stored
    assert _snapshot(path, table) == (columns, rows)


def test_a_crash_during_the_rebuild_keeps_the_old_table(demo_settings: Settings) -> None:
    """The rebuild is one transaction: if it fails, the old table (key and rows) is untouched and the next
    open rebuilds it."""
    from driftwatch.storage import prediction_identity

    table = "predictions:credit-default"
    path = Path(demo_settings.storage)
    with Database(path, demo_settings.database) as db:
        run_cycle(db, demo_settings.monitor("credit-default"), now=datetime(2026, 11, 1, tzinfo=UTC))
    _to_old_form(path, table)
    before = _snapshot(path, table)
    real = prediction_identity.rebuild_without_key

    def failing(tx: duckdb.DuckDBPyConnection, name: str) -> int:
        real(tx, name)
        raise RuntimeError("killed mid-rebuild")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("driftwatch.storage.database.rebuild_without_key", failing)
        with pytest.raises(RuntimeError, match="killed mid-rebuild"):
            Database(path, demo_settings.database)
    with duckdb.connect(str(path), read_only=True) as con:
        assert _keys(con, table) == [("PRIMARY KEY", ["request_id"])]
    assert _snapshot(path, table) == before
    with Database(path, demo_settings.database) as db:
        assert _keys(db.cursor(), table) == []
    assert _snapshot(path, table)[1] == before[1]


# --- pushes ------------------------------------------------------------------------------------------------


@pytest.fixture
def pushed(tmp_path: Path) -> tuple[Settings, list[dict[str, Any]]]:
    settings = load_settings(make_project(tmp_path / "demo"))
    return settings, next_day_records(tmp_path / "extra")[:100]


def _shadow(records: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    return [
        {**r, "model_version": version, "raw_prediction": 1.0 - float(r["raw_prediction"])} for r in records
    ]


def test_shadow_rows_pushed_through_the_api_are_kept_and_retries_are_not(
    pushed: tuple[Settings, list[dict[str, Any]]],
) -> None:
    settings, records = pushed
    with Database(settings.storage, settings.database) as db:
        client = TestClient(
            create_app(settings, db, ServerSettings(), token=TOKEN), raise_server_exceptions=False
        )
        url = f"/api/monitors/{MONITOR}/predictions"
        version = str(records[0]["model_version"])
        first = client.post(url, headers=AUTH, json=records).json()
        assert (first["inserted"], first["duplicate"]) == (100, 0)
        shadow = client.post(url, headers=AUTH, json=_shadow(records, "shadow-2")).json()
        assert (shadow["inserted"], shadow["duplicate"]) == (100, 0)
        retried = client.post(url, headers=AUTH, json=_shadow(records, "shadow-2")).json()
        assert (retried["inserted"], retried["duplicate"]) == (0, 100)
        mixed = client.post(url, headers=AUTH, json=records[:10] + _shadow(records[:10], "shadow-3")).json()
        assert (mixed["inserted"], mixed["duplicate"]) == (10, 10)
        rows = (
            db.cursor()
            .execute(
                f'SELECT model_version, count(*), sum(prediction) FROM "predictions:{MONITOR}" '
                "WHERE request_id IN (SELECT unnest(?)) GROUP BY 1 ORDER BY 1",
                [[str(r["request_id"]) for r in records]],
            )
            .fetchall()
        )
        total = sum(float(r["raw_prediction"]) for r in records)
        assert [(v, n) for v, n, _ in rows] == [("shadow-2", 100), ("shadow-3", 10), (version, 100)]
        assert dict((v, s) for v, _, s in rows)[version] == pytest.approx(total)
        assert dict((v, s) for v, _, s in rows)["shadow-2"] == pytest.approx(100 - total)


def test_an_insert_waits_for_another_uncommitted_insert_of_the_same_monitor(
    pushed: tuple[Settings, list[dict[str, Any]]],
) -> None:
    """Without a primary key, two transactions inserting the same pair at once would each miss the other's
    uncommitted row and store it twice. A push that starts while a cycle's file batch holding the same rows is
    not yet committed waits for that COMMIT, then finds every row stored."""
    settings, records = pushed
    with Database(settings.storage, settings.database) as db:
        client = TestClient(
            create_app(settings, db, ServerSettings(), token=TOKEN), raise_server_exceptions=False
        )
        url = f"/api/monitors/{MONITOR}/predictions"
        # A first push builds the reference and the table (other ids).
        assert client.post(url, headers=AUTH, json=_shadow(records, "warm-up")).status_code == 200
        ids = [str(r["request_id"]) for r in records]
        version = str(records[0]["model_version"])
        inserted, release = threading.Event(), threading.Event()

        def cycle_batch() -> None:
            """A cycle's file batch holding the same predictions, its transaction left open."""
            with db.predictions_writer(MONITOR), db.transaction() as tx:
                tx.execute(
                    f'INSERT INTO "predictions:{MONITOR}" (request_id, ts, model_version) '
                    "SELECT unnest(?), TIMESTAMP '2026-11-01 12:00:00', ?",
                    [ids, version],
                )
                inserted.set()
                release.wait(30)

        holder = threading.Thread(target=cycle_batch, daemon=True)
        holder.start()
        assert inserted.wait(30)
        answer: dict[str, Any] = {}
        push = threading.Thread(
            target=lambda: answer.update(client.post(url, headers=AUTH, json=records).json())
        )
        push.start()
        push.join(1.0)
        assert push.is_alive(), "the push did not wait for the uncommitted insert of the same monitor"
        release.set()
        holder.join(30)
        push.join(60)
        assert (answer["inserted"], answer["duplicate"]) == (0, 100)
        count = (
            db.cursor()
            .execute(
                f'SELECT count(*), count(DISTINCT request_id) FROM "predictions:{MONITOR}" WHERE model_version <> ?',
                ["warm-up"],
            )
            .fetchall()
        )
        assert count == [(100, 100)]


# --- labels and performance --------------------------------------------------------------------------------


def test_a_label_joins_every_version_s_prediction_and_each_version_is_measured_on_its_own(
    tmp_path: Path,
) -> None:
    """Shadow traffic: both versions scored the same 600 requests; the shadow's score is the production
    score reversed. One label per request queues both versions' window, and each version's AUC is computed
    from its own scores: the labels follow production's score, so 1.0 for it and 0.0 for the shadow."""
    settings = load_settings(make_project(tmp_path / "demo"))
    records = next_day_records(tmp_path / "extra")
    labels = labels_for(records)
    with Database(settings.storage, settings.database) as db:
        client = TestClient(
            create_app(settings, db, ServerSettings(), token=TOKEN), raise_server_exceptions=False
        )
        url = f"/api/monitors/{MONITOR}"
        production = str(records[0]["model_version"])
        assert client.post(f"{url}/predictions", headers=AUTH, json=records).json()["inserted"] == 600
        shadow = client.post(f"{url}/predictions", headers=AUTH, json=_shadow(records, "shadow-2")).json()
        assert shadow["inserted"] == 600
        pushed = client.post(f"{url}/labels", headers=AUTH, json=labels).json()
        assert (pushed["new"], pushed["windows_queued"]) == (300, 2)  # one window, two versions
        assert labels_without_prediction(db.cursor(), MONITOR) == 0  # the only labels yet: all matched
        queued = (
            db.cursor()
            .execute(
                "SELECT model_version, window_start FROM performance_queue WHERE monitor = ? ORDER BY 1",
                [MONITOR],
            )
            .fetchall()
        )
        assert sorted(queued) == sorted(
            [(production, datetime(2026, 11, 1)), ("shadow-2", datetime(2026, 11, 1))]
        )
        assert client.post(f"{url}/runs", headers=AUTH).status_code == 200
        measured = (
            db.cursor()
            .execute(
                "SELECT model_version, value, n_predictions, n_labels FROM performance_results "
                "WHERE monitor = ? AND metric = 'roc_auc' AND segment = '*' AND window_start = ? ORDER BY 1",
                [MONITOR, datetime(2026, 11, 1)],
            )
            .fetchall()
        )
        assert sorted((v, n, k) for v, _, n, k in measured) == sorted(
            [(production, 600, 300), ("shadow-2", 600, 300)]
        )
        assert dict((v, auc) for v, auc, _, _ in measured) == {
            production: pytest.approx(1.0),
            "shadow-2": pytest.approx(0.0),
        }


# --- retention with snapshots ------------------------------------------------------------------------------


def test_a_snapshot_deletes_only_the_predictions_it_holds_not_a_later_shadow_row(tmp_path: Path) -> None:
    """Retention with snapshots deletes the rows a completed snapshot holds. A shadow model's row of a
    request in the snapshot (the same request id, another version) that arrived after it was written is not
    in it and must stay until the next snapshot holds it."""
    from driftwatch.storage.predictions import ensure_prediction_table
    from driftwatch.storage.snapshots import delete_snapshotted_predictions

    snapshot = tmp_path / "part-0.parquet"
    pl.DataFrame({"rid": ["r1", "r2"], "version": ["v1", "v1"]}).write_parquet(snapshot)
    with Database(tmp_path / "dw.duckdb") as db:
        with db.transaction() as tx:
            ensure_prediction_table(tx, "m", ("age",), ())
            tx.execute(
                'INSERT INTO "predictions:m" (request_id, ts, model_version) VALUES '
                "('r1', '2026-01-01', 'v1'), ('r2', '2026-01-01', 'v1'), ('r1', '2026-01-01', 'v2'), "
                "('r3', '2026-01-01', 'v1')"
            )
        with db.transaction() as tx:
            deleted = delete_snapshotted_predictions(
                tx, "m", ("rid", "version"), [str(snapshot)], datetime(2026, 2, 1), 1000
            )
        assert deleted == 2
        left = db.cursor().execute('SELECT request_id, model_version FROM "predictions:m" ORDER BY 1, 2')
        assert left.fetchall() == [("r1", "v2"), ("r3", "v1")]
