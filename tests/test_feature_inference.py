"""Which columns become features when the config does not list them: `predictions.features` decides when it is
a list of columns; otherwise identifiers, timestamps, labels and outputs are never inferred as features, and
the run summary and `compare` say what was left out and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import driftwatch
from driftwatch.cli import app
from driftwatch.config.loading import load_settings
from driftwatch.errors import SourceError
from driftwatch.pipeline.cycle import run_cycle
from driftwatch.pipeline.reference import infer_features
from driftwatch.sources.columns import ColumnFacts, identifier_share
from driftwatch.sources.columns import infer_features as infer_from_facts
from driftwatch.storage.database import Database
from driftwatch.storage.results import feature_results

START = datetime(2026, 3, 2, tzinfo=UTC)
NOW = START + timedelta(days=3)


def credit_frame(seed: int, n: int, start: int = 0) -> pl.DataFrame:
    """A credit data set as a user has it: a row id, a customer key, a timestamp, a date, features, a label."""
    rng = np.random.default_rng(seed)
    when = [START + timedelta(seconds=int(s)) for s in np.sort(rng.integers(0, 3 * 86400, n))]
    return pl.DataFrame(
        {
            "id": np.arange(start, start + n),
            "customer_key": [f"C{start + i:07d}" for i in range(n)],
            "timestamp": [w.strftime("%Y-%m-%dT%H:%M:%SZ") for w in when],
            "signup_date": [
                (START - timedelta(days=int(d))).date().isoformat() for d in rng.integers(0, 900, n)
            ],
            "age": rng.integers(18, 80, n),
            # Whole euros, nearly every value distinct, yet a measurement: not an identifier (not dense).
            "income": rng.integers(20_000, 2_000_000, n),
            "debt_ratio": rng.random(n),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "label": rng.integers(0, 2, n),
        }
    )


def write_project(tmp_path: Path, predictions: str) -> Path:
    """A reference CSV and three daily Parquet log files with plain columns (as in issue 12)."""
    (tmp_path / "logs").mkdir()
    credit_frame(1, 2000).write_csv(tmp_path / "reference.csv")
    logs = credit_frame(2, 1200, start=10_000).drop("label", "signup_date").rename({"id": "request_id"})
    logs = logs.with_columns(pl.col("request_id").cast(pl.String))
    for day in range(3):
        lo = (START + timedelta(days=day)).strftime("%Y-%m-%d")
        logs.filter(pl.col("timestamp").str.starts_with(lo)).write_parquet(
            tmp_path / "logs" / f"{lo}.parquet"
        )
    (tmp_path / "driftwatch.yml").write_text(
        f"""\
storage: dw.duckdb
monitors:
  credit:
    predictions:
      path: logs/*.parquet
{predictions}
    reference:
      path: reference.csv
    min_rows: 100
"""
    )
    return tmp_path / "driftwatch.yml"


def test_predictions_features_list_decides_the_features(tmp_path: Path) -> None:
    """Issue 12, found 4: without a `features:` section the reference's `id` column became a feature (and
    drifted in every window, since the logs' ids are new). A `predictions.features` list now decides."""
    config = write_project(tmp_path, "      features: [age, income, debt_ratio, region]")
    settings = load_settings(config)
    with Database(settings.storage) as db:
        summary = run_cycle(db, settings.monitor("credit"), now=NOW)
        assert summary.features == ("age", "income", "debt_ratio", "region")
        assert {e.name: e.reason for e in summary.excluded} == {
            name: "not in predictions.features"
            for name in ("id", "customer_key", "timestamp", "signup_date", "label")
        }
        stored = {r["feature"] for r in feature_results(db.cursor(), monitor="credit")}
        assert stored == {"age", "income", "debt_ratio", "region"}


def test_without_a_list_identifiers_timestamps_and_labels_are_left_out(tmp_path: Path) -> None:
    """The default log schema (features in a JSON column) gives no list: the reference's columns are
    inferred, and the id, the customer key, both date columns and the label are not features."""
    config = write_project(tmp_path, "")
    settings = load_settings(config)
    with Database(settings.storage) as db:
        inferred = infer_features(db.cursor(), settings.monitor("credit"))
    assert inferred.numeric == ("age", "income", "debt_ratio")
    assert inferred.categorical == ("region",)
    assert {e.name: e.reason for e in inferred.excluded} == {
        "id": "identifier: 100 % unique",
        "customer_key": "identifier: 100 % unique",
        "timestamp": "configured as predictions.timestamp",
        "signup_date": "timestamp",
        "label": "label/target by name",
    }


@pytest.mark.parametrize("fmt", ["csv", "parquet", "ndjson"])
def test_every_reference_format_is_inferred_alike(tmp_path: Path, fmt: str) -> None:
    frame = credit_frame(3, 600).with_columns(
        pl.col("timestamp").str.to_datetime(time_zone="UTC") if fmt == "parquet" else pl.col("timestamp"),
        pl.Series("uuid", [f"{i:032x}" for i in range(600)]),
        pl.Series("y_pred", np.linspace(0, 1, 600)),
    )
    path = tmp_path / f"reference.{fmt}"
    getattr(frame, f"write_{fmt}")(path)
    (tmp_path / "driftwatch.yml").write_text(
        f"monitors:\n  m:\n    predictions: {{path: 'logs/*', prediction: score}}\n    reference: {path.name}\n"
        "    labels: {path: 'labels/*', label: is_default}\n    task: binary_classification\n"
    )
    settings = load_settings(tmp_path / "driftwatch.yml")
    with Database(tmp_path / "dw.duckdb") as db:
        inferred = infer_features(db.cursor(), settings.monitor("m"))
    assert sorted(inferred.numeric) == ["age", "debt_ratio", "income"]
    assert inferred.categorical == ("region",)
    reasons = {e.name: e.reason for e in inferred.excluded}
    assert reasons["uuid"] == "identifier: 100 % unique"
    assert reasons["y_pred"] == "model output by name"
    assert reasons["signup_date"] == "timestamp"


def test_listed_feature_missing_from_the_reference_names_the_key(tmp_path: Path) -> None:
    config = write_project(tmp_path, "      features: [age, salary]")
    settings = load_settings(config)
    with (
        Database(settings.storage) as db,
        pytest.raises(SourceError, match=r"'salary' \(listed in predictions"),
    ):
        infer_features(db.cursor(), settings.monitor("credit"))


def test_run_summary_says_what_was_left_out(tmp_path: Path) -> None:
    config = write_project(tmp_path, "")
    done = CliRunner().invoke(app, ["run", "--config", str(config), "--monitor", "credit"])
    assert (
        "excluded from the features: id (identifier: 100 % unique), customer_key (identifier: 100 % unique)"
        in (done.output)
    ), done.output
    assert "signup_date (timestamp)" in done.output and "label (label/target by name)" in done.output


# ---------------------------------------------------------------------------------------------------------
# The rule itself, on its boundaries
# ---------------------------------------------------------------------------------------------------------


def text(name: str, non_null: int, distinct: int) -> ColumnFacts:
    return ColumnFacts(name, "categorical", non_null=non_null, distinct=distinct)


def test_identifier_needs_fifty_values_and_99_percent_distinct() -> None:
    assert identifier_share(text("code", 49, 49)) is None  # too few values to tell
    assert identifier_share(text("code", 50, 50)) == 1.0
    assert identifier_share(text("code", 100, 99)) == 0.99  # exactly at the bar
    assert identifier_share(text("code", 100, 98)) is None
    boolean = ColumnFacts("flag", "categorical", boolean=True, non_null=50, distinct=50)
    assert identifier_share(boolean) is None


def test_a_near_unique_integer_is_an_identifier_only_by_name_or_density() -> None:
    def integer(name: str, low: float, high: float) -> ColumnFacts:
        return ColumnFacts(
            name, "numeric", integer=True, non_null=1000, distinct=1000, minimum=low, maximum=high
        )

    assert identifier_share(integer("income", 20_000, 2_000_000)) is None
    assert identifier_share(integer("row", 0, 999)) == 1.0  # a row number: dense
    assert identifier_share(integer("row", 0, 1999)) == 1.0  # range exactly 2 × distinct
    assert identifier_share(integer("row", 0, 2000)) is None
    for name in ("id", "ID", "customer_id", "customerId", "order-key", "uuid"):
        assert identifier_share(integer(name, 0, 10**12)) == 1.0, name
    for name in ("paid", "valid", "monkey", "grid"):
        assert identifier_share(integer(name, 0, 10**12)) is None, name
    floats = ColumnFacts("amount", "numeric", non_null=1000, distinct=1000, minimum=0.0, maximum=9.0)
    assert identifier_share(floats) is None


def test_a_listed_column_is_a_feature_whatever_it_looks_like() -> None:
    facts = [text("customer_key", 100, 100), ColumnFacts("x", "numeric")]
    inferred = infer_from_facts(facts, {}, listed=["customer_key"])
    assert inferred.categorical == ("customer_key",) and inferred.numeric == ()
    assert [str(e) for e in inferred.excluded] == ["x (not in the features)"]


# ---------------------------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------------------------


def test_compare_leaves_out_the_id_and_the_timestamp(tmp_path: Path) -> None:
    """Issue 12, found 4: `compare` with defaults flagged `id`, and took a `timestamp` column for a categorical
    with 200 capped categories (`unseen_share` 1.0, PSI ≈ 0, `ok`)."""
    ref, cur = tmp_path / "ref.csv", tmp_path / "cur.csv"
    credit_frame(1, 2000).write_csv(ref)
    credit_frame(2, 2000, start=50_000).write_csv(cur)
    result = driftwatch.compare(ref, cur)
    names = [f.name for f in result.features]
    assert names == ["age", "income", "debt_ratio", "region"]
    assert {e.name: e.reason for e in result.excluded} == {
        "id": "identifier: 100 % unique",
        "customer_key": "identifier: 100 % unique",
        "timestamp": "timestamp",
        "signup_date": "timestamp",
        "label": "label/target by name",
    }
    assert not result.drift
    doc = result.to_dict()
    assert {"name": "id", "reason": "identifier: 100 % unique"} in doc["excluded"]

    done = CliRunner().invoke(app, ["compare", str(ref), str(cur)])
    assert done.exit_code == 0, done.output
    assert "excluded: id (identifier: 100 % unique), customer_key (identifier: 100 % unique)" in done.output
    as_json = CliRunner().invoke(app, ["compare", str(ref), str(cur), "--format", "json"])
    assert json.loads(as_json.output)["excluded"] == doc["excluded"]


def test_compare_features_option_decides(tmp_path: Path) -> None:
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.parquet"
    credit_frame(1, 2000).write_parquet(ref)
    credit_frame(2, 2000, start=50_000).write_parquet(cur)
    result = driftwatch.compare(ref, cur, features=["region", "age", "id"])
    assert [(f.name, f.kind) for f in result.features] == [
        ("age", "numeric"),
        ("id", "numeric"),
        ("region", "categorical"),
    ]
    assert result.decision.feature("id").status == "drift"  # the user asked for it
    done = CliRunner().invoke(
        app, ["compare", str(ref), str(cur), "--features", "age,region", "--format", "json"]
    )
    assert done.exit_code == 0, done.output
    assert [f["name"] for f in json.loads(done.output)["features"]] == ["age", "region"]
    bad = CliRunner().invoke(app, ["compare", str(ref), str(cur), "--features", "age,nope"])
    assert bad.exit_code == 2 and "nope" in bad.output


def test_a_categorical_over_the_cap_says_so_and_is_judged_on_top_categories_plus_other() -> None:
    from driftwatch.stats.profile import DEFAULT_MAX_CATEGORIES

    rng = np.random.default_rng(4)
    # 300 codes with a skewed mix (not an identifier: repeated values), then the window's mix moves.
    codes = [f"z{i:03d}" for i in range(300)]
    weights = 1.0 / np.arange(1, 301)
    ref = pl.DataFrame({"zip": rng.choice(codes, 20_000, p=weights / weights.sum())})
    cur = pl.DataFrame({"zip": rng.choice(codes, 20_000, p=weights[::-1] / weights.sum())})
    row = driftwatch.compare(ref, cur).to_dict()["features"][0]
    assert f"over the category cap ({DEFAULT_MAX_CATEGORIES})" in row["reason"]
    assert "300 categories" in row["reason"]
    assert row["status"] == "drift"
    same = driftwatch.compare(ref, ref).to_dict()["features"][0]
    assert same["status"] == "ok" and "over the category cap" in same["reason"]


def test_run_summary_names_a_categorical_over_the_cap(tmp_path: Path) -> None:
    config = write_project(tmp_path, "      features: [age, region, branch]")
    rng = np.random.default_rng(7)
    reference = pl.read_csv(tmp_path / "reference.csv")
    branches = [f"b{i:03d}" for i in rng.integers(0, 260, reference.height)]
    reference.with_columns(pl.Series("branch", branches)).write_csv(tmp_path / "reference.csv")
    # The logs carry the feature too: a file without it is unreadable and the run degraded (exit 3).
    for log in sorted((tmp_path / "logs").glob("*.parquet")):
        day = pl.read_parquet(log)
        codes = [f"b{i:03d}" for i in rng.integers(0, 260, day.height)]
        day.with_columns(pl.Series("branch", codes)).write_parquet(log)
    done = CliRunner().invoke(app, ["run", "--config", str(config)])
    assert done.exit_code == 0, done.output
    assert "branch: over the category cap (200): more categories in the reference" in done.output
    assert "windows computed: 0" not in done.output
    assert "region: over" not in done.output


@pytest.mark.parametrize("fmt", ["csv", "parquet", "ndjson"])
def test_pipeline_and_compare_leave_out_the_same_columns(tmp_path: Path, fmt: str) -> None:
    """One rule, two readers (DuckDB for the pipeline, Arrow/polars for compare): the same decisions."""
    frame = credit_frame(5, 800).with_columns(
        pl.Series("note", [f"free text {i}" for i in range(800)]),
        pl.Series("when", [f"2026/03/{1 + i % 28:02d} 10:{i % 60:02d}" for i in range(800)]),
        pl.Series("row", np.arange(800) * 2),  # dense enough: range 1599 <= 2 × 800
        pl.Series("amount_cents", np.arange(800) * 3),  # not dense, not id-named: a feature
    )
    path = tmp_path / f"reference.{fmt}"
    getattr(frame, f"write_{fmt}")(path)
    (tmp_path / "driftwatch.yml").write_text(
        f"monitors:\n  m:\n    predictions: {{path: 'logs/*', timestamp: served_at}}\n    reference: {path.name}\n"
    )
    settings = load_settings(tmp_path / "driftwatch.yml")
    with Database(tmp_path / "dw.duckdb") as db:
        pipeline = infer_features(db.cursor(), settings.monitor("m"))
    compared = driftwatch.compare(path, path)
    assert [str(e) for e in compared.excluded] == [str(e) for e in pipeline.excluded]
    assert {f.name for f in compared.features} == {*pipeline.numeric, *pipeline.categorical}
    assert dict((e.name, e.reason) for e in pipeline.excluded) == {
        "id": "identifier: 100 % unique",
        "customer_key": "identifier: 100 % unique",
        "timestamp": "timestamp",
        "signup_date": "timestamp",
        "label": "label/target by name",
        "note": "identifier: 100 % unique",
        "when": "timestamp",
        "row": "identifier: 100 % unique",
    }
