"""Evidence that performance verdicts don't cry wolf and do catch a real AUC drop (issue 12, item 5).

Run:  .venv/bin/python benchmarks/performance_evidence.py [--quick] [--seed N] [--json PATH]

Everything goes through the functions the pipeline calls: `measure_baseline` once per simulated reference (value,
DeLong / Wilson / delta-method standard errors, the DerSimonian–Laird spread of 20 consecutive pieces) and
`judge_window` per window with the default `PerformanceSettings` (one-sided 95 %, tolerance 0, spread on, the
label gate). Nothing is re-implemented here, so a change to the verdict shows up in these numbers.

The world (binormal, the textbook ROC model): a row is positive with probability `prevalence`; its latent
score is N(d, 1) if positive and N(0, 1) if not, so the population AUC is Φ(d/√2). The model logs the
calibrated probability of the reference world, expit(d·s − d²/2 + logit(prevalence)): a monotone function of
s, so the AUC is unchanged, and a threshold of 0.5 gives realistic accuracy, precision, recall and F1.

- **No change.** Windows from the reference's world. Any `degraded` is a false alarm.
- **Drop.** Concept drift: positives' latent mean falls to d' with Φ(d'/√2) = AUC − drop, while the model (the
  score function) stays the one fitted on the reference. AUC falls by `drop`; accuracy-like metrics move with it.
- **Heterogeneous world.** Each window (and each of 20 time-ordered pieces of the reference) has its own AUC,
  drawn around the mean with a between-window sd, as real weeks differ by more than sampling error. Shows what
  the reference spread (τ²) is for: without it such windows raise false alarms beyond the budget.

Seeds: reference r of a world (AUC, prevalence, between-window sd) is drawn from (seed, world, r), so scenarios of
the same world share their references (a paired comparison, and each reference is measured once); its windows
from (seed, scenario name, r). Many references with few windows each: the reference's own sampling error is
part of every verdict, so a false-alarm rate measured against one reference says little.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit, ndtri

from driftwatch.config.performance import PerformanceSettings
from driftwatch.performance.baseline import Baseline, judge_window, measure_baseline
from driftwatch.performance.metrics import BINARY, METRICS_BY_TASK, compute_metrics
from driftwatch.performance.uncertainty import metric_intervals
from driftwatch.performance.verdict import PerformanceGate, Tolerance

DEFAULT_SEED: Final[int] = 20_261_206
REFERENCE_ROWS: Final[int] = 30_000
REFERENCE_PIECES: Final[int] = 20  # time-ordered pieces of a heterogeneous reference
BINARY_METRICS: Final[tuple[str, ...]] = METRICS_BY_TASK[BINARY]
# How every window is judged: the defaults (AUC), each binary metric alone, all seven together (Bonferroni),
# and the old default's fixed tolerance of 0.05 AUC on top of the new test, for comparison.
MODES: Final[tuple[str, ...]] = (
    "default",
    *(f"only {m}" for m in BINARY_METRICS),
    "all seven",
    "tolerance 0.05",
)


@dataclass(frozen=True)
class Scenario:
    name: str
    auc: float = 0.97
    drop: float = 0.0
    prevalence: float = 0.3
    labels: int = 1_000
    between_sd: float = 0.0  # window-to-window sd of the true AUC (heterogeneous world)
    references: int = 100
    windows: int = 20  # per reference
    modes: tuple[str, ...] = MODES


@dataclass
class Result:
    scenario: Scenario
    windows: int = 0
    degraded: dict[str, int] = field(default_factory=dict)
    insufficient: dict[str, int] = field(default_factory=dict)
    no_spread_degraded: int = 0  # the default mode with the reference spread switched off
    mean_window_auc: float = 0.0
    mean_reference_auc: float = 0.0

    def rate(self, mode: str) -> float:
        return self.degraded.get(mode, 0) / self.windows if self.windows else math.nan


def separation(auc: float) -> float:
    """d with Φ(d/√2) = auc."""
    return float(math.sqrt(2.0) * ndtri(auc))


def draw(
    rng: np.random.Generator, n: int, prevalence: float, auc: float, model_d: float
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """n labelled rows of a world with population AUC ``auc``, scored by the model fitted to ``model_d``."""
    y = rng.random(n) < prevalence
    latent = rng.normal(np.where(y, separation(auc), 0.0), 1.0)
    score = expit(model_d * latent - model_d**2 / 2.0 + logit(prevalence))
    return y.astype(np.int64), score


def _piece_aucs(
    rng: np.random.Generator, scenario: Scenario, k: int, shift: float = 0.0
) -> NDArray[np.float64]:
    mean = scenario.auc - shift
    if scenario.between_sd == 0.0:
        return np.full(k, mean)
    return np.clip(rng.normal(mean, scenario.between_sd, k), 0.55, 0.999)


def _key(text: str) -> int:
    return sum(ord(c) * 31**i for i, c in enumerate(text)) % 2**31


@functools.lru_cache(maxsize=512)
def reference_baseline(
    seed: int, auc: float, prevalence: float, between_sd: float, index: int
) -> dict[str, Baseline]:
    """The measured baseline of reference ``index`` of a world (cached: scenarios of one world share it)."""
    world = Scenario("world", auc=auc, prevalence=prevalence, between_sd=between_sd)
    rng = np.random.default_rng([seed, _key(f"reference {auc} {prevalence} {between_sd}"), index])
    return measure_baseline(BINARY, *reference(rng, world)).baselines


def reference(rng: np.random.Generator, scenario: Scenario) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """A time-ordered reference: 20 consecutive pieces, each from its own AUC in a heterogeneous world."""
    model_d = separation(scenario.auc)
    rows = REFERENCE_ROWS // REFERENCE_PIECES
    parts = [
        draw(rng, rows, scenario.prevalence, a, model_d) for a in _piece_aucs(rng, scenario, REFERENCE_PIECES)
    ]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _judge(
    mode: str,
    y: NDArray[np.int64],
    score: NDArray[np.float64],
    baselines: dict[str, Baseline],
    values: dict[str, float],
    stderrs: dict[str, float],
    settings: PerformanceSettings,
    *,
    use_spread: bool,
) -> list[str]:
    """Statuses of the metrics judged in ``mode`` for one window."""
    judged: Sequence[str]
    tolerance = Tolerance(settings.tolerance, relative=settings.relative)
    if mode == "default":
        judged = settings.metrics or ("roc_auc",)
    elif mode == "all seven":
        judged = BINARY_METRICS
    elif mode == "tolerance 0.05":
        judged, tolerance = ("roc_auc",), Tolerance(0.05)
    else:
        judged = (mode.removeprefix("only "),)
    verdicts = judge_window(
        BINARY,
        y,
        score,
        baselines,
        judged,
        gate=PerformanceGate(settings.min_labels, settings.min_coverage),
        tolerance=tolerance,
        n_labels=int(y.size),
        coverage=1.0,
        confidence=settings.confidence,
        use_spread=use_spread,
        values=values,
        stderrs=stderrs,
    )
    return [v.status for v in verdicts.values()]


def run_scenario(scenario: Scenario, seed: int, settings: PerformanceSettings | None = None) -> Result:
    settings = settings or PerformanceSettings(metrics=("roc_auc",))
    result = Result(
        scenario, degraded=dict.fromkeys(scenario.modes, 0), insufficient=dict.fromkeys(scenario.modes, 0)
    )
    model_d = separation(scenario.auc)
    window_aucs, reference_aucs = [], []
    for r in range(scenario.references):
        baselines = reference_baseline(seed, scenario.auc, scenario.prevalence, scenario.between_sd, r)
        rng = np.random.default_rng([seed, _key(scenario.name), r])
        reference_aucs.append(baselines["roc_auc"].value)
        for true_auc in _piece_aucs(rng, scenario, scenario.windows, scenario.drop):
            y, score = draw(rng, scenario.labels, scenario.prevalence, float(true_auc), model_d)
            values = compute_metrics(BINARY, y, score)
            stderrs = {m: i.stderr for m, i in metric_intervals(BINARY, y, score, n_boot=0).items()}
            window_aucs.append(values["roc_auc"])
            result.windows += 1
            for mode in scenario.modes:
                statuses = _judge(
                    mode, y, score, baselines, values, stderrs, settings, use_spread=settings.reference_spread
                )
                result.degraded[mode] += "degraded" in statuses
                result.insufficient[mode] += "insufficient_labels" in statuses
            statuses = _judge("default", y, score, baselines, values, stderrs, settings, use_spread=False)
            result.no_spread_degraded += "degraded" in statuses
    result.mean_window_auc = float(np.nanmean(window_aucs))
    result.mean_reference_auc = float(np.mean(reference_aucs))
    return result


def scenarios(quick: bool) -> list[Scenario]:
    scale: dict[str, Any] = {"references": 10, "windows": 20} if quick else {}
    table_scale: dict[str, Any] = (
        {"references": 10, "windows": 10} if quick else {"references": 100, "windows": 5}
    )
    main = [
        Scenario("no change", **scale),
        Scenario("drop 0.01", drop=0.01, **scale),
        Scenario("issue: 0.971 -> 0.960, 1,100 labels", auc=0.971, drop=0.011, labels=1_100, **scale),
        Scenario("heterogeneous, no change", between_sd=0.005, modes=("default",), **scale),
        Scenario("heterogeneous, drop 0.01", between_sd=0.005, drop=0.01, modes=("default",), **scale),
    ]
    table = [
        Scenario(
            f"prevalence {p:g}, {n:,} labels, {'drop 0.01' if d else 'no change'}",
            drop=d,
            prevalence=p,
            labels=n,
            modes=("default",),
            **table_scale,
        )
        for p in (0.1, 0.2, 0.3, 0.5)
        for n in (300, 1_000, 3_000)
        for d in (0.0, 0.01)
    ]
    return main + table


def machine() -> dict[str, str]:
    try:
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in subprocess.run(
                ["lscpu"], capture_output=True, text=True, check=False
            ).stdout.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown"
    return {"cpu": cpu, "python": platform.python_version(), "numpy": np.__version__}


def summarise(result: Result) -> dict[str, Any]:
    return {
        "scenario": asdict(result.scenario),
        "windows": result.windows,
        "degraded_rate": {m: result.rate(m) for m in result.scenario.modes},
        "insufficient_rate": {m: result.insufficient[m] / result.windows for m in result.scenario.modes},
        "default_without_spread_rate": result.no_spread_degraded / result.windows,
        "mean_window_auc": result.mean_window_auc,
        "mean_reference_auc": result.mean_reference_auc,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer windows: a smoke run of a few seconds")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", type=Path, help="write the numbers here as JSON")
    args = parser.parse_args(argv)
    started, cpu_started = time.perf_counter(), time.process_time()
    results = []
    for scenario in scenarios(args.quick):
        result = run_scenario(scenario, args.seed)
        results.append(summarise(result))
        rates = ", ".join(f"{m} {result.rate(m):.1%}" for m in scenario.modes)
        print(
            f"{scenario.name}: {result.windows} windows, mean AUC {result.mean_window_auc:.4f} "
            f"(reference {result.mean_reference_auc:.4f}); degraded: {rates}; "
            f"default without spread {result.no_spread_degraded / result.windows:.1%}",
            flush=True,
        )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"seed {args.seed}, {elapsed:.0f} s wall, {cpu:.0f} s CPU, {machine()}")
    if args.json:
        payload = {
            "command": "python benchmarks/performance_evidence.py" + (" --quick" if args.quick else ""),
            "seed": args.seed,
            "settings": asdict(replace(PerformanceSettings(), metrics=("roc_auc",))),
            "machine": machine(),
            "elapsed_s": round(elapsed, 1),
            "cpu_s": round(cpu, 1),
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
