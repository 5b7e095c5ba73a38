"""Realized and estimated performance through the whole cycle, on real files and a real DuckDB file.

The generated model is calibrated by construction: P(y = 1 | x) = sigmoid(1.5·x1 + x2 − 0.3) is both the
score it logs and the truth the labels are drawn from, except where a test changes one of the two on purpose.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from driftwatch.config.loading import load_settings
from driftwatch.config.monitors import MonitorConfig
from driftwatch.config.performance import DEFAULT_JUDGED, TASK_METRICS
from driftwatch.errors import ConfigError
from driftwatch.performance.metrics import METRICS_BY_TASK
from driftwatch.performance.verdict import PerformanceGate
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.performance import period_over_period
from driftwatch.storage.database import Database
from driftwatch.storage.performance_results import performance_results
from driftwatch.storage.results import feature_results

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
ROWS_PER_DAY = 2000

CONFIG = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions:
      path: preds/*.parquet
      features: [x1, x2]
      prediction: score
    reference:
      path: ref.parquet
      prediction: score
      target: y
    features:
      numeric: [x1, x2]
    window: 1d
    min_rows: 200
    task: binary_classification
    labels:
      path: labels/*.parquet
      timestamp: labelled_at
    performance:
      min_labels: 150
      min_coverage: 0.3
      tolerance: 0.05
"""


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def model_score(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    return sigmoid(1.5 * x1 + x2 - 0.3)


def write_project(
    root: Path,
    days: int,
    *,
    concept_days: range = range(0),
    covariate_days: range = range(0),
    seed: int = 3,
) -> Path:
    """Reference, one prediction file per day and labels that all arrive 1–3 days after the prediction."""
    rng = np.random.default_rng(seed)
    n_ref = 10_000
    x1, x2 = rng.normal(0, 1, n_ref), rng.normal(0, 1, n_ref)
    ref_score = model_score(x1, x2)
    pl.DataFrame(
        {"x1": x1, "x2": x2, "score": ref_score, "y": (rng.random(n_ref) < ref_score).astype(np.int64)}
    ).write_parquet(root / "ref.parquet")
    (root / "preds").mkdir(parents=True)
    (root / "labels").mkdir()
    for day in range(days):
        n = ROWS_PER_DAY
        # Covariate drift: x1 moves and widens; the model stays right about P(y | x).
        x1 = rng.normal(1.0, 1.4, n) if day in covariate_days else rng.normal(0, 1, n)
        x2 = rng.normal(0, 1, n)
        score = model_score(x1, x2)
        # Concept drift: the same inputs, but x1 now pushes the other way.
        truth = sigmoid(-1.5 * x1 + x2 - 0.3) if day in concept_days else score
        served = [START + timedelta(days=day, seconds=int(s)) for s in np.sort(rng.integers(0, 86400, n))]
        ids = [f"r{day:02d}-{i:05d}" for i in range(n)]
        pl.DataFrame(
            {"request_id": ids, "timestamp": served, "x1": x1, "x2": x2, "score": score}
        ).write_parquet(root / "preds" / f"{day:02d}.parquet")
        delays = rng.uniform(86400, 3 * 86400, n)
        pl.DataFrame(
            {
                "request_id": ids,
                "label": (rng.random(n) < truth).astype(np.int64),
                "labelled_at": [t + timedelta(seconds=float(d)) for t, d in zip(served, delays, strict=True)],
            }
        ).write_parquet(root / "labels" / f"{day:02d}.parquet")
    config = root / "driftwatch.yml"
    config.write_text(CONFIG)
    return config


def day_iso(day: int) -> str:
    return (START + timedelta(days=day)).isoformat().replace("+00:00", "Z")


def run(config: Path, days: int) -> tuple[MonitorConfig, Database, object]:
    settings = load_settings(config)
    mon = settings.monitor("m")
    db = Database(settings.storage, settings.database)
    summary = run_cycle(db, mon, now=START + timedelta(days=days + 4))
    return mon, db, summary


def by_window(rows: list[dict], metric: str) -> dict[str, dict]:
    return {r["window_start"]: r for r in rows if r["metric"] == metric}


def test_concept_drift_degrades_realized_auc_while_inputs_stay_quiet(tmp_path: Path) -> None:
    days, drifted = 8, range(4, 7)
    config = write_project(tmp_path, days, concept_days=drifted)
    _mon, db, summary = run(config, days)
    with db:
        rows = performance_results(db.cursor(), monitor="m")
        auc = by_window(rows, "roc_auc")
        estimated = by_window(rows, "estimated_roc_auc")
        drift_status = {
            (r["feature"], r["window_start"]): r["status"] for r in feature_results(db.cursor(), "m")
        }
    assert len(auc) == days
    baseline = auc[day_iso(0)]["baseline"]
    assert 0.75 < baseline < 0.85  # the reference's own AUC
    for day in range(days):
        row = auc[day_iso(day)]
        assert row["n_labels"] == ROWS_PER_DAY and row["coverage"] == 1.0
        assert row["low"] < row["value"] < row["high"]
        if day in drifted:
            assert row["status"] == "degraded", row
            assert row["value"] < baseline - 0.2
            assert "exceeds tolerance" in row["reason"]
        else:
            assert row["status"] == "ok", row
            assert abs(row["value"] - baseline) < 0.04
        # The inputs never drift, so the drift side has nothing to say about these windows.
        for feature in ("x1", "x2"):
            assert drift_status[(feature, day_iso(day))] in ("ok", "warn")
        # The estimate sees scores only: it keeps reading the undrifted AUC, concept drift or not.
        assert estimated[day_iso(day)]["status"] == "estimate"
        assert abs(estimated[day_iso(day)]["value"] - baseline) < 0.03
    assert sorted(w for w, _seg, _m in summary.performance.degraded) == [day_iso(d) for d in drifted]


def test_covariate_drift_flags_inputs_but_not_performance_and_the_estimate_tracks_realized(
    tmp_path: Path,
) -> None:
    days, shifted = 8, range(4, 8)
    config = write_project(tmp_path, days, covariate_days=shifted)
    _mon, db, _summary = run(config, days)
    with db:
        rows = performance_results(db.cursor(), monitor="m")
        drift_status = {
            (r["feature"], r["window_start"]): r["status"] for r in feature_results(db.cursor(), "m")
        }
    auc, estimated = by_window(rows, "roc_auc"), by_window(rows, "estimated_roc_auc")
    accuracy, estimated_accuracy = by_window(rows, "accuracy"), by_window(rows, "estimated_accuracy")
    gaps = []
    for day in range(days):
        w = day_iso(day)
        assert drift_status[("x1", w)] == ("drift" if day in shifted else "ok")
        assert auc[w]["status"] == "ok", auc[w]
        # Stated tolerance: 0.04 for AUC and accuracy, about 4 standard errors at 2,000 labels (se ≈ 0.01).
        gaps.append(abs(estimated[w]["value"] - auc[w]["value"]))
        assert gaps[-1] < 0.04, (day, estimated[w]["value"], auc[w]["value"])
        assert abs(estimated_accuracy[w]["value"] - accuracy[w]["value"]) < 0.04
    # The shift really moved performance, so tracking it is not trivial: accuracy rises as scores spread out.
    assert np.mean([accuracy[day_iso(d)]["value"] for d in shifted]) > accuracy[day_iso(0)]["value"] + 0.03
    print(f"largest |estimated - realized| AUC gap over {days} windows: {max(gaps):.4f}")


def test_rerun_is_idempotent_and_only_touched_windows_recompute(tmp_path: Path) -> None:
    days = 5
    config = write_project(tmp_path, days)
    settings = load_settings(config)
    mon = settings.monitor("m")
    now = START + timedelta(days=days + 4)
    query = "SELECT * EXCLUDE (run_id, computed_at) FROM performance_results ORDER BY ALL"
    with Database(settings.storage, settings.database) as db:
        first = run_cycle(db, mon, now=now)
        assert first.performance is not None and first.performance.windows_computed == days
        cur = db.cursor()
        snapshot = cur.execute(query).fetchall()
        computed_at = dict(
            cur.execute(
                "SELECT window_start, max(computed_at) FROM performance_results GROUP BY 1"
            ).fetchall()
        )
        again = run_cycle(db, mon, now=now)
        assert again.performance is not None and again.performance.windows_computed == 0
        assert again.labels.files_read == 0
        assert cur.execute(query).fetchall() == snapshot
        assert cur.execute("SELECT count(*) FROM performance_history").fetchall() == [(0,)]
        assert cur.execute("SELECT count(*) FROM labels").fetchall() == [(days * ROWS_PER_DAY,)]
        assert cur.execute("SELECT count(*) FROM reference_calibration").fetchall() == [(1,)]

        # A correction for one request of day 2 recomputes day 2 only; the old values go to history.
        rid = "r02-00007"
        old = cur.execute("SELECT label FROM labels WHERE request_id = ?", [rid]).fetchall()[0][0]
        pl.DataFrame(
            {"request_id": [rid], "label": [1 - int(old)], "labelled_at": [START + timedelta(days=days + 3)]}
        ).write_parquet(tmp_path / "labels" / "correction.parquet")
        third = run_cycle(db, mon, now=now)
        assert third.labels.labels_replaced == 1
        assert third.performance is not None and third.performance.windows_computed == 1
        after = dict(
            cur.execute(
                "SELECT window_start, max(computed_at) FROM performance_results GROUP BY 1"
            ).fetchall()
        )
        changed = [w for w in after if after[w] != computed_at[w]]
        assert [w.isoformat() for w in changed] == [
            (START + timedelta(days=2)).replace(tzinfo=None).isoformat()
        ]
        history = cur.execute(
            "SELECT DISTINCT window_start FROM performance_history WHERE metric = 'roc_auc'"
        ).fetchall()
        assert [h[0] for h in history] == changed
        assert cur.execute("SELECT count(*) FROM label_history").fetchall() == [(1,)]


def test_results_performance_json_via_the_cli(tmp_path: Path) -> None:
    days = 3
    config = write_project(tmp_path, days)
    _mon, db, _summary = run(config, days)
    db.close()
    base = [sys.executable, "-m", "driftwatch.cli", "results", "--config", str(config), "--performance"]
    done = subprocess.run([*base, "--format", "json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    metrics = set(METRICS_BY_TASK["binary_classification"])
    assert len(rows) == days * (len(metrics) + 5)
    for key in (
        "window_start",
        "metric",
        "value",
        "low",
        "high",
        "n_labels",
        "coverage",
        "delay_median_s",
        "delay_p90_s",
        "baseline",
        "status",
        "reason",
        "previous_value",
    ):
        assert key in rows[0]
    auc = [r for r in rows if r["metric"] == "roc_auc"]
    assert [r["status"] for r in auc] == ["ok"] * days
    assert auc[0]["previous_value"] is None and auc[1]["previous_value"] == auc[0]["value"]
    assert 86400 <= auc[0]["delay_median_s"] <= auc[0]["delay_p90_s"] <= 3 * 86400
    assert {r["status"] for r in rows if r["metric"].startswith("estimated_")} == {"estimate"}
    # Each estimate carries the interval of the realized value its scores allow (label draws).
    for r in rows:
        if r["metric"].startswith("estimated_"):
            assert r["low"] <= r["value"] <= r["high"] and r["high"] - r["low"] < 0.2, r
    # Period over period from the same rows: no 10 % drop between these undrifted days.
    verdict = period_over_period(auc[1], PerformanceGate(150, 0.3))
    assert verdict is not None and verdict.status == "ok"
    # The table, in-process (a second interpreter start would only cost time).
    from typer.testing import CliRunner

    from driftwatch.cli import app

    table = CliRunner().invoke(app, ["results", "--config", str(config), "--performance"])
    assert table.exit_code == 0, table.output
    assert "estimated_roc" in table.output and "(estimate)" in table.output and "roc_auc" in table.output


def test_config_task_names_match_the_metrics_module() -> None:
    assert TASK_METRICS == METRICS_BY_TASK
    assert all(set(m) <= set(METRICS_BY_TASK[t]) for t, m in DEFAULT_JUDGED.items())


@pytest.mark.parametrize(
    ("extra", "key", "fragment"),
    [
        ("    task: classification\n", "monitors.m.task", "one of"),
        (
            "    task: regression\n    performance: {metrics: [roc_auc]}\n",
            "monitors.m.performance.metrics",
            "not a metric",
        ),
        (
            "    task: binary_classification\n    performance: {min_coverage: 2}\n",
            "monitors.m.performance.min_coverage",
            "between 0 and 1",
        ),
        (
            "    task: binary_classification\n    performance: {relative: maybe}\n",
            "monitors.m.performance.relative",
            "true or false",
        ),
        (
            "    task: binary_classification\n    performance: {baseline: high}\n",
            "monitors.m.performance.baseline",
            "number or a mapping",
        ),
        (
            "    task: binary_classification\n    performance: {confidence: 1.0}\n",
            "monitors.m.performance.confidence",
            ">= 0.5 and < 1",
        ),
        (
            "    task: binary_classification\n    performance: {confidence: 0.3}\n",
            "monitors.m.performance.confidence",
            "between 0.5 and 1",
        ),
        (
            "    task: binary_classification\n    performance: {confidence: 95%}\n",
            "monitors.m.performance.confidence",
            "95%",
        ),
        (
            "    task: binary_classification\n    performance: {reference_spread: sometimes}\n",
            "monitors.m.performance.reference_spread",
            "sometimes",
        ),
        (
            "    task: binary_classification\n    performance: {tolerance: -0.01}\n",
            "monitors.m.performance.tolerance",
            "-0.01",
        ),
        ("    labels: {path: l/*.csv}\n", "monitors.m.labels", "needs the monitor's `task`"),
        (
            "    task: binary_classification\n    labels: {path: l/*.csv, lable: y}\n",
            "monitors.m.labels.lable",
            "did you mean 'label'",
        ),
    ],
)
def test_performance_config_errors_name_file_key_and_value(
    tmp_path: Path, extra: str, key: str, fragment: str
) -> None:
    text = (
        "monitors:\n  m:\n    predictions: {path: p/*.parquet, prediction: score}\n"
        "    reference: {path: ref.parquet, target: y, prediction: score}\n" + extra
    )
    path = tmp_path / "driftwatch.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(path) in str(info.value) and key in str(info.value) and fragment in str(info.value)


def test_performance_config_defaults_and_single_baseline(tmp_path: Path) -> None:
    path = tmp_path / "driftwatch.yml"
    path.write_text(
        "monitors:\n  m:\n    predictions: {path: p/*.parquet, prediction: score}\n    reference: ref.parquet\n"
        "    task: regression\n    performance: {baseline: 2.5, relative: true, tolerance: 0.1}\n"
    )
    mon = load_settings(path).monitor("m")
    assert mon.performance.metrics == ("rmse",)
    assert mon.performance.baseline == {"rmse": 2.5}
    assert mon.performance.relative and mon.performance.min_labels == 100
    assert mon.labels is None and mon.threshold == 0.5
    # the verdict's defaults: one-sided 95 %, no minimum drop unless set, the reference spread on
    assert (mon.performance.confidence, mon.performance.reference_spread) == (0.95, True)
    path.write_text(
        "monitors:\n  m:\n    predictions: {path: p/*.parquet, prediction: score}\n    reference: ref.parquet\n"
        "    task: binary_classification\n    performance: {confidence: 0.99, reference_spread: false}\n"
    )
    mon = load_settings(path).monitor("m")
    assert (mon.performance.confidence, mon.performance.reference_spread) == (0.99, False)
    assert mon.performance.tolerance == 0.0


def test_demo_concept_drift_is_found_by_labels_only(demo_settings, demo_db) -> None:  # type: ignore[no-untyped-def]
    """The demo's planted concept drift (days 10–15) reads `degraded`; recent, barely labelled days are gated."""
    from _demo import DEMO_END, SMALL_DEMO

    summary = run_cycle(demo_db, demo_settings.monitor("credit-default"), now=DEMO_END)
    assert summary.labels.without_prediction > 0  # labels for the quarantined requests
    start = DEMO_END - timedelta(days=SMALL_DEMO.days)
    auc = by_window(performance_results(demo_db.cursor(), monitor="credit-default"), "roc_auc")
    drifted = range(SMALL_DEMO.concept_drift_day, SMALL_DEMO.concept_drift_end)
    for day in range(SMALL_DEMO.days):
        row = auc[(start + timedelta(days=day)).isoformat().replace("+00:00", "Z")]
        if day in drifted:
            assert row["status"] == "degraded", (day, row)
        elif row["coverage"] < 0.2 or row["n_labels"] < 200:
            assert row["status"] == "insufficient_labels", (day, row)
        else:
            assert row["status"] == "ok", (day, row)
    assert auc[(DEMO_END - timedelta(days=1)).isoformat().replace("+00:00", "Z")]["n_labels"] == 0


def _small_project(root: Path, task_block: str, truth_fn, pred_fn, label_fn, ref_fn, days: int = 3) -> Path:  # type: ignore[no-untyped-def]
    """Plain-column predictions (x1, pred, cls), CSV labels without timestamps, and a reference."""
    rng = np.random.default_rng(11)
    x = rng.normal(0, 1, 5000)
    pl.DataFrame({"x1": x, **ref_fn(x, rng)}).write_parquet(root / "ref.parquet")
    (root / "preds").mkdir()
    (root / "labels").mkdir()
    for day in range(days):
        x = rng.normal(0, 1, 800)
        ids = [f"q{day}-{i}" for i in range(x.size)]
        served = [START + timedelta(days=day, seconds=30 * i) for i in range(x.size)]
        pl.DataFrame({"request_id": ids, "timestamp": served, "x1": x, **pred_fn(x, rng)}).write_parquet(
            root / "preds" / f"{day}.parquet"
        )
        labels = label_fn(truth_fn(x, rng, day), day)
        pl.DataFrame({"request_id": ids, "label": labels}).write_csv(root / "labels" / f"{day}.csv")
    config = root / "driftwatch.yml"
    config.write_text(
        "storage: state/dw.duckdb\nmonitors:\n  m:\n    predictions:\n      path: preds/*.parquet\n"
        "      features: [x1]\n" + task_block + "    features: {numeric: [x1]}\n    min_rows: 100\n"
        "    labels: labels/*.csv\n"
    )
    return config


def test_regression_rmse_is_judged_and_bad_labels_are_quarantined(tmp_path: Path) -> None:
    config = _small_project(
        tmp_path,
        "      prediction: pred\n    reference: {path: ref.parquet, target: y, prediction: pred}\n"
        "    task: regression\n    performance: {tolerance: 0.2, relative: true}\n",
        truth_fn=lambda x, rng, day: 2 * x + rng.normal(0, 0.5, x.size) + (1.5 if day == 2 else 0.0),
        pred_fn=lambda x, rng: {"pred": 2 * x},
        label_fn=lambda y, day: [f"{v:.4f}" if i else "n/a" for i, v in enumerate(y)],
        ref_fn=lambda x, rng: {"pred": 2 * x, "y": 2 * x + rng.normal(0, 0.5, x.size)},
    )
    _mon, db, summary = run(config, 3)
    with db:
        rows = performance_results(db.cursor(), monitor="m")
        rmse, metrics = by_window(rows, "rmse"), {r["metric"] for r in rows}
        reasons = (
            db.cursor().execute("SELECT DISTINCT reason FROM quarantine WHERE kind = 'labels'").fetchall()
        )
    assert summary.labels.rows_quarantined == 3 and reasons == [("label: 'n/a' is not a number",)]
    assert abs(rmse[day_iso(0)]["baseline"] - 0.5) < 0.03
    assert [rmse[day_iso(d)]["status"] for d in range(3)] == ["ok", "ok", "degraded"]
    assert rmse[day_iso(2)]["value"] > 1.5
    # A regression monitor gets DLE estimates (pipeline.loss_estimation), not CBPE's; blind to this concept drift.
    assert {metric for metric in metrics if metric.startswith("estimated_")} == {
        "estimated_mae",
        "estimated_rmse",
    }
    assert by_window(rows, "estimated_rmse")[day_iso(2)]["value"] < 0.7


def test_multiclass_with_text_classes_uses_the_configured_baseline(tmp_path: Path) -> None:
    classes = np.array(["cat", "dog", "eel"])
    config = _small_project(
        tmp_path,
        "      output: cls\n    reference: {path: ref.parquet}\n    task: multiclass_classification\n"
        "    performance: {baseline: 0.9, min_coverage: 0.5}\n",
        truth_fn=lambda x, rng, day: np.where(
            rng.random(x.size) < (0.9 if day < 2 else 0.6), np.digitize(x, [-0.5, 0.5]), 0
        ),
        pred_fn=lambda x, rng: {"cls": classes[np.digitize(x, [-0.5, 0.5])]},
        label_fn=lambda y, day: classes[y].tolist(),
        ref_fn=lambda x, rng: {"cls": classes[np.digitize(x, [-0.5, 0.5])]},
    )
    _mon, db, _summary = run(config, 3)
    with db:
        accuracy = by_window(performance_results(db.cursor(), monitor="m"), "accuracy")
    assert [accuracy[day_iso(d)]["baseline"] for d in range(3)] == [0.9] * 3
    assert [accuracy[day_iso(d)]["status"] for d in range(3)] == ["ok", "ok", "degraded"]
    assert accuracy[day_iso(2)]["value"] < 0.8


def test_a_crash_while_storing_performance_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import driftwatch.pipeline.performance as performance

    days = 4
    config = write_project(tmp_path, days)
    settings = load_settings(config)
    mon = settings.monitor("m")
    now = START + timedelta(days=days + 4)
    real = performance.store_performance
    calls = {"n": 0}

    def crashing(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(performance, "store_performance", crashing)
    with Database(settings.storage, settings.database) as db:
        with pytest.raises(RuntimeError):
            run_cycle(db, mon, now=now)
        cur = db.cursor()
        assert cur.execute("SELECT count(DISTINCT window_start) FROM performance_results").fetchall() == [
            (2,)
        ]
        assert cur.execute("SELECT count(*) FROM performance_queue").fetchall() == [(2,)]
        monkeypatch.setattr(performance, "store_performance", real)
        resumed = run_cycle(db, mon, now=now)
        assert resumed.performance is not None and resumed.performance.windows_computed == 2
        counts = cur.execute("SELECT metric, count(*) FROM performance_results GROUP BY 1").fetchall()
        assert {n for _m, n in counts} == {days}
        assert cur.execute("SELECT count(*) FROM performance_queue").fetchall() == [(0,)]
