"""A multiclass monitor's estimated accuracy and macro metrics (CBPE) through the whole cycle, on real files and a
real DuckDB file.

Three classes; the true P(y | x) = softmax(Wx) with the classes' directions 120° apart, and the model reports the
overconfident softmax(1.6·Wx) (so the calibrators have work to do) and decides the arg-max. On shifted days x
concentrates near the origin, where the classes meet: the realized accuracy falls with no concept drift (P(y | x)
is unchanged), which is what CBPE is meant to see before the labels arrive.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

import driftwatch.pipeline.multiclass_estimation as multiclass_estimation
from _service import served
from driftwatch.alerting.metrics import ESTIMATED_METRICS, KNOWN_METRICS
from driftwatch.api.errors import Invalid
from driftwatch.api.push import push_predictions
from driftwatch.config.loading import load_settings
from driftwatch.errors import ConfigError
from driftwatch.performance.multiclass_estimation import MULTICLASS_ESTIMATED
from driftwatch.performance.uncertainty import Interval
from driftwatch.pipeline.cycle import run_cycle, run_monitor
from driftwatch.pipeline.runner import CycleRunner
from driftwatch.reports.render import format_number
from driftwatch.storage.database import Database
from driftwatch.storage.performance_results import performance_results

START = datetime(2026, 3, 2, tzinfo=UTC)
DAYS, SHIFTED = 8, range(4, 8)
ROWS_PER_DAY = 1500
CLASSES = ("cat", "dog", "bird")
ANGLES = np.array([0.0, 2.0 * np.pi / 3.0, 4.0 * np.pi / 3.0])
WEIGHTS = 2.0 * np.column_stack([np.cos(ANGLES), np.sin(ANGLES)])  # (3, 2)

CONFIG = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions:
      path: preds/*.parquet
      features: [x1, x2]
      output: decision
      probabilities: {cat: p_cat, dog: p_dog, bird: "$.scores.bird"}
    reference:
      path: ref.parquet
      target: y
    features:
      numeric: [x1, x2]
    window: 1d
    min_rows: 200
    task: multiclass_classification
    labels:
      path: labels/*.parquet
      timestamp: labelled_at
    performance:
      min_labels: 150
      min_coverage: 0.3
"""


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def simulate(rng: np.random.Generator, n: int, spread: float) -> dict[str, np.ndarray]:
    """x ~ N(0, spread²·I); the model's probabilities, its arg-max decision and a label drawn from the truth."""
    x = rng.normal(0.0, spread, size=(n, 2))
    logits = x @ WEIGHTS.T
    truth = (rng.random(n)[:, None] > np.cumsum(_softmax(logits), axis=1)).sum(axis=1)
    proba = _softmax(1.6 * logits)
    names = np.array(CLASSES)
    return {"x": x, "proba": proba, "decision": names[proba.argmax(axis=1)], "y": names[truth]}


def _frame(rows: dict[str, np.ndarray], **extra: object) -> pl.DataFrame:
    proba = rows["proba"]
    return pl.DataFrame(
        {
            **extra,
            "x1": rows["x"][:, 0],
            "x2": rows["x"][:, 1],
            "decision": rows["decision"],
            "p_cat": proba[:, 0],
            "p_dog": proba[:, 1],
            "scores": [{"bird": float(p)} for p in proba[:, 2]],  # a struct column: the JSON-path form
        }
    )


QUIET_SPREAD, SHIFTED_SPREAD = 1.5, 0.5


def write_project(
    root: Path, seed: int = 3, days: int = DAYS, spreads: Sequence[float] | None = None
) -> tuple[Path, dict[str, float]]:
    """Reference, one prediction file per day, the labels kept aside in later/ (moved in by the test). Returns the
    config and each day's realized accuracy. ``spreads``: each day's SD of x (default: SHIFTED days at 0.5, the
    others at the reference's 1.5)."""
    if spreads is None:
        spreads = [SHIFTED_SPREAD if day in SHIFTED else QUIET_SPREAD for day in range(days)]
    rng = np.random.default_rng(seed)
    ref = simulate(rng, 5000, QUIET_SPREAD)
    _frame(ref, y=ref["y"]).write_parquet(root / "ref.parquet")
    for folder in ("preds", "later", "labels"):
        (root / folder).mkdir()
    realized: dict[str, float] = {}
    for day in range(days):
        rows = simulate(rng, ROWS_PER_DAY, spreads[day])
        served = [
            START + timedelta(days=day, seconds=int(s)) for s in np.sort(rng.integers(0, 86400, ROWS_PER_DAY))
        ]
        ids = [f"r{day}-{i}" for i in range(ROWS_PER_DAY)]
        _frame(rows, request_id=ids, timestamp=served).write_parquet(root / "preds" / f"{day}.parquet")
        pl.DataFrame(
            {"request_id": ids, "label": rows["y"], "labelled_at": [t + timedelta(days=1) for t in served]}
        ).write_parquet(root / "later" / f"{day}.parquet")
        realized[_iso(day)] = float(np.mean(rows["decision"] == rows["y"]))
    config = root / "driftwatch.yml"
    config.write_text(CONFIG)
    return config, realized


def _iso(day: int) -> str:
    return (START + timedelta(days=day)).isoformat().replace("+00:00", "Z")


def _cycle(config: Path, days: int = DAYS) -> dict[tuple[str, str], dict]:
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        summary = run_cycle(db, settings.monitor("m"), now=START + timedelta(days=days + 3))
        rows = performance_results(db.cursor(), monitor="m")
    assert summary.performance is not None and "multiclass estimate" not in summary.performance.note
    return {(r["metric"], r["window_start"]): r for r in rows if r["segment"] == "*"}


def test_estimated_accuracy_follows_a_covariate_shift_and_covers_the_realized_accuracy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits: list[int] = []
    real_fit = multiclass_estimation._fit

    def counting_fit(*args, **kwargs):  # type: ignore[no-untyped-def]
        fits.append(1)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(multiclass_estimation, "_fit", counting_fit)
    config, realized = write_project(tmp_path)

    # Before any label: every estimate per window, with an interval; the realized accuracy waits for labels.
    before = _cycle(config)
    for day in range(DAYS):
        for metric in MULTICLASS_ESTIMATED:
            row = before[("estimated_" + metric, _iso(day))]
            assert row["status"] == "estimate" and row["n_labels"] == 0
            assert row["low"] <= row["value"] <= row["high"], (metric, row)
        assert before[("accuracy", _iso(day))]["status"] == "insufficient_labels"
    estimated = {_iso(d): before[("estimated_accuracy", _iso(d))]["value"] for d in range(DAYS)}
    quiet = np.mean([estimated[_iso(d)] for d in range(DAYS) if d not in SHIFTED])
    shifted = np.mean([estimated[_iso(d)] for d in SHIFTED])
    true_quiet = np.mean([realized[_iso(d)] for d in range(DAYS) if d not in SHIFTED])
    true_shifted = np.mean([realized[_iso(d)] for d in SHIFTED])
    assert true_shifted < true_quiet - 0.1  # the simulation does what it says
    assert shifted < quiet - 0.1  # and the estimate sees it without a label
    assert abs(shifted - true_shifted) < 0.03 and abs(quiet - true_quiet) < 0.03
    baseline = before[("estimated_accuracy", _iso(0))]["baseline"]
    assert abs(baseline - true_quiet) < 0.03  # the reference's own accuracy

    # The labels arrive: the realized metrics are stored beside the estimates and lie in their intervals.
    for day_file in (tmp_path / "later").iterdir():
        day_file.rename(tmp_path / "labels" / day_file.name)
    after = _cycle(config)
    covered = dict.fromkeys(("accuracy", "precision_macro", "recall_macro", "f1_macro"), 0)
    for day in range(DAYS):
        assert after[("accuracy", _iso(day))]["value"] == pytest.approx(realized[_iso(day)])
        for metric in covered:
            value, estimate = after[(metric, _iso(day))]["value"], after[("estimated_" + metric, _iso(day))]
            assert estimate["value"] == pytest.approx(before[("estimated_" + metric, _iso(day))]["value"])
            covered[metric] += estimate["low"] <= value <= estimate["high"]
    # 95 % intervals: at most two misses in 8 windows (docs/decision-evidence.md measures the coverage).
    assert all(hits >= DAYS - 2 for hits in covered.values()), covered
    assert fits == [1]  # one fit (calibrators and bootstrap members) per process, reused by the second cycle


def test_every_stored_estimate_is_an_alertable_metric() -> None:
    stored = {"estimated_" + m for m in MULTICLASS_ESTIMATED}
    assert stored <= ESTIMATED_METRICS and stored <= KNOWN_METRICS


NDJSON_CONFIG = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions:
      path: preds/*.ndjson
      features: [x1]
      output: decision
      probabilities: {a: p_a, b: "$.scores.b", "1": "$.scores.\\"one.x\\""}
    reference:
      path: ref.parquet
      target: y
    features:
      numeric: [x1]
    window: 1d
    min_rows: 1
    task: multiclass_classification
    labels: labels/*.ndjson
"""


def _ndjson_row(i: int, a: object, b: object, one: object, decision: str = "a", **drop: bool) -> str:
    row: dict[str, object] = {
        "request_id": f"q{i}",
        "timestamp": "2026-03-02T10:00:00Z",
        "x1": 1.0,
        "decision": decision,
        "p_a": a,
        "scores": {"b": b, "one.x": one},
    }
    if drop.get("no_b"):
        del row["scores"]["b"]  # type: ignore[attr-defined]
    return json.dumps(row)


def test_bad_probability_rows_are_quarantined_with_their_reason(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 600
    proba = rng.dirichlet([1.0, 1.0, 1.0], size=n)
    names = np.array(["a", "b", "1"])
    pl.DataFrame(
        {
            "x1": rng.normal(size=n),
            "p_a": proba[:, 0],
            "scores": [{"b": float(b), "one.x": float(o)} for b, o in proba[:, 1:]],
            "y": names[(rng.random(n)[:, None] > np.cumsum(proba, axis=1)).sum(axis=1)],
        }
    ).write_parquet(tmp_path / "ref.parquet")
    (tmp_path / "preds").mkdir()
    lines = [
        _ndjson_row(0, 0.5, 0.3, 0.2),  # good
        _ndjson_row(1, "0.2", 0.3, "0.5", decision="1"),  # good: numbers as text, decision "1"
        _ndjson_row(2, 0.6, 0.3, 0.0994, decision="b"),  # good: sums to 0.9994, within the tolerance
        _ndjson_row(3, "abc", 0.5, 0.5),
        _ndjson_row(4, "NaN", 0.5, 0.5),
        _ndjson_row(5, 1.5, -0.25, -0.25),
        _ndjson_row(6, 0.5, 0.1, 0.1),
        _ndjson_row(7, 0.5, 0.5, 0.0, decision="c"),
        _ndjson_row(8, 0.5, 0.5, 0.0, no_b=True),
        _ndjson_row(9, "1e999", 0.5, 0.5),
    ]
    (tmp_path / "preds" / "day.ndjson").write_text("\n".join(lines) + "\n")
    (tmp_path / "labels").mkdir()
    labels = [{"request_id": "q0", "label": "a"}, {"request_id": "q1", "label": "zebra"}]
    labels.append({"request_id": "q2", "label": 1.0})  # the class "1" by its identity
    (tmp_path / "labels" / "day.ndjson").write_text("".join(json.dumps(r) + chr(10) for r in labels))
    config = tmp_path / "driftwatch.yml"
    config.write_text(NDJSON_CONFIG)
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        summary = run_cycle(db, settings.monitor("m"), now=START + timedelta(days=3))
        cur = db.cursor()
        reasons = dict(
            cur.execute(
                "SELECT request_id, reason FROM quarantine WHERE kind = 'predictions' ORDER BY row_number"
            ).fetchall()
        )
        label_reasons = cur.execute(
            "SELECT request_id, reason FROM quarantine WHERE kind = 'labels'"
        ).fetchall()
        stored_labels = cur.execute("SELECT request_id, label FROM labels ORDER BY request_id").fetchall()
        stored = cur.execute(
            'SELECT request_id, "p:a", "p:b", "p:1" FROM "predictions:m" ORDER BY request_id'
        ).fetchall()
        estimates = performance_results(cur, monitor="m")
    assert summary.ingest.rows_inserted == 3 and summary.ingest.rows_quarantined == 7
    assert stored == [("q0", 0.5, 0.3, 0.2), ("q1", 0.2, 0.3, 0.5), ("q2", 0.6, 0.3, 0.0994)]
    assert reasons["q3"].startswith("probability of class 'a': 'abc' is not a number")
    assert reasons["q4"].startswith("probability of class 'a' is missing")
    assert "probability of class 'a': 1.5 is outside [0, 1]" in reasons["q5"]
    assert "probability of class 'b': -0.25 is outside [0, 1]" in reasons["q5"]
    assert reasons["q6"] == "class probabilities sum to 0.7, not 1 (tolerance 0.01)"
    assert reasons["q7"] == "class 'c' is not one of the classes of predictions.probabilities"
    assert reasons["q8"] == "probability of class 'b' is missing"
    assert reasons["q9"].startswith("probability of class 'a': '1e999' is not a finite number")
    assert label_reasons == [("q1", "label 'zebra' is not one of the classes of predictions.probabilities")]
    assert stored_labels == [("q0", "a"), ("q2", "1")]
    # The three good rows are estimated (with a reference holding the nested, quoted-key path too).
    accuracy = [r for r in estimates if r["metric"] == "estimated_accuracy" and r["segment"] == "*"]
    assert len(accuracy) == 1 and accuracy[0]["n_predictions"] == 3 and math.isfinite(accuracy[0]["value"])


def _config_error(tmp_path: Path, text: str) -> ConfigError:
    (tmp_path / "ref.parquet").touch()
    config = tmp_path / "driftwatch.yml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(config)
    return caught.value


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ("{cat: p_cat}", "predictions.probabilities", "needs at least two classes"),
        ("[p_cat, p_dog]", "predictions.probabilities", "expected a mapping"),
        ("{1: p_one, '1': p_one_text}", "predictions.probabilities.1", "class '1' is named twice"),
        (
            "{Cat: p_cat, cat: p_cat2}",
            "predictions.probabilities.cat",
            "differ in more than upper/lower case",
        ),
        ("{'1.0': p_one, dog: p_dog}", "predictions.probabilities.1.0", "written as its labels are stored"),
        ("{cat: p_cat, dog: 3}", "predictions.probabilities.dog", "expected a column name or a JSON path"),
        ("{cat: p_cat, dog: '$.'}", "predictions.probabilities.dog", "not a JSON path"),
        ("{cat: p, dog: p}", "predictions.probabilities", "two classes read the same field 'p'"),
    ],
)
def test_probability_config_errors_name_the_key(tmp_path: Path, change: str, key: str, message: str) -> None:
    error = _config_error(tmp_path, CONFIG.replace('{cat: p_cat, dog: p_dog, bird: "$.scores.bird"}', change))
    assert f"monitors.m.{key}" in str(error) and message in str(error) and "driftwatch.yml" in str(error)


def test_probabilities_need_a_multiclass_task_and_a_reference_target(tmp_path: Path) -> None:
    regression = CONFIG.replace("task: multiclass_classification", "task: regression")
    error = _config_error(tmp_path, regression.replace("output: decision", "prediction: p_cat"))
    assert "monitors.m.predictions.probabilities" in str(error) and "task: multiclass_classification" in str(
        error
    )
    error = _config_error(tmp_path, CONFIG.replace("      target: y\n", ""))
    assert "monitors.m.predictions.probabilities" in str(error) and "reference.target" in str(error)


def test_a_reference_without_a_class_says_why_there_is_no_estimate(tmp_path: Path) -> None:
    config, _realized = write_project(tmp_path, days=2)
    ref = pl.read_parquet(tmp_path / "ref.parquet")
    ref.with_columns(
        pl.when(pl.col("y") == "bird").then(pl.lit("dog")).otherwise(pl.col("y")).alias("y")
    ).write_parquet(tmp_path / "ref.parquet")
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        summary = run_cycle(db, settings.monitor("m"), now=START + timedelta(days=5))
        metrics = {r["metric"] for r in performance_results(db.cursor(), monitor="m")}
    assert summary.performance is not None
    assert "no multiclass estimate: class 'bird' needs labelled rows" in summary.performance.note
    assert "accuracy" in metrics and not any(m.startswith("estimated_") for m in metrics)


@pytest.mark.slow  # a real `driftwatch serve` and its first cycle (calibrators fit in the server process)
def test_the_served_api_and_metrics_carry_the_multiclass_estimates(tmp_path: Path) -> None:
    config, _realized = write_project(tmp_path)
    log = tmp_path / "serve.log"
    with served(config, log) as url:
        answer = httpx.get(
            f"{url}/api/monitors/m/performance", params={"metric": "estimated_f1_macro"}, timeout=30
        )
        metrics = httpx.get(f"{url}/metrics", timeout=30).text
    assert answer.status_code == 200, answer.text
    overall = [r for r in answer.json()["items"] if r["segment"] == "*"]
    assert len(overall) == DAYS and all(
        r["status"] == "estimate" and r["low"] <= r["value"] <= r["high"] for r in overall
    )
    assert re.search(r'driftwatch_performance\{[^}]*metric="estimated_accuracy"[^}]*\} 0\.[0-9]+', metrics)
    assert "Traceback" not in log.read_text()


def test_the_window_report_shows_the_multiclass_estimates(tmp_path: Path) -> None:
    config, _realized = write_project(tmp_path, days=2)
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        summary = run_monitor(db, settings, "m", now=START + timedelta(days=5))
        rows = performance_results(db.cursor(), monitor="m")
    first = next(r for r in rows if r["metric"] == "estimated_f1_macro" and r["segment"] == "*")
    pages = [p for p in summary.reports if "2026-03-02" in p.name and p.suffix == ".html"]
    assert pages, summary.reports
    html = pages[0].read_text()
    assert "estimated_f1_macro" in html and "estimated_roc_auc_ovr_macro" in html
    assert f"{format_number(first['low'])} – {format_number(first['high'])}" in html


def test_a_pushed_batch_is_checked_and_stored_like_a_file(tmp_path: Path) -> None:
    config, _realized = write_project(tmp_path, days=1)
    settings = load_settings(config)
    monitor = settings.monitor("m")

    def record(i: int, p_cat: object, decision: str = "cat") -> dict[str, object]:
        p_dog = 0.8 - float(p_cat) if isinstance(p_cat, float) else 0.1
        return {
            "request_id": f"push-{i}",
            "timestamp": "2026-03-05T10:00:00Z",
            "x1": 0.1,
            "x2": -0.2,
            "decision": decision,
            "p_cat": p_cat,
            "p_dog": p_dog,
            "scores": {"bird": 0.2},
        }

    with Database(settings.storage, settings.database) as db:
        runner = CycleRunner(settings, db)
        with pytest.raises(Invalid) as refused:
            push_predictions(db, runner, monitor, [record(0, 0.7), record(1, 0.7, "fish"), record(2, "x")])
        pushed = push_predictions(db, runner, monitor, [record(0, 0.7), record(3, 0.1, "dog")])
        stored = (
            db.cursor()
            .execute('SELECT request_id, "p:cat", "p:dog", "p:bird" FROM "predictions:m" ORDER BY request_id')
            .fetchall()
        )
    errors = json.dumps(refused.value.errors)
    assert "class 'fish' is not one of the classes" in errors and "'x' is not a number" in errors
    assert pushed.inserted == 2
    assert stored == [("push-0", 0.7, pytest.approx(0.1), 0.2), ("push-3", 0.1, pytest.approx(0.7), 0.2)]


def test_the_interval_widens_by_the_calibrators_spread() -> None:
    draws = Interval(0.70, 0.76, 0.015)
    assert multiclass_estimation.widened(0.74, draws, 0.0) == (0.70, 0.76, 0.015)
    low, high, stderr = multiclass_estimation.widened(0.74, draws, 0.02)
    assert stderr == pytest.approx(0.025)  # independent errors: the variances add
    # Each side stretched about the estimate by 0.025 / 0.015, so a skewed interval keeps its skew.
    assert (0.74 - low, high - 0.74) == (
        pytest.approx(0.04 * 0.025 / 0.015),
        pytest.approx(0.02 * 0.025 / 0.015),
    )


def test_a_csv_json_column_path_reads_each_class_and_a_text_that_is_no_json_is_missing(
    tmp_path: Path,
) -> None:
    config, _realized = write_project(tmp_path, days=1)
    (tmp_path / "preds" / "0.parquet").unlink()
    text = config.read_text().replace("preds/*.parquet", "preds/*.csv")
    config.write_text(text.replace('bird: "$.scores.bird"', 'bird: "$.extra.\\"p.bird\\""'))
    header = "request_id,timestamp,x1,x2,decision,p_cat,p_dog,extra\n"
    rows = [
        'c0,2026-03-02T01:00:00Z,0.1,0.2,cat,0.5,0.3,"{""p.bird"": 0.2}"',
        "c1,2026-03-02T02:00:00Z,0.1,0.2,cat,0.5,0.3,not json",
    ]
    (tmp_path / "preds" / "day.csv").write_text(header + "\n".join(rows) + "\n")
    ref = pl.read_parquet(tmp_path / "ref.parquet")
    ref.with_columns(
        pl.col("scores")
        .map_elements(lambda s: json.dumps({"p.bird": s["bird"]}), return_dtype=pl.String)
        .alias("extra")
    ).write_parquet(tmp_path / "ref.parquet")
    settings = load_settings(config)
    with Database(settings.storage, settings.database) as db:
        summary = run_cycle(db, settings.monitor("m"), now=START + timedelta(days=5))
        cur = db.cursor()
        stored = cur.execute('SELECT request_id, "p:bird" FROM "predictions:m"').fetchall()
        reasons = cur.execute("SELECT request_id, reason FROM quarantine").fetchall()
    assert stored == [("c0", 0.2)]
    assert reasons == [("c1", "probability of class 'bird' is missing")]
    assert summary.performance is not None and "multiclass estimate" not in summary.performance.note


def test_class_names_apart_only_outside_ascii_case_are_accepted() -> None:
    """DuckDB folds only A-Z/a-z in column names: `p:É` and `p:é`, `p:ß` and `p:ss` are two columns, so those
    class names are kept apart; `Cat`/`cat` are refused (the test above)."""
    from driftwatch.config.probabilities import parse_probabilities

    got = parse_probabilities(Path("driftwatch.yml"), "p", {"É": "p1", "é": "p2", "ß": "p3", "ss": "p4"})
    assert [c.name for c in got] == ["É", "é", "ß", "ss"]
    import duckdb

    with duckdb.connect() as con:  # the premise, on the DuckDB we ship with
        con.execute('CREATE TABLE t ("p:É" DOUBLE, "p:é" DOUBLE, "p:ß" DOUBLE, "p:ss" DOUBLE)')
        with pytest.raises(duckdb.Error):
            con.execute('ALTER TABLE t ADD COLUMN "p:SS" DOUBLE')
