"""`driftwatch validate` and `driftwatch.validate`: the metric gate, as a real process and from Python."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score

import driftwatch
from driftwatch.errors import InputError
from driftwatch.validation import parse_bars


def scored(seed: int, n: int, noise: float, shift: float = 0.0) -> pl.DataFrame:
    """A binary model's data: its score is the true probability seen through `noise` (more noise, lower AUC)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) + shift
    label = (rng.random(n) < 1.0 / (1.0 + np.exp(-2.0 * x))).astype(np.int64)
    score = 1.0 / (1.0 + np.exp(-2.0 * (x + rng.normal(size=n) * noise)))
    return pl.DataFrame({"x": x, "z": rng.normal(size=n), "label": label, "score": score})


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("validate")
    paths = {"train": root / "train.parquet", "good": root / "good.parquet", "bad": root / "bad.csv"}
    scored(1, 3000, 0.1).write_parquet(paths["train"])
    scored(2, 2000, 0.2).write_parquet(paths["good"])
    scored(3, 2000, 3.0, shift=1.5).write_csv(paths["bad"])
    return paths


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftwatch.cli", "validate", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_passing_gate_exits_0_and_writes_json_and_html(files: dict[str, Path], tmp_path: Path) -> None:
    out_json, out_html = tmp_path / "out.json", tmp_path / "out.html"
    done = run_cli(
        "--reference", str(files["train"]), "--current", str(files["good"]), "--target", "label",
        "--prediction", "score", "--threshold", "auc=0.8", "--threshold", "accuracy=0.7",
        "--drift-bar", "0.5", "--json", str(out_json), "--html", str(out_html),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "passed" in done.stdout
    payload = json.loads(out_json.read_text())
    good = pl.read_parquet(files["good"])
    expected_auc = roc_auc_score(good["label"], good["score"])
    auc = payload["checks"][0]
    assert payload["passed"] is True and payload["task"] == "binary_classification"
    assert auc["metric"] == "roc_auc" and auc["threshold"] == 0.8 and auc["passed"] is True
    assert auc["value"] == pytest.approx(expected_auc, abs=1e-12)
    assert auc["low"] < auc["value"] < auc["high"]
    assert payload["current"]["accuracy"]["value"] == pytest.approx(
        accuracy_score(good["label"], good["score"] >= 0.5), abs=1e-12
    )
    assert payload["drift"]["passed"] is True and payload["drift"]["share"] == 0.0
    page = out_html.read_text()
    assert "passed" in page and "roc_auc &gt;= 0.8" in page


def test_failing_gate_exits_1_and_names_the_bar(files: dict[str, Path]) -> None:
    done = run_cli(
        "--reference", str(files["train"]), "--current", str(files["bad"]), "--target", "label",
        "--prediction", "score", "--threshold", "auc=0.8", "--threshold", "log_loss=5", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    payload = json.loads(done.stdout)
    assert payload["passed"] is False
    by_metric = {c["metric"]: c for c in payload["checks"]}
    assert by_metric["roc_auc"]["passed"] is False and by_metric["log_loss"]["passed"] is True
    assert payload["failures"] == [by_metric["roc_auc"]["reason"].join(["roc_auc >= 0.8: ", ""])]


def test_drift_bar_alone_fails_on_shifted_features(files: dict[str, Path]) -> None:
    done = run_cli(
        "--reference", str(files["train"]), "--current", str(files["bad"]), "--target", "label",
        "--prediction", "score", "--drift-bar", "0", "--format", "json",
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    payload = json.loads(done.stdout)
    assert payload["drift"]["drifting"] == ["x"] and payload["checks"] == []


@pytest.mark.parametrize(
    ("bar", "message"),
    [
        ("acc=0.9", "threshold 'acc': not a metric of binary_classification"),
        ("auc=1.5", "threshold auc=1.5: out of range, roc_auc lies in [0, 1]"),
        ("auc=high", "threshold 'auc': 'high' is not a number"),
        ("auc", "threshold 'auc': expected METRIC=VALUE"),
    ],
)
def test_bad_thresholds_exit_2_with_the_reason(files: dict[str, Path], bar: str, message: str) -> None:
    done = run_cli(
        "--reference", str(files["train"]), "--current", str(files["good"]), "--target", "label",
        "--prediction", "score", "--threshold", bar,
    )  # fmt: skip
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_columns_and_files_exit_2(files: dict[str, Path], tmp_path: Path) -> None:
    missing_column = run_cli(
        "--reference", str(files["train"]), "--current", str(files["good"]), "--target", "y",
        "--prediction", "score", "--threshold", "auc=0.8",
    )  # fmt: skip
    assert missing_column.returncode == 2 and "current has no column 'y' (--target)" in missing_column.stderr
    missing_file = run_cli(
        "--reference", str(tmp_path / "nope.parquet"), "--current", str(files["good"]), "--target", "label",
        "--prediction", "score", "--threshold", "auc=0.8",
    )  # fmt: skip
    assert missing_file.returncode == 2 and "reference file not found" in missing_file.stderr


def test_python_api_regression_and_multiclass(files: dict[str, Path]) -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(size=1500)
    frame = pl.DataFrame({"f": y, "y": y, "pred": y + rng.normal(size=1500) * 0.5})
    result = driftwatch.validate(frame, frame, target="y", prediction="pred", thresholds={"mae": 0.3})
    assert result.task == "regression" and not result.passed
    assert result.checks[0].value.value == pytest.approx(mean_absolute_error(frame["y"], frame["pred"]))
    classes = rng.integers(0, 3, size=900)
    predicted = np.where(rng.random(900) < 0.8, classes, rng.integers(0, 3, size=900))
    mc = pl.DataFrame({"label": classes.astype(str), "pred": predicted.astype(str)})
    multi = driftwatch.validate(
        mc, mc, target="label", prediction="pred", thresholds=["accuracy=0.8", "f1=0.8"]
    )
    assert multi.task == "multiclass_classification"
    assert [c.bar.metric for c in multi.checks] == ["accuracy", "f1_macro"]
    assert multi.current["accuracy"].value == pytest.approx(accuracy_score(mc["label"], mc["pred"]))
    with pytest.raises(InputError, match="nothing to validate"):
        driftwatch.validate(files["train"], files["good"], target="label", prediction="score", thresholds=[])


def test_bars_parse_by_task_and_refuse_duplicates() -> None:
    assert [b.rule for b in parse_bars("multiclass_classification", ["auc=0.9", "recall=0.5"])] == [
        "roc_auc_ovr_macro >= 0.9",
        "recall_macro >= 0.5",
    ]
    assert parse_bars("regression", {"rmse": 3})[0].rule == "rmse <= 3"
    with pytest.raises(InputError, match="out of range, rmse is a loss"):
        parse_bars("regression", ["rmse=-1"])
    with pytest.raises(InputError, match="two bars"):
        parse_bars("binary_classification", ["auc=0.8", "roc_auc=0.9"])
    with pytest.raises(InputError, match="not a finite number"):
        parse_bars("binary_classification", ["auc=nan"])


def test_html_escapes_what_the_user_named_and_marks_a_close_bar(files: dict[str, Path]) -> None:
    from driftwatch.reports.validation import render_validation

    frame = pl.read_parquet(files["good"]).rename({"label": "<b>y</b>", "score": "<script>s</script>"})
    value = roc_auc_score(frame["<b>y</b>"], frame["<script>s</script>"])
    result = driftwatch.validate(
        frame, frame, target="<b>y</b>", prediction="<script>s</script>", thresholds={"auc": round(value, 3)}
    )
    check = result.checks[0]
    assert check.close and check.to_dict()["close"] is True  # a bar at the value lies inside its interval
    page = render_validation(result, "<img src=x>", "cur")
    assert "<script>s</script>" not in page and "<img src=x>" not in page
    assert "&lt;img src=x&gt;" in page and "bar is inside the interval" in page


def test_text_labels_without_their_positive_label_exit_2_naming_the_values(tmp_path: Path) -> None:
    """Labels "yes"/"no" scored against the default positive label 1 would count every row as a negative (an
    AUC of nothing, a gate that passes a bad model): refused, naming the values and the option."""
    frame = scored(4, 800, 0.3)
    text = frame.with_columns(
        pl.when(pl.col("label") == 1).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("label")
    )
    text.write_parquet(tmp_path / "text.parquet")
    args = ["--reference", str(tmp_path / "text.parquet"), "--current", str(tmp_path / "text.parquet"),
            "--target", "label", "--prediction", "score", "--threshold", "auc=0.7"]  # fmt: skip
    refused = run_cli(*args)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "'no', 'yes'" in refused.stderr and "--positive-label" in refused.stderr
    named = run_cli(*args, "--positive-label", "yes")
    assert named.returncode == 0, named.stdout + named.stderr


def test_a_three_class_target_is_not_binary_because_the_current_data_holds_two(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    classes = rng.integers(0, 3, size=900)
    predicted = np.where(rng.random(900) < 0.8, classes, rng.integers(0, 3, size=900)).astype(np.float64)
    reference = pl.DataFrame({"label": classes, "pred": predicted})
    two = classes < 2  # the current data happens to hold classes 0 and 1 only
    current = pl.DataFrame({"label": classes[two], "pred": predicted[two]})
    result = driftwatch.validate(
        reference, current, target="label", prediction="pred", thresholds=["accuracy=0.5"]
    )
    assert result.task == "multiclass_classification"
    # Both sides with two classes and class ids for a prediction: ambiguous, the task must be named.
    reference.filter(pl.col("label") < 2).write_parquet(tmp_path / "ref.parquet")
    current.write_parquet(tmp_path / "cur.parquet")
    args = ["--reference", str(tmp_path / "ref.parquet"), "--current", str(tmp_path / "cur.parquet"),
            "--target", "label", "--prediction", "pred", "--threshold", "accuracy=0.5"]  # fmt: skip
    ambiguous = run_cli(*args)
    assert ambiguous.returncode == 2 and "set --task" in ambiguous.stderr, ambiguous.stderr
    named = run_cli(*args, "--task", "multiclass_classification")
    assert named.returncode == 0, named.stdout + named.stderr
