"""The peers' table (issue 17, item 6): Evidently, NannyML and whylogs against driftwatch and the scipy loop.

Every contender is a whole process on the same two Parquet files (perf_drift.py's workload: 1M rows each,
20 numeric + 2 categorical features; the current file drifts a little in two thirds of the features), run
under GNU time for wall, CPU (user + system, all threads) and peak RSS. Each peer process also prints the
seconds of its own phases (imports, reading, computing), so start-up is visible apart from the work.

The peers are NOT driftwatch dependencies: they live in a throwaway virtual environment of their own, e.g.

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install uv
    /tmp/peers/bin/uv pip install --python /tmp/peers/bin/python evidently nannyml whylogs "pandas<3" ipython

(evidently 0.7 and nannyml 0.13 import names pandas 3 removed; whylogs' drift module imports IPython.)

    .venv/bin/python benchmarks/peers.py --peers-python /tmp/peers/bin/python --rows 1000000 --repeats 2

What each computes (they are not the same statistics, which the table says next to the times):

- driftwatch: `driftwatch compare --format json`: exact KS (D and p, scipy's method="auto"), PSI (10 quantile
  bins), Wasserstein, Jensen-Shannon, Hellinger per numeric feature; PSI and chi² per categorical one.
- scipy loop: `scipy.stats.ks_2samp` + a numpy PSI per numeric feature, PSI + chi² per categorical one
  (perf_drift.py's `--baseline-child`, polars to read).
- Evidently (`Report([DataDriftPreset()])`): its defaults for > 1000 rows: normed Wasserstein distance for
  numeric columns, Jensen-Shannon for categorical ones; and `num_method="ks"` (scipy's exact ks_2samp).
- NannyML (`UnivariateDriftCalculator`, one chunk): Kolmogorov-Smirnov and Jensen-Shannon for continuous
  columns, chi² and Jensen-Shannon for categorical ones. Its KS is approximate for references of 10,000 rows
  or more: the reference is binned into 10,000 equal-width bins (`calculation_method="auto"`). Its alerts
  come from thresholds learned over the reference's chunks; with one chunk there is no spread to learn, so
  the "drifted" count it prints is not a verdict (the time is what this table is for).
- whylogs (`why.log` of each frame, then `calculate_drift_scores`): profiles with KLL quantile sketches and
  frequent-item sketches; KS from the sketches' quantiles (approximate), chi² from the frequent items.

Results go to benchmarks/results/peers.json (git-ignored) and stdout; the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from perf_drift import (  # noqa: E402  (perf_drift is a sibling script, not a package)
    VENV_BIN,
    ChildRun,
    feature_frame,
    load,
    machine,
    run_child,
)

RESULTS = HERE / "results" / "peers.json"

# Each peer script: argv = reference, current. Prints one JSON line with its phase times and a summary of what
# it found, so a run that computed nothing cannot pass for a fast one.
_PREAMBLE = """
import json, sys, time
t0 = time.perf_counter()
"""

EVIDENTLY = (
    _PREAMBLE
    + """
import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
t1 = time.perf_counter()
ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
t2 = time.perf_counter()
method = sys.argv[3]
preset = DataDriftPreset() if method == "default" else DataDriftPreset(num_method=method)
snapshot = Report([preset]).run(current_data=cur, reference_data=ref)
result = snapshot.dict()
t3 = time.perf_counter()
metrics = result["metrics"]
drifted = [m for m in metrics if m["metric_name"].startswith("DriftedColumnsCount")]
columns = [m for m in metrics if m["metric_name"].startswith("ValueDrift")]
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "compute": t3 - t2, "columns": len(columns),
                  "drifted": drifted[0]["value"]["count"] if drifted else None,
                  "methods": sorted({m["config"]["method"] for m in columns})}))
"""
)

NANNYML = (
    _PREAMBLE
    + """
import pandas as pd
import nannyml as nml
t1 = time.perf_counter()
ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
t2 = time.perf_counter()
calc = nml.UnivariateDriftCalculator(
    column_names=list(ref.columns),
    continuous_methods=["kolmogorov_smirnov", "jensen_shannon"],
    categorical_methods=["chi2", "jensen_shannon"],
    chunk_number=1,
).fit(ref)
result = calc.calculate(cur).filter(period="analysis").to_df()
t3 = time.perf_counter()
alerts = [c for c in result.columns if c[-1] == "alert"]
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "compute": t3 - t2,
                  "columns": len({c[0] for c in alerts}),
                  "drifted": len({c[0] for c in alerts if bool(result[c].iloc[0])})}))
"""
)

WHYLOGS = (
    _PREAMBLE
    + """
import os
os.environ.setdefault("WHYLOGS_NO_ANALYTICS", "True")
import pandas as pd
import whylogs as why
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores
t1 = time.perf_counter()
ref, cur = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
t2 = time.perf_counter()
ref_view = why.log(ref).view()
cur_view = why.log(cur).view()
t3 = time.perf_counter()
scores = calculate_drift_scores(target_view=cur_view, reference_view=ref_view, with_thresholds=True)
t4 = time.perf_counter()
found = {k: v for k, v in scores.items() if v}
print(json.dumps({"import": t1 - t0, "read": t2 - t1, "profile": t3 - t2, "drift": t4 - t3,
                  "compute": t4 - t2, "columns": len(found),
                  "drifted": sum(v.get("drift_category") == "DRIFT" for v in found.values()),
                  "algorithms": sorted({str(v.get("algorithm")) for v in found.values()})}))
"""
)


def contenders(peers_python: str, ref: Path, cur: Path) -> dict[str, list[str]]:
    """Name -> command line, each reading the same two files."""
    dw = str(VENV_BIN / "driftwatch")
    return {
        "driftwatch compare (process)": [dw, "compare", str(ref), str(cur), "--format", "json"],
        "scipy/numpy loop (process)": [
            sys.executable,
            str(HERE / "perf_drift.py"),
            "--baseline-child",
            str(ref),
            str(cur),
        ],
        "NannyML UnivariateDriftCalculator (KS, JS / chi², JS)": [
            peers_python,
            "-c",
            NANNYML,
            str(ref),
            str(cur),
        ],
        "whylogs profiles + calculate_drift_scores": [peers_python, "-c", WHYLOGS, str(ref), str(cur)],
        "Evidently DataDriftPreset (defaults: Wasserstein / Jensen-Shannon)": [
            peers_python,
            "-c",
            EVIDENTLY,
            str(ref),
            str(cur),
            "default",
        ],
        "Evidently DataDriftPreset(num_method='ks')": [
            peers_python,
            "-c",
            EVIDENTLY,
            str(ref),
            str(cur),
            "ks",
        ],
    }


def summary(name: str, stdout: str) -> dict[str, Any]:
    """What the process printed: the peers' phase JSON, driftwatch's and the loop's feature counts."""
    data = json.loads(stdout.strip().splitlines()[-1])
    if name.startswith("driftwatch"):
        statuses = [f["status"] for f in data["features"]]
        return {"columns": len(statuses), **{s: statuses.count(s) for s in sorted(set(statuses))}}
    if name.startswith("scipy"):
        return {"columns": len(data)}
    return dict(data)


def write_files(folder: Path, rows: int) -> tuple[Path, Path]:
    """perf_drift's reference (seed 42, no drift) and compare current (seed 2000, drift), as Parquet."""
    ref, cur = folder / f"reference_{rows}.parquet", folder / f"current_{rows}.parquet"
    if not ref.exists():
        feature_frame(rows, 42, drift=False).write_parquet(ref)
    if not cur.exists():
        feature_frame(rows, 2000, drift=True).write_parquet(cur)
    return ref, cur


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--peers-python", default="/tmp/peers/bin/python", help="python of the peers' own venv")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=1, help="runs per contender, interleaved")
    p.add_argument("--only", default="", help="comma-separated name prefixes to run (default: all)")
    p.add_argument("--files", default=None, help="folder for the two Parquet files (default: a temp folder)")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per process")
    p.add_argument("--out", default=str(RESULTS))
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    folder = Path(args.files) if args.files else Path(tempfile.mkdtemp(prefix="dw-peers-"))
    folder.mkdir(parents=True, exist_ok=True)
    ref, cur = write_files(folder, args.rows)
    env = {
        **os.environ,
        "DO_NOT_TRACK": "1",  # Evidently's telemetry
        "EVIDENTLY_DISABLE_TELEMETRY": "1",
        "WHYLOGS_NO_ANALYTICS": "True",
        "NUMBA_CACHE_DIR": str(folder / "numba_cache"),
    }
    commands = contenders(args.peers_python, ref, cur)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    commands = {k: v for k, v in commands.items() if not wanted or any(k.startswith(w) for w in wanted)}
    # One untimed driftwatch run fills its numba cache (as any second run of the command would find it).
    subprocess.run(
        commands.get("driftwatch compare (process)", ["true"]), env=env, capture_output=True, check=False
    )
    runs: dict[str, list[ChildRun]] = {k: [] for k in commands}
    loads: dict[str, list[str]] = {k: [] for k in commands}
    for _ in range(args.repeats):
        for name, cmd in commands.items():
            loads[name].append(load())
            print(f"[{name}] load {loads[name][-1]}", flush=True)
            try:
                run = run_child(cmd, env)
            except RuntimeError as exc:
                print(f"  failed: {str(exc)[-600:]}", flush=True)
                continue
            runs[name].append(run)
            print(
                f"  wall {run.seconds:.2f} s, CPU {run.cpu_seconds:.2f} s, peak RSS {run.peak_mb:.0f} MB; "
                f"{summary(name, run.stdout)}",
                flush=True,
            )
    table = {
        name: {
            "wall_seconds": [r.seconds for r in rs],
            "cpu_seconds": [r.cpu_seconds for r in rs],
            "peak_rss_mb": [r.peak_mb for r in rs],
            "median_wall": statistics.median(r.seconds for r in rs) if rs else None,
            "median_cpu": statistics.median(r.cpu_seconds for r in rs) if rs else None,
            "max_peak_rss_mb": max(r.peak_mb for r in rs) if rs else None,
            "phases": [summary(name, r.stdout) for r in rs],
            "load_at_start": loads[name],
        }
        for name, rs in runs.items()
    }
    peers_versions = subprocess.run(
        [
            args.peers_python,
            "-c",
            "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
            "['evidently', 'nannyml', 'whylogs', 'pandas', 'numpy', 'scipy']}))",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    out = {
        "rows": args.rows,
        "repeats": args.repeats,
        "machine": machine(),
        "python": platform.python_version(),
        "peer_versions": json.loads(peers_versions) if peers_versions else None,
        "results": table,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print("\n| contender | wall s | CPU s | peak RSS MB |\n|---|---:|---:|---:|")
    for name, row in table.items():
        if row["median_wall"] is not None:
            print(
                f"| {name} | {row['median_wall']:.2f} | {row['median_cpu']:.2f} | {row['max_peak_rss_mb']:.0f} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
