"""A fast, fixed-seed run of benchmarks/performance_evidence.py: no crying wolf, a 0.01 AUC drop caught.

The full evidence (2,000 windows per scenario) is in docs/decision-evidence.md, "Performance verdicts"; this is
the same code on 600 windows (40 references × 15 windows, AUC 0.97, prevalence 0.3, 1,000 labels a window), so a
change to the verdict that makes unchanged windows alarm, or lets a 0.01 AUC drop through, fails here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from scipy.stats import binom

from driftwatch.config.performance import PerformanceSettings

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "performance_evidence.py"


def _load_script() -> ModuleType:
    # benchmarks/ is not a package; register the module before running it, as dataclasses look it up.
    spec = importlib.util.spec_from_file_location("performance_evidence", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


pe = _load_script()

SEED = 7
SCALE = {"references": 40, "windows": 15}
WINDOWS = SCALE["references"] * SCALE["windows"]
BUDGET = 0.05
# If the true false-alarm rate were 5 %, more than this many of 600 windows would alarm in < 1 run in 1,000.
MAX_FALSE_ALARMS = int(binom.ppf(0.999, WINDOWS, BUDGET))
ACCURACY_LIKE = ("only accuracy", "only precision", "only recall", "only f1", "only log_loss", "only brier")
DEFAULTS = PerformanceSettings(metrics=("roc_auc",))


@pytest.fixture(scope="module")
def no_change() -> object:
    return pe.run_scenario(pe.Scenario("no change", **SCALE), SEED, DEFAULTS)


@pytest.fixture(scope="module")
def drop() -> object:
    return pe.run_scenario(pe.Scenario("drop 0.01", drop=0.01, **SCALE), SEED, DEFAULTS)


def test_defaults_are_what_the_evidence_assumes() -> None:
    settings = PerformanceSettings()
    assert (settings.confidence, settings.tolerance, settings.reference_spread) == (0.95, 0.0, True)


def test_no_change_stays_within_the_false_alarm_budget(no_change: object) -> None:
    result = no_change
    assert result.windows == WINDOWS  # type: ignore[attr-defined]
    assert result.degraded["default"] <= MAX_FALSE_ALARMS, result.degraded  # type: ignore[attr-defined]
    # each accuracy-like metric judged alone, and all seven together (Bonferroni), keep the same budget
    for mode in (*ACCURACY_LIKE, "all seven"):
        assert result.degraded[mode] <= MAX_FALSE_ALARMS, (mode, result.degraded)  # type: ignore[attr-defined]
    assert result.insufficient["default"] == 0  # type: ignore[attr-defined]


def test_a_drop_of_001_auc_at_097_is_flagged_in_at_least_half_the_windows(drop: object) -> None:
    result = drop
    assert 0.955 < result.mean_window_auc < 0.965  # type: ignore[attr-defined]
    assert result.rate("default") >= 0.5, result.degraded  # type: ignore[attr-defined]
    # The old default, a fixed tolerance of 0.05 AUC, never sees it: the bug of issue 12, item 3.
    assert result.rate("tolerance 0.05") == 0.0  # type: ignore[attr-defined]


def test_the_bound_can_fail() -> None:
    """A broken setting (z = 0: any drop at all is "significant") blows the false-alarm bound."""
    broken = PerformanceSettings(metrics=("roc_auc",), confidence=0.5)
    result = pe.run_scenario(
        pe.Scenario("no change", modes=("default",), references=5, windows=30), SEED, broken
    )
    assert result.degraded["default"] > binom.ppf(0.999, result.windows, BUDGET)


def test_reference_spread_keeps_heterogeneous_windows_near_the_budget() -> None:
    """Windows whose true AUC varies (sd 0.005) alarm far too often if the verdict ignores that spread."""
    result = pe.run_scenario(
        pe.Scenario("heterogeneous, no change", between_sd=0.005, modes=("default",), **SCALE), SEED, DEFAULTS
    )
    assert result.no_spread_degraded > MAX_FALSE_ALARMS
    assert result.degraded["default"] < result.no_spread_degraded


@pytest.mark.slow
def test_the_quick_script_runs_end_to_end(tmp_path: Path) -> None:
    """The one command in docs/decision-evidence.md, in its --quick form, writes the JSON it documents."""
    import json
    import subprocess

    out = tmp_path / "evidence.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--seed", "3", "--json", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(out.read_text())
    assert payload["seed"] == 3 and payload["settings"]["confidence"] == 0.95
    names = [r["scenario"]["name"] for r in payload["results"]]
    assert names[:2] == ["no change", "drop 0.01"] and len(names) == 5 + 24
    assert all(0.0 <= r["degraded_rate"]["default"] <= 1.0 for r in payload["results"])
    assert "no change: 200 windows" in done.stdout
