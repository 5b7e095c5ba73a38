"""storage/windows.py and storage/label_truth.py on a real DuckDB file: which rows a window reads (start
inclusive, end exclusive), which queued windows are due, and that storing a window's results replaces them and
keeps a window queued again meanwhile. (The whole-pipeline boundary tests are elsewhere; these pin the storage
functions the pipeline calls.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from driftwatch.storage.database import Database
from driftwatch.storage.label_truth import truth_and_score_sql
from driftwatch.storage.predictions import ensure_prediction_table
from driftwatch.storage.schema import feature_column, prediction_table, segment_column
from driftwatch.storage.windows import (
    PlannedWindow,
    WindowRows,
    category_counts_by_segment,
    pending_windows,
    replace_window_results,
    requeue_computed_windows,
    segment_values,
    stored_bins,
    window_arrays,
)

START = datetime(2026, 3, 2)
END = START + timedelta(days=1)
US = timedelta(microseconds=1)
WINDOW = PlannedWindow("*", START, END, START)
# (id, ts, version, score, x, colour, region): one row just before the window, one at its start, two inside,
# one a microsecond before its end, one exactly at its end (the next window's first row).
ROWS = [
    ("before", START - US, "v1", 0.9, 100.0, "red", "eu"),
    ("at-start", START, "v1", 0.1, 1.0, "red", "eu"),
    ("inside", START + timedelta(hours=6), "v2", 0.2, None, "blue", "us"),
    ("inside-2", START + timedelta(hours=12), "v1", None, 3.0, None, "us"),
    ("last", END - US, "v2", 0.4, 4.0, "blue", "eu"),
    ("at-end", END, "v1", 0.8, 200.0, "green", "us"),
]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "dw.duckdb")
    cur = database.cursor()
    ensure_prediction_table(cur, "m", ("x",), ("colour",), ("region",))
    cur.executemany(
        f"INSERT INTO {prediction_table('m')} (request_id, ts, model_version, prediction, "
        f"{feature_column('x')}, {feature_column('colour')}, {segment_column('region')}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [list(r) for r in ROWS],
    )
    with database:
        yield database


def test_a_window_reads_its_start_and_not_its_end(db: Database) -> None:
    cur = db.cursor()
    regions = segment_values(cur, "m", WINDOW, "region")
    assert regions == ["eu", "us"]  # 'at-end' (us) is not in the window, but 'inside' is
    arrays = window_arrays(cur, "m", WINDOW, ["x"], {"region": regions}, score_as="score")
    assert arrays.rows == 4
    # DuckDB gives no row order: compare the rows as a set of (score, x, region code), NaN (missing) as None
    got = {
        tuple(None if np.isnan(v) else v for v in (score, x)) + (int(code),)
        for score, x, code in zip(
            arrays.numeric["score"], arrays.numeric["x"], arrays.segment_codes["region"], strict=True
        )
    }
    assert got == {(0.1, 1.0, 1), (0.2, None, 2), (None, 3.0, 2), (0.4, 4.0, 1)}


def test_a_window_of_one_version_reads_only_that_version(db: Database) -> None:
    window = PlannedWindow("v2", START, END, START)
    arrays = window_arrays(db.cursor(), "m", window, ["x"], {})
    assert arrays.rows == 2 and arrays.segment_codes == {}
    assert sorted(arrays.numeric) == ["x"]  # no score without score_as


def test_category_counts_overall_and_per_segment_stay_inside_the_window(db: Database) -> None:
    counts = category_counts_by_segment(db.cursor(), "m", WINDOW, "colour", ["region"])
    assert counts == {
        None: {"red": 1, "blue": 2, None: 1},
        (0, "eu"): {"red": 1, "blue": 1},
        (0, "us"): {"blue": 1, None: 1},
    }
    assert category_counts_by_segment(db.cursor(), "m", WINDOW, "colour", []) == {
        None: {"red": 1, "blue": 2, None: 1}
    }


def _queue(db: Database, start: datetime, queued_at: datetime) -> None:
    db.cursor().execute(
        "INSERT OR REPLACE INTO window_queue VALUES ('m', '*', ?, ?, ?, 'new rows')",
        [start, start + timedelta(days=1), queued_at],
    )


def test_a_window_is_due_once_now_reaches_its_end(db: Database) -> None:
    _queue(db, START, START)
    _queue(db, END, END)
    assert pending_windows(db.cursor(), "m", END - US) == []
    assert [w.start for w in pending_windows(db.cursor(), "m", END)] == [START]
    assert [w.start for w in pending_windows(db.cursor(), "m", END + timedelta(days=1))] == [START, END]
    assert pending_windows(db.cursor(), "other", END + timedelta(days=9)) == []


def _rows(run_id: str, rows: int) -> WindowRows:
    key = {"monitor": "m", "model_version": "*", "segment": "*", "window_start": START}
    feature = {**key, "feature": "x"}
    return WindowRows(
        feature_results=[
            {**feature, "window_end": END, "kind": "numeric", "rows": rows, "status": "ok", "reason": "",
             "profile_id": "p", "run_id": run_id, "computed_at": START}
        ],
        feature_stats=[{**feature, "statistic": "psi", "value": None}],  # an all-null column still stores
        feature_bins=[{**feature, "profile_id": "p", "counts": [rows, 0]}],
        window_summaries=[
            {**key, "window_end": END, "rows": rows, "features": 1, "features_warn": 0, "features_drift": 0,
             "drift_share": None, "status": "ok", "run_id": run_id, "computed_at": START}
        ],
    )  # fmt: skip


def test_replacing_results_replaces_and_keeps_a_window_queued_again_meanwhile(db: Database) -> None:
    cur = db.cursor()
    _queue(db, START, START)
    replace_window_results(db, "m", WINDOW, _rows("run-1", 4))
    assert pending_windows(cur, "m", END) == []
    replace_window_results(db, "m", WINDOW, _rows("run-2", 5))
    assert cur.execute("SELECT run_id, rows FROM window_summaries").fetchall() == [("run-2", 5)]
    assert cur.execute("SELECT count(*) FROM feature_stats").fetchall() == [(1,)]
    [bins] = stored_bins(cur, "m", "*")
    assert (bins.feature, bins.kind, bins.counts.tolist()) == ("x", "numeric", [5, 0])
    # New rows queue the window again while it is computed: storing the older computation keeps it queued.
    _queue(db, START, START + timedelta(hours=1))
    replace_window_results(db, "m", WINDOW, _rows("run-3", 5))
    assert [w.queued_at for w in pending_windows(cur, "m", END)] == [START + timedelta(hours=1)]
    # A new reference queues every computed window; one already queued keeps its entry.
    cur.execute("DELETE FROM window_queue")
    requeue_computed_windows(cur, "m", "reference changed", END)
    requeue_computed_windows(cur, "m", "again", END + US)
    assert cur.execute("SELECT window_start, queued_at, reason FROM window_queue").fetchall() == [
        (START, END, "reference changed")
    ]


@pytest.mark.parametrize(
    ("positive", "labels", "truth"),
    [
        (1, ["1", "1.0", "0", "2", None], [1.0, 1.0, 0.0, 0.0, None]),
        ("yes", ["yes", "YES", "no", None], [1.0, 0.0, 0.0, None]),
        (True, ["true", "TRUE", "false", "1"], [1.0, 1.0, 0.0, 0.0]),
    ],
)
def test_binary_truth_matches_the_positive_label(
    db: Database, positive: object, labels: list[str | None], truth: list[float | None]
) -> None:
    truth_sql, score_sql, params = truth_and_score_sql(
        binary=True, positive_label=positive, text_classes=False
    )  # type: ignore[arg-type]
    rows = (
        db.cursor()
        .execute(
            f"SELECT {truth_sql}, {score_sql} FROM (SELECT i, label, TRY_CAST(label AS DOUBLE) AS label_value, "
            "0.5 AS prediction, NULL AS output FROM (SELECT generate_subscripts($labels, 1) AS i, "
            "unnest($labels) AS label)) ORDER BY i",
            {**params, "labels": labels},
        )
        .fetchall()
    )
    assert [r[0] for r in rows] == truth and {r[1] for r in rows} == {0.5}


def test_text_classes_and_numbers_read_the_label_as_is() -> None:
    assert truth_and_score_sql(binary=False, positive_label=1, text_classes=True) == ("label", "output", {})
    assert truth_and_score_sql(binary=False, positive_label=1, text_classes=False) == (
        "label_value",
        "prediction",
        {},
    )
