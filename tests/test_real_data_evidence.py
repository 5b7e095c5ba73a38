"""A small run of benchmarks/real_data_evidence.py (issue 12, item 7): the RAND HIE data set as a new user has
it, a subpopulation shift from day 6 on, `driftwatch run` as a subprocess with the defaults.

What the data say (measured on the rows by the script, not assumed here): the chronic disease count moves a
lot (KS D ≈ 0.27 against the reference), the other features barely (≤ 0.04). So: the moved feature must be
flagged after the change and not before, and the unmoved ones must stay quiet on both sides.

On the main of 2026-12-06 before issue 12, the boolean feature drifted in every window (the reference CSV's
True/False against the Parquet booleans) and the minimal config ingested nothing (the reference's record_id
was inferred as a feature): the categorical and minimal cases failed there (docs/real-data-evidence.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "real_data_evidence.py"
DAYS, CHANGE_DAY = 12, 6
MOVED, UNMOVED = 0.15, 0.05  # KS D (numeric) or total variation (categorical) against the reference
NUMERIC = {
    "coinsurance_pct",
    "log_incentive",
    "log_max_deductible",
    "physical_limitation",
    "chronic_diseases",
}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("statsmodels")
    out = tmp_path_factory.mktemp("real") / "evidence.json"
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--days",
            str(DAYS),
            "--change-day",
            str(CHANGE_DAY),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def moved(report: dict[str, Any], side: str) -> dict[str, float]:
    """Each feature's measured movement against the reference on one side of the change."""
    return {f: next(v for k, v in t.items() if k.endswith(side)) for f, t in report["data"]["truth"].items()}


def flagged_windows(entry: dict[str, Any], side: str) -> int:
    counts = entry[side]["counts"]
    return counts.get("warn", 0) + counts.get("drift", 0)


def test_the_data_move_only_where_the_mechanism_says(report: dict[str, Any]) -> None:
    before, after = moved(report, "before"), moved(report, "after")
    assert all(v < UNMOVED for v in before.values()), before
    assert {f for f, v in after.items() if v >= MOVED} == {"chronic_diseases"}, after
    assert {f for f, v in after.items() if v >= UNMOVED} == {"chronic_diseases"}, after


EXPLICIT = pytest.param("explicit", id="explicit")
MINIMAL = pytest.param("minimal", id="minimal")


@pytest.mark.parametrize("variant", [EXPLICIT, MINIMAL])
def test_the_moved_feature_is_flagged_after_the_change_and_not_before(
    report: dict[str, Any], variant: str
) -> None:
    features = report["variants"][variant]["features"]
    movers = [name for name, v in moved(report, "after").items() if v >= MOVED]
    assert movers
    for name in movers:
        entry = features[name]
        assert entry["before"]["judged"] == CHANGE_DAY and entry["after"]["judged"] == DAYS - CHANGE_DAY, (
            entry
        )
        assert flagged_windows(entry, "before") <= 1, (name, entry)
        assert entry["after"]["flagged_share"] >= 0.8, (name, entry)


@pytest.mark.parametrize("variant", [EXPLICIT, MINIMAL])
def test_unmoved_numeric_features_stay_quiet(report: dict[str, Any], variant: str) -> None:
    features = report["variants"][variant]["features"]
    quiet = [name for name in NUMERIC if moved(report, "after")[name] < UNMOVED]
    assert len(quiet) == 4
    for name in quiet:
        for side in ("before", "after"):
            assert features[name][side]["judged"] > 0, (name, side, features[name])
            assert flagged_windows(features[name], side) <= 1, (name, side, features[name])


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param("explicit", id="explicit"),
        pytest.param("minimal", id="minimal"),
    ],
)
def test_unmoved_categorical_features_stay_quiet(report: dict[str, Any], variant: str) -> None:
    features = report["variants"][variant]["features"]
    for name in set(moved(report, "after")) - NUMERIC:
        for side in ("before", "after"):
            assert features[name][side]["judged"] > 0, (name, side, features[name])
            assert flagged_windows(features[name], side) <= 1, (name, side, features[name])


def test_the_minimal_config_judges_the_configured_features_only(report: dict[str, Any]) -> None:
    stored = set(report["variants"]["minimal"]["features"])
    assert stored == set(report["variants"]["explicit"]["features"]), stored
    assert "record_id" not in stored and "any_visit" not in stored


def test_performance_is_judged_only_with_enough_labels_and_the_estimate_is_always_there(
    report: dict[str, Any],
) -> None:
    perf = report["variants"]["explicit"]["performance"]
    assert perf["judged_metrics"] == ["roc_auc"]
    windows = list(perf["windows"].values())
    assert len(windows) == DAYS
    for w in windows:
        auc = w["roc_auc"]
        if auc["n_labels"] < 100:  # the default performance.min_labels
            assert auc["status"] == "insufficient_labels", w
        else:
            assert auc["status"] in ("ok", "degraded") and auc["value"] is not None, w
        assert w["estimated_roc_auc"]["status"] == "estimate" and w["estimated_roc_auc"]["value"] is not None
    # Labels arrive 3-10 days late: the last three days have none yet, the first ones all of theirs.
    assert all(w["roc_auc"]["n_labels"] == 0 for w in windows[-3:])
    assert windows[0]["roc_auc"]["status"] != "insufficient_labels"
    # The shift moves the case mix, not the model's errors: the sicker members are easier to rank, realized
    # AUC on every label rises, and no window after the change may read as degraded.
    facts = report["data"]["realized_auc"]
    assert facts["after"] > facts["before"], facts
    assert all(w["roc_auc"]["status"] != "degraded" for w in windows[CHANGE_DAY:]), windows[CHANGE_DAY:]
