"""Every statistic the pipeline stores, read back from a real DuckDB file after a real cycle, against an oracle.

The oracles are independent of driftwatch's code: scipy (KS, Wasserstein, chi², Jensen–Shannon), sklearn
(performance metrics) and the literal twins in `naive.py` (PSI bins and PSI, Hellinger, categorical counts,
unseen and missing shares). The rows are planted so that some sit exactly on a window's start (they belong to
that window) and some exactly on its end (they belong to the next one), so a wrong window filter, a wrong
statistic or a statistic computed from the wrong rows all change a stored number.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import scipy.spatial.distance
import scipy.stats
from sklearn import metrics as skm
from sklearn.isotonic import IsotonicRegression

from driftwatch.config.loading import load_settings
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.stats.decision import EXACT_BELOW_EXPECTED
from driftwatch.storage.database import Database
from driftwatch.storage.performance_results import performance_results
from driftwatch.storage.results import feature_results
from naive import (
    naive_category_counts,
    naive_hellinger,
    naive_numeric_bin_counts,
    naive_psi,
    naive_psi_edges,
    naive_reference_categories,
    naive_share,
)

START = datetime(2026, 3, 2)  # a Monday, naive UTC
DAYS = 3
PER_DAY = 400
CATEGORIES = ["a", "b", "c", "d"]

CONFIG = """\
storage: state/dw.duckdb
monitors:
  m:
    predictions:
      path: preds/*.parquet
      features: [x1, x2, colour]
      prediction: score
    reference:
      path: ref.parquet
      prediction: score
      target: y
    features:
      numeric: [x1, x2]
      categorical: [colour]
    window: 1d
    min_rows: 50
    task: binary_classification
    labels:
      path: labels/*.parquet
      timestamp: labelled_at
    performance:
      min_labels: 50
      min_coverage: 0.1
"""


def _served(rng: np.random.Generator, day: int) -> list[datetime]:
    """Times of one day's rows: the first exactly at the window's start, the last one microsecond before its
    end, and one more exactly at the end (it belongs to the next window)."""
    start = START + timedelta(days=day)
    inside = [start + timedelta(seconds=int(s)) for s in rng.integers(1, 86399, PER_DAY - 3)]
    return [start, *inside, start + timedelta(days=1) - timedelta(microseconds=1), start + timedelta(days=1)]


def _frame(rng: np.random.Generator, n: int, shift: float, unseen: float) -> dict[str, Any]:
    x1 = rng.normal(shift, 1.0 + shift / 2, n)
    x2 = rng.exponential(2.0, n)
    x2[rng.random(n) < 0.05 + shift / 10] = np.nan
    colour: list[str | None] = list(rng.choice(CATEGORIES, n, p=[0.4, 0.3, 0.2, 0.1]))
    for i in np.flatnonzero(rng.random(n) < unseen):
        colour[i] = "new"
    for i in np.flatnonzero(rng.random(n) < 0.03):
        colour[i] = None
    score = 1.0 / (1.0 + np.exp(-(x1 - 0.2)))
    return {"x1": x1, "x2": x2, "colour": colour, "score": score}


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _run_project(tmp_path_factory.mktemp("stats"), CONFIG)


def _run_project(root: Path, config: str) -> dict[str, Any]:
    """Write the reference, DAYS prediction files and their labels, run one cycle, read back what it stored."""
    rng = np.random.default_rng(14)
    ref = _frame(rng, 3000, 0.0, 0.0)
    ref["y"] = (rng.random(3000) < ref["score"]).astype(np.int64)
    pl.DataFrame(ref).write_parquet(root / "ref.parquet")
    (root / "preds").mkdir()
    (root / "labels").mkdir()
    rows = []
    for day in range(DAYS):
        served = _served(rng, day)
        frame = _frame(rng, len(served), shift=0.3 * day, unseen=0.05 * day)
        ids = [f"d{day}-{i}" for i in range(len(served))]
        pl.DataFrame({"request_id": ids, "timestamp": served, **frame}).write_parquet(
            root / "preds" / f"{day}.parquet"
        )
        label = (rng.random(len(served)) < frame["score"]).astype(np.int64)
        pl.DataFrame(
            {"request_id": ids, "label": label, "labelled_at": [t + timedelta(hours=2) for t in served]}
        ).write_parquet(root / "labels" / f"{day}.parquet")
        rows.append(pl.DataFrame({"ts": served, **frame, "label": label}))
    (root / "driftwatch.yml").write_text(config)
    settings = load_settings(root / "driftwatch.yml")
    mon = settings.monitor("m")
    db = Database(settings.storage, settings.database)
    with db:
        run_cycle(db, mon, now=(START + timedelta(days=DAYS + 1)).replace(tzinfo=UTC))
        features = feature_results(db.cursor(), monitor="m")
        performance = performance_results(db.cursor(), monitor="m")
    return {
        "ref": ref,
        "rows": pl.concat(rows),
        "features": features,
        "performance": performance,
        "bins": mon.psi_bins,
    }


def _window(stored: dict[str, Any], day: int) -> pl.DataFrame:
    start = START + timedelta(days=day)
    rows: pl.DataFrame = stored["rows"]
    return rows.filter((pl.col("ts") >= start) & (pl.col("ts") < start + timedelta(days=1)))


def _iso(day: int) -> str:
    return (START + timedelta(days=day)).isoformat() + "Z"


def _numeric_oracle(ref: np.ndarray, cur: np.ndarray, bins: int) -> dict[str, float]:
    ref_valid, cur_valid = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    edges = naive_psi_edges(ref_valid.tolist(), bins)
    ref_counts = naive_numeric_bin_counts(ref.tolist(), edges)
    cur_counts = naive_numeric_bin_counts(cur.tolist(), edges)
    ks = scipy.stats.ks_2samp(ref_valid, cur_valid, method="auto")
    return {
        "psi": naive_psi(ref_counts, cur_counts),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "js_distance": float(scipy.spatial.distance.jensenshannon(ref_counts, cur_counts, base=2)),
        "hellinger": naive_hellinger(ref_counts, cur_counts),
        "wasserstein_norm": scipy.stats.wasserstein_distance(ref_valid, cur_valid) / float(np.std(ref_valid)),
        "missing_share_reference": naive_share(ref_counts[-1], len(ref)),
        "missing_share_current": naive_share(cur_counts[-1], len(cur)),
    }


def _categorical_oracle(ref: list[str | None], cur: list[str | None]) -> dict[str, float]:
    categories, ref_counts = naive_reference_categories(ref)
    cur_counts = naive_category_counts(cur, categories)
    table = np.array([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    chi2 = scipy.stats.chi2_contingency(table, correction=False)
    return {
        "psi": naive_psi(ref_counts, cur_counts),
        "chi2_statistic": float(chi2.statistic),
        "chi2_pvalue": float(chi2.pvalue),
        "js_distance": float(scipy.spatial.distance.jensenshannon(ref_counts, cur_counts, base=2)),
        "hellinger": naive_hellinger(ref_counts, cur_counts),
        "missing_share_reference": naive_share(ref_counts[-1], len(ref)),
        "missing_share_current": naive_share(cur_counts[-1], len(cur)),
        "unseen_share": naive_share(cur_counts[-2], len(cur)),
    }


@pytest.mark.parametrize("day", range(DAYS))
def test_window_rows_are_exactly_start_inclusive_end_exclusive(stored: dict[str, Any], day: int) -> None:
    window = _window(stored, day)
    # Day 0 has PER_DAY - 1 rows (its end row belongs to day 1); later days also take the previous end row.
    assert window.height == (PER_DAY - 1 if day == 0 else PER_DAY)
    rows = {r["feature"]: r["rows"] for r in stored["features"] if r["window_start"] == _iso(day)}
    assert rows == dict.fromkeys(("x1", "x2", "colour", "raw_prediction"), window.height)


def test_the_row_exactly_at_the_last_end_opens_a_window_of_its_own(stored: dict[str, Any]) -> None:
    rows = {r["feature"]: r["rows"] for r in stored["features"] if r["window_start"] == _iso(DAYS)}
    assert rows == dict.fromkeys(("x1", "x2", "colour", "raw_prediction"), 1)


@pytest.mark.parametrize("day", range(DAYS))
@pytest.mark.parametrize(("feature", "column"), [("x1", "x1"), ("x2", "x2"), ("raw_prediction", "score")])
def test_stored_numeric_statistics_match_scipy_and_the_naive_twins(
    stored: dict[str, Any], day: int, feature: str, column: str
) -> None:
    window = _window(stored, day)
    oracle = _numeric_oracle(
        np.asarray(stored["ref"][column], dtype=np.float64),
        window.get_column(column).fill_null(np.nan).to_numpy().astype(np.float64),
        stored["bins"],
    )
    row = next(r for r in stored["features"] if r["feature"] == feature and r["window_start"] == _iso(day))
    got = {k: row[k] for k in oracle}
    for name, expected in oracle.items():
        assert got[name] == pytest.approx(expected, rel=1e-9, abs=1e-12), (name, got[name], expected)


@pytest.mark.parametrize("day", range(DAYS))
def test_stored_categorical_statistics_match_scipy_and_the_naive_twins(
    stored: dict[str, Any], day: int
) -> None:
    window = _window(stored, day)
    oracle = _categorical_oracle(list(stored["ref"]["colour"]), window.get_column("colour").to_list())
    row = next(r for r in stored["features"] if r["feature"] == "colour" and r["window_start"] == _iso(day))
    for name, expected in oracle.items():
        assert row[name] == pytest.approx(expected, rel=1e-9, abs=1e-12), (name, row[name], expected)


def _missing_pvalue(ref_missing: int, ref_rows: int, cur_missing: int, cur_rows: int) -> float:
    """The missing-rate test as documented: Fisher's exact test on the 2×2 table when the window expects fewer
    than EXACT_BELOW_EXPECTED missing or present rows, else Pearson's chi² without correction."""
    table = [[ref_missing, ref_rows - ref_missing], [cur_missing, cur_rows - cur_missing]]
    expected = cur_rows * ref_missing / ref_rows
    if min(expected, cur_rows - expected) < EXACT_BELOW_EXPECTED:
        return float(scipy.stats.fisher_exact(table).pvalue)
    return float(scipy.stats.chi2_contingency(table, correction=False).pvalue)


@pytest.mark.parametrize("day", range(DAYS))
def test_stored_adjusted_pvalues_are_benjamini_hochberg_over_the_inputs_family(
    stored: dict[str, Any], day: int
) -> None:
    """One family per window: the inputs' KS / chi² p-values and their missing-rate tests (x1 has no missing
    values on either side, so no test), adjusted by Benjamini–Hochberg (scipy's)."""
    window = _window(stored, day)
    rows = {r["feature"]: r for r in stored["features"] if r["window_start"] == _iso(day)}
    ref = stored["ref"]
    family = {
        "x1": rows["x1"]["ks_pvalue"],
        "x2": rows["x2"]["ks_pvalue"],
        "colour": rows["colour"]["chi2_pvalue"],
        "missing x2": _missing_pvalue(
            int(np.isnan(ref["x2"]).sum()), len(ref["x2"]), window["x2"].is_nan().sum(), window.height
        ),
        "missing colour": _missing_pvalue(
            sum(v is None for v in ref["colour"]),
            len(ref["colour"]),
            window["colour"].null_count(),
            window.height,
        ),
    }
    adjusted = dict(
        zip(family, scipy.stats.false_discovery_control(list(family.values()), method="bh"), strict=True)
    )
    for feature in ("x1", "x2", "colour"):
        assert rows[feature]["pvalue_adjusted"] == pytest.approx(adjusted[feature], rel=1e-9), feature
    # The model's score is its own family of one (no missing scores): adjusting leaves its p-value as is.
    assert rows["raw_prediction"]["pvalue_adjusted"] == rows["raw_prediction"]["ks_pvalue"]


def _realized(label: np.ndarray, score: np.ndarray) -> dict[str, float]:
    predicted = (score >= 0.5).astype(np.int64)
    return {
        "roc_auc": skm.roc_auc_score(label, score),
        "accuracy": skm.accuracy_score(label, predicted),
        "precision": skm.precision_score(label, predicted, zero_division=0),
        "recall": skm.recall_score(label, predicted, zero_division=0),
        "f1": skm.f1_score(label, predicted, zero_division=0),
        "log_loss": skm.log_loss(label, score, labels=[0, 1]),
        "brier": skm.brier_score_loss(label, score),
    }


def _estimated(ref: dict[str, Any], score: np.ndarray) -> dict[str, float]:
    """CBPE from its definition, with sklearn's isotonic regression as the calibrator."""
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(ref["score"], ref["y"])
    p = iso.predict(score)
    predicted = score >= 0.5
    tp, fp = p[predicted].sum(), (1 - p[predicted]).sum()
    fn, tn = p[~predicted].sum(), (1 - p[~predicted]).sum()
    # Expected AUC: expected concordant (positive above negative) pairs over expected pairs, i != j.
    above = np.sign(score[:, None] - score[None, :]) * 0.5 + 0.5
    pair = p[:, None] * (1 - p)[None, :]
    np.fill_diagonal(pair, 0.0)
    return {
        "estimated_roc_auc": float((pair * above).sum() / pair.sum()),
        "estimated_accuracy": float((tp + tn) / score.size),
        "estimated_precision": float(tp / (tp + fp)),
        "estimated_recall": float(tp / (tp + fn)),
        "estimated_f1": float(2 * tp / (2 * tp + fp + fn)),
    }


@pytest.mark.parametrize("day", range(DAYS))
def test_stored_performance_metrics_match_sklearn(stored: dict[str, Any], day: int) -> None:
    window = _window(stored, day)
    label, score = window["label"].to_numpy(), window["score"].to_numpy()
    oracle = _realized(label, score) | _estimated(stored["ref"], score)
    got = {
        r["metric"]: r
        for r in stored["performance"]
        if r["window_start"] == _iso(day) and r["segment"] == "*"
    }
    assert set(got) == set(oracle)
    for metric, expected in oracle.items():
        assert got[metric]["value"] == pytest.approx(expected, rel=1e-9, abs=1e-12), metric
        assert got[metric]["n_predictions"] == window.height
    assert got["roc_auc"]["n_labels"] == window.height


NOT_STATISTICS = {"monitor", "model_version", "segment", "window_start", "window_end", "feature", "kind"}
NOT_STATISTICS |= {"rows", "status", "reason"}


def test_every_stored_statistic_has_an_oracle_here(stored: dict[str, Any]) -> None:
    """A statistic added to the pipeline fails this test until it gets an oracle above."""
    covered = set(_numeric_oracle(np.arange(3.0), np.arange(3.0), 2)) | set(_categorical_oracle(["a"], ["a"]))
    covered |= {"pvalue_adjusted"}
    stored_names = {k for row in stored["features"] for k in row} - NOT_STATISTICS
    assert stored_names <= covered, stored_names - covered


def test_labels_exactly_at_min_labels_and_coverage_exactly_at_min_coverage_are_judged(tmp_path: Path) -> None:
    """Through a real cycle: every row is labelled (coverage exactly 1.0 = min_coverage), day 0 has
    PER_DAY - 1 labels and later days PER_DAY = min_labels. The gate opens exactly at both bars."""
    config = CONFIG.replace("min_labels: 50", f"min_labels: {PER_DAY}").replace(
        "min_coverage: 0.1", "min_coverage: 1.0"
    )
    assert config != CONFIG
    result = _run_project(tmp_path, config)
    auc = {
        r["window_start"]: r
        for r in result["performance"]
        if r["metric"] == "roc_auc" and r["segment"] == "*"
    }
    assert (auc[_iso(0)]["n_labels"], auc[_iso(0)]["status"]) == (PER_DAY - 1, "insufficient_labels")
    for day in range(1, DAYS):
        assert (auc[_iso(day)]["n_labels"], auc[_iso(day)]["coverage"]) == (PER_DAY, 1.0)
        assert auc[_iso(day)]["status"] in ("ok", "degraded"), auc[_iso(day)]
